"""Resumable steps: each runs only when its output is missing; timings go to ``steps.json`` (rewritten, never
appended, so a resumed run keeps one entry per step: the run that did the work, or ``skipped``).

Steps run one after another in this process (``run``), or as a graph (``run_graph``): each step names the
steps it needs, and up to ``workers`` run at once, each in its own spawned process with ``threads`` torch
threads. On 2 cores, two one-thread trainings side by side did 1.16x the work of one two-thread training
(benchmarks/mini_steps.py); the CPT and the CPT without MT, or stage 0 and the speech data, are
independent. ``seconds_all_runs`` is wall time: the union of the steps' [start, end] intervals.
"""
from __future__ import annotations

import json
import logging
import os
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

log = logging.getLogger("training.mini_cslm")
STEP_LOG = "steps.json"


@dataclass(frozen=True)
class Step:
    name: str
    marker: Path                      # the last file the step writes: it exists = the step is done
    fn: Callable[[], object]          # picklable for a worker process: a functools.partial of a module function
    after: tuple[str, ...] = ()       # steps whose outputs it reads
    keep_going: bool = False          # a failure is recorded and the rest runs (an evaluation), not raised


def _execute(fn: Callable[[], object], marker: Path, name: str) -> tuple[dict, Exception | None]:
    """Run one step: its entry (ran, or failed with the error) and the exception, if any."""
    start = time.time()
    try:
        fn()
        if not marker.exists():
            raise RuntimeError(f"step {name} finished without writing {marker}")
    except Exception as exc:  # the caller decides: keep going, or stop the run naming the step
        return {"step": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "seconds": round(time.time() - start, 2), "started_at": round(start, 3),
                "finished_at": round(time.time(), 3)}, exc
    end = time.time()
    return {"step": name, "status": "ran", "seconds": round(end - start, 2), "started_at": round(start, 3),
            "finished_at": round(end, 3), "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "output": str(marker)}, None


def _execute_in_worker(fn: Callable[[], object], marker: Path, name: str, threads: int) -> dict:
    """``_execute`` in a step worker: the entry only (an exception may not pickle); the traceback is logged.
    The worker's torch threads are set again first: a library in an earlier step may have changed them."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    entry, exc = _execute(fn, marker, name)
    if exc is not None:
        log.error("step %s failed:\n%s", name, "".join(traceback.format_exception(exc)))
    return entry


def _worker_init(level: int) -> None:
    """A spawned step worker: the parent's log level, and it dies with the parent (a killed run must not leave
    a step writing into the folder that a resumed run redoes)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    logging.basicConfig(level=level, format="%(asctime)s %(processName)s %(name)s: %(message)s")


@contextmanager
def _environment(values: dict[str, str]):
    """``values`` in os.environ (what spawned processes inherit) for the block, then as before."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wall_seconds(entries: list[dict]) -> float:
    """Length of the union of the steps' [started_at, finished_at] intervals (entries without them: their
    seconds, as sequential)."""
    spans = sorted((e["started_at"], e["finished_at"]) for e in entries if "started_at" in e and "finished_at" in e)
    total = sum(e.get("seconds") or 0 for e in entries if "started_at" not in e)
    end = float("-inf")
    for a, b in spans:
        if b > end:
            total += b - max(a, end)
            end = b
    return round(total, 2)


class Steps:
    """Runs named steps; a step whose marker exists is skipped."""

    def __init__(self, out: Path, total: int, progress: bool = True):
        self.out = out
        self.path = out / STEP_LOG
        self.entries: dict[str, dict] = {}
        if self.path.is_file():
            self.entries = {e["step"]: e for e in json.loads(self.path.read_text(encoding="utf-8"))["steps"]}
        self.bar = tqdm(total=total, desc="mini-cslm", unit="step", disable=not progress, dynamic_ncols=True)
        self.started = time.perf_counter()
        self.order: list[str] = []  # steps.json lists the steps in this order (the graph's), not as they end

    def run(self, name: str, marker: Path, fn: Callable[[], object], keep_going: bool = False) -> bool:
        """Run ``fn`` unless ``marker`` exists (the last file the step writes). With ``keep_going`` an exception
        is recorded (status ``failed`` and its message) and False returned instead of stopping the run; the
        step runs again next time."""
        self.bar.set_postfix_str(name)
        if marker.exists():
            self._skipped(name, marker)
        else:
            log.info("step %s ...", name)
            entry, exc = _execute(fn, marker, name)
            self._record(entry)
            if exc is not None and not keep_going:
                raise exc
            if exc is not None:
                log.error("step %s failed: %s", name, exc)
        return self.entries[name]["status"] != "failed"

    def run_graph(self, steps: list[Step], workers: int = 1, threads: int = 0) -> None:
        """Every step once its ``after`` steps are done, up to ``workers`` at once (1: in this process, in list
        order); the list order is the priority. A failing step that is not ``keep_going`` stops new steps from
        starting, lets the running ones finish (nothing computed is lost), then raises naming it."""
        names = [s.name for s in steps]
        self.order = names
        for s in steps:
            unknown = [a for a in s.after if a not in names[:names.index(s.name)]]
            if unknown:
                raise ValueError(f"step {s.name} runs after {unknown}, not listed before it")
        if workers <= 1:
            for s in steps:
                self.run(s.name, s.marker, s.fn, s.keep_going)
            return
        import multiprocessing

        pending, done, fatal = list(steps), set(), None
        running: dict[Future, Step] = {}
        context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch thread pools
        # OpenMP reads OMP_NUM_THREADS when it starts in the worker: every thread's parallel regions (not only
        # the one torch.set_num_threads was called in) get ``threads``. Without it, a CPT worker ran a second
        # OpenMP thread and the two workers did 3.4 training steps per second instead of about 5.
        env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)} if threads else {}
        with _environment(env), ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init,
                                                    initargs=(logging.getLogger().getEffectiveLevel(),)) as pool:
            while pending or running:
                for s in list(pending):
                    if fatal is not None or len(running) >= workers:
                        break
                    if not set(s.after) <= done:
                        continue
                    pending.remove(s)
                    if s.marker.exists():
                        self._skipped(s.name, s.marker)
                        done.add(s.name)
                        continue
                    log.info("step %s ...", s.name)
                    running[pool.submit(_execute_in_worker, s.fn, s.marker, s.name, threads)] = s
                    self.bar.set_postfix_str(", ".join(r.name for r in running.values()))
                if not running:
                    if pending and fatal is None:  # cannot happen with the order check above
                        raise RuntimeError(f"steps {[s.name for s in pending]} wait on steps that never ran")
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    s = running.pop(future)
                    try:
                        entry = future.result()
                    except BrokenProcessPool as exc:  # killed from outside (out of memory, a signal)
                        raise RuntimeError(f"the worker process running step {s.name} died ({exc}); finished "
                                           f"steps are kept: rerun to resume") from None
                    self._record(entry)
                    if entry["status"] == "ran":
                        done.add(s.name)
                    elif not s.keep_going and fatal is None:
                        fatal = entry
        if fatal is not None:
            raise RuntimeError(f"step {fatal['step']} failed: {fatal['error']} (finished steps are kept: rerun to "
                               f"resume)")

    def failed(self) -> list[str]:
        return [e["step"] for e in self.entries.values() if e.get("status") == "failed"]

    def close(self) -> dict:
        self.bar.close()
        return self._save()

    def _skipped(self, name: str, marker: Path) -> None:
        entry = self.entries.get(name)
        if entry is None or entry.get("status") != "ran":  # keep the timing of the run that did the work
            self.entries[name] = {"step": name, "status": "skipped", "output": str(marker)}
        log.info("step %s: done already (%s)", name, marker)
        self._save()
        self.bar.update(1)

    def _record(self, entry: dict) -> None:
        self.entries[entry["step"]] = entry
        self._save()
        self.bar.update(1)
        if entry["status"] == "ran":
            log.info("step %s: %.1f s", entry["step"], entry["seconds"])

    def _save(self) -> dict:
        rank = {name: i for i, name in enumerate(self.order)}
        entries = sorted(self.entries.values(), key=lambda e: rank.get(e["step"], len(rank)))
        data = {"steps": entries,
                "seconds_this_run": round(time.perf_counter() - self.started, 2),
                "seconds_all_runs": wall_seconds(entries),  # wall time: steps side by side count once
                "step_seconds_sum": round(sum(e.get("seconds") or 0 for e in entries), 2)}
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)
        return data
