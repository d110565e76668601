"""Resumable steps: each runs only when its output is missing; timings go to ``steps.json`` (rewritten, never
appended, so a resumed run keeps one entry per step: the run that did the work, or ``skipped``)."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

log = logging.getLogger("training.mini_cslm")
STEP_LOG = "steps.json"


class Steps:
    """Runs named steps in order; ``done(path)`` decides whether a step's output already exists."""

    def __init__(self, out: Path, total: int, progress: bool = True):
        self.out = out
        self.path = out / STEP_LOG
        self.entries: dict[str, dict] = {}
        if self.path.is_file():
            self.entries = {e["step"]: e for e in json.loads(self.path.read_text(encoding="utf-8"))["steps"]}
        self.bar = tqdm(total=total, desc="mini-cslm", unit="step", disable=not progress, dynamic_ncols=True)
        self.started = time.perf_counter()

    def run(self, name: str, marker: Path, fn: Callable[[], object], keep_going: bool = False) -> bool:
        """Run ``fn`` unless ``marker`` exists (the last file the step writes). With ``keep_going`` an exception
        is recorded (status ``failed`` and its message) and False returned instead of stopping the run; the
        step runs again next time."""
        self.bar.set_postfix_str(name)
        if marker.exists():
            entry = self.entries.get(name)
            if entry is None or entry.get("status") != "ran":  # keep the timing of the run that did the work
                entry = {"step": name, "status": "skipped", "output": str(marker)}
            self.entries[name] = entry
            log.info("step %s: done already (%s)", name, marker)
        else:
            log.info("step %s ...", name)
            start = time.perf_counter()
            try:
                fn()
                if not marker.exists():
                    raise RuntimeError(f"step {name} finished without writing {marker}")
            except Exception as exc:
                if not keep_going:
                    raise
                log.error("step %s failed: %s", name, exc)
                self.entries[name] = {"step": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                                      "seconds": round(time.perf_counter() - start, 2)}
            else:
                self.entries[name] = {"step": name, "status": "ran",
                                      "seconds": round(time.perf_counter() - start, 2),
                                      "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "output": str(marker)}
                log.info("step %s: %.1f s", name, self.entries[name]["seconds"])
        self._save()
        self.bar.update(1)
        return self.entries[name]["status"] != "failed"

    def failed(self) -> list[str]:
        return [e["step"] for e in self.entries.values() if e.get("status") == "failed"]

    def close(self) -> dict:
        self.bar.close()
        return self._save()

    def _save(self) -> dict:
        data = {"steps": list(self.entries.values()),
                "seconds_this_run": round(time.perf_counter() - self.started, 2),
                "seconds_all_runs": round(sum(e.get("seconds") or 0 for e in self.entries.values()), 2)}
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)
        return data
