"""Small helpers shared by the leaderboard tests: reading runs, headless Chromium."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.fixtures.paths import unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def read_results(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "results.json").read_text(encoding="utf-8"))


def headline(results: dict, lang: str) -> dict:
    return next(m for m in results["metrics"] if m["headline"] and m["lang"] == lang)


def copy_run(src: Path, dest: Path) -> Path:
    """results.json + samples.jsonl only: what the leaderboard reads."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("results.json", "samples.jsonl"):
        shutil.copy2(Path(src) / name, dest / name)
    return dest


def chromium(args: list[str], profile: Path, timeout: int = 90) -> subprocess.CompletedProcess:
    """Run headless Chromium once with a fresh profile; skip the test when it is not installed."""
    if not CHROMIUM.is_file():
        unavailable(f"browser test: {CHROMIUM} not found (apt-get install chromium) - the HTML page is not checked "
                    f"in a browser")
    profile.mkdir(parents=True, exist_ok=True)
    cmd = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def make_latency_run(template: Path, dest: Path, model_id: str, first_audio: list[float]) -> Path:
    """A schema-valid results.json + samples.jsonl for the latency task.

    The latency task is not implemented in the committed harness yet (another engineer is adding it):
    these rows are SYNTHETIC, shaped like the metric rows that task writes (p50/p95/mean of seconds to
    first text token / first unit / first audio, tokens before first audio, with a "unit" field) and
    with per-sample timing values in samples.jsonl. They go through the same loader as real files.
    """
    import numpy as np

    data = read_results(template)
    data["task"] = {**data["task"], "name": "latency", "aggregation": "corpus"}
    data["model"] = {"id": model_id, "class": "synthetic", "options": {}}
    rows = []
    for i, audio in enumerate(first_audio):
        rows.append({"id": str(i), "lang": "zh", "status": "ok", "first_text_token_s": round(0.05 + 0.01 * i, 4),
                     "first_unit_s": round(audio * 0.6, 4), "first_audio_s": audio,
                     "tokens_before_first_audio": 10 + i})
    metrics = []
    for name, unit in (("tokens_before_first_audio", "tokens"), ("first_text_token_s", "seconds"),
                       ("first_unit_s", "seconds"), ("first_audio_s", "seconds")):
        values = np.array([r[name] for r in rows], dtype=float)
        for agg in ("p50", "p95", "mean"):
            value = float(values.mean()) if agg == "mean" else float(np.percentile(values, int(agg[1:])))
            metrics.append({"name": name, "lang": "zh", "aggregation": agg, "unit": unit, "value": value,
                            "ci95": None, "n": len(rows),
                            "headline": agg == "p50" and name in ("tokens_before_first_audio", "first_audio_s")})
    data["metrics"] = metrics
    data["counts"] = {**data["counts"], "samples": len(rows), "scored": len(rows), "failed": 0}
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "results.json").write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    (dest / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return dest


def make_run(template: Path, dest: Path, *, task: str, dataset: str, metrics: list[dict], model_id: str = "system",
             name: str | None = None, judges: dict | None = None, offline_judges: bool = False,
             judge_overrides: dict | None = None) -> Path:
    """A results.json with the given metric rows (SYNTHETIC values), the rest of a real run's file around them
    (provenance, counts, samples.jsonl): the same loader reads it as any results file."""
    data = read_results(template)
    data["task"] = {**data["task"], "name": task}
    data["dataset"] = {**data["dataset"], "name": dataset}
    data["model"] = {"id": model_id, "class": "synthetic", "options": {}, **({"name": name} if name else {})}
    data["judges"] = judges or {}
    data["options"] = {**data["options"], "offline_judges": offline_judges, "judges": judge_overrides or {}}
    data["metrics"] = [{"aggregation": "mean", "headline": True, "n": 40, **m} for m in metrics]
    copy_run(template, dest)
    (dest / "results.json").write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return dest
