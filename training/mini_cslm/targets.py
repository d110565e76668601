"""The bars a mini-CSLM recipe is held to, on its board: each target names a headline figure of one harness run
(``results/<checkpoint>/<run>/results.json``), or the ratio of two runs' figures, and a bound. A missed target
is shown missed with its gap, never dropped or rescaled; ``why`` carries what limits it and what scale would
reach it (the recipe's measured evidence), ``not measured`` what did not run."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from training.mini_cslm.evals import headline
from training.recipe import RecipeError


@dataclass(frozen=True)
class Target:
    name: str                  # what the board calls it, e.g. "ASR en WER"
    run: str                   # checkpoint/run of evals.PLAN, e.g. cpt/asr-en
    metric: str                # its headline key ([channel/]name_lang, as in results/summary.json)
    max: float | None = None   # the figure must be at most this ...
    min: float | None = None   # ... or at least this (exactly one of the two)
    over: str = ""             # checkpoint/run: the figure is run's metric / over's metric (a ratio, e.g. latency)
    why: str = ""              # what limits it (measured) and what would reach it: shown beside a miss

    def bound(self) -> float:
        return self.max if self.max is not None else self.min  # type: ignore[return-value]

    def show(self, value: float) -> str:
        return f"{value:.2f}x" if self.over else f"{100 * value:.1f} %"


KEYS = tuple(f.name for f in fields(Target))  # what a recipe's target may say


def parse_targets(block: list, where: str, runs: list[str]) -> tuple[Target, ...]:
    """The recipe's ``targets`` list -> Targets; ``runs`` are the checkpoint/run names of evals.PLAN (a typo
    fails here, not after an hour of training; a run this recipe leaves out shows as not measured)."""
    out = []
    for i, spec in enumerate(block):
        at = f"{where}: targets[{i}]"
        if not isinstance(spec, dict):
            raise RecipeError(f"{at} must be a mapping ({', '.join(KEYS)})")
        unknown = sorted(set(spec) - set(KEYS))
        if unknown:
            raise RecipeError(f"{at}: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
        for key in ("name", "run", "metric"):
            if not isinstance(spec.get(key), str) or not spec[key]:
                raise RecipeError(f"{at}.{key} is required (a string)")
        for key in ("run", "over"):
            if spec.get(key) and spec[key] not in runs:
                raise RecipeError(f"{at}.{key}: unknown run {spec[key]!r}; known: {', '.join(runs)}")
        bounds = [k for k in ("max", "min") if k in spec]
        if len(bounds) != 1 or isinstance(spec[bounds[0]], bool) or not isinstance(spec[bounds[0]], (int, float)):
            raise RecipeError(f"{at}: give exactly one bound, max or min, as a number")
        for key in ("over", "why"):
            if not isinstance(spec.get(key, ""), str):
                raise RecipeError(f"{at}.{key} must be a string")
        out.append(Target(spec["name"], spec["run"], spec["metric"], spec.get("max"), spec.get("min"),
                          spec.get("over", ""), spec.get("why", "")))
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise RecipeError(f"{where}: targets: two targets share a name")
    return tuple(out)


def _figure(results: Path, run: str, metric: str) -> float | None:
    path = results / run / "results.json"
    if not path.is_file():
        return None
    return headline(json.loads(path.read_text(encoding="utf-8"))).get(metric)


def assess(targets: tuple[Target, ...], results: Path) -> list[dict[str, Any]]:
    """One row per target: the measured figure (None: its run or metric is missing), met or not, the gap."""
    rows = []
    for t in targets:
        value = _figure(results, t.run, t.metric)
        if value is not None and t.over:
            below = _figure(results, t.over, t.metric)
            value = value / below if below else None
        met = None if value is None else (value <= t.max if t.max is not None else value >= t.min)
        rows.append({**asdict(t), "value": value, "met": met,
                     "gap": None if value is None else value - t.bound()})
    return rows


def markdown(targets: tuple[Target, ...], rows: list[dict[str, Any]]) -> list[str]:
    """The board's Targets section: bound, measured, verdict and the gap in the bound's unit."""
    lines = ["| target | bound | measured | verdict | what limits it |", "|---|---:|---:|---|---|"]
    for t, row in zip(targets, rows):
        sign = "≤" if t.max is not None else "≥"
        source = f"{t.run} {t.metric}" + (f" / {t.over}" if t.over else "")
        if row["value"] is None:
            measured, verdict = "not measured", "not measured"
        else:
            measured = t.show(row["value"])
            gap = f"{abs(row['gap']):.2f}x" if t.over else f"{100 * abs(row['gap']):.1f} points"
            verdict = "met" if row["met"] else f"missed by {gap}"
        lines.append(f"| {t.name} (`{source}`) | {sign} {t.show(t.bound())} | {measured} | {verdict} | "
                     f"{'' if row['met'] else t.why} |")
    return lines


def tally(rows: list[dict[str, Any]]) -> str:
    met = sum(1 for r in rows if r["met"])
    unmeasured = sum(1 for r in rows if r["met"] is None)
    return f"{met} of {len(rows)} targets met" + (f", {unmeasured} not measured" if unmeasured else "")


def markdown_runs(targets: tuple[Target, ...], runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The Targets section over several runs of one recipe (seeds): each run's figure, the spread (largest minus
    smallest) and the verdict over the runs: met in every run, missed in every run, or met in k of n."""
    labels = list(runs)
    lines = ["| target | bound | " + " | ".join(labels) + " | spread | verdict | what limits it |",
             "|---|---:|" + "---:|" * len(labels) + "---:|---|---|"]
    for i, t in enumerate(targets):
        rows = [runs[label][i] for label in labels]
        values = [r["value"] for r in rows if r["value"] is not None]
        cells = [t.show(r["value"]) if r["value"] is not None else "not measured" for r in rows]
        spread = (f"{max(values) - min(values):.2f}x" if t.over else f"{100 * (max(values) - min(values)):.1f} points"
                  ) if len(values) > 1 else "–"
        met = sum(1 for r in rows if r["met"])
        if not values:
            verdict = "not measured"
        elif met == len(rows):
            verdict = "met in every run"
        elif met == 0:
            worst = max(abs(r["gap"]) for r in rows if r["gap"] is not None)
            verdict = "missed in every run (by up to " + (f"{worst:.2f}x" if t.over else f"{100 * worst:.1f} points") + ")"
        else:
            verdict = f"met in {met} of {len(rows)} runs"
        sign = "≤" if t.max is not None else "≥"
        source = f"{t.run} {t.metric}" + (f" / {t.over}" if t.over else "")
        lines.append(f"| {t.name} (`{source}`) | {sign} {t.show(t.bound())} | " + " | ".join(cells)
                     + f" | {spread} | {verdict} | {'' if met == len(rows) else t.why} |")
    return lines
