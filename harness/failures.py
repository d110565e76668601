"""How failures enter the numbers (see harness.errors for whose failure is whose).

- A **system** failure stays in the headline at the metric's worst value for that sample (``RULES``).
- A **measurement** failure is left out of the headline, counted, and marks the result incomplete.
Every metric row carries ``coverage`` (scored / total, failures by kind), its ``failure_rule``, and, under
the ``scored_only`` label, the value over scored samples alone (a diagnosis, never the headline).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from harness.errors import MEASUREMENT, SYSTEM
from harness.metrics import AGGREGATIONS, aggregate, bootstrap_interval

# The rule each metric applies to a system failure (written into every metric row as ``failure_rule``).
RULES = {
    "rate": "system failure: every reference token counts as deleted (rate 1.0 for the utterance; corpus: its "
            "reference length is added to the errors)",
    "judge_score": "system failure (no answer, empty answer, no speech): the judge scale's minimum, as URO-Bench "
                   "scores empty answers",
    "reference_match": "system failure (no answer, empty text answer, no speech): 0, no match with the reference",
    "off_target_ratio": "system failure (no answer): counted as off-target",
    "text_speech": "no speech: every token of the text channel counts as deleted",
    "mos": "system failure (no speech): the MOS scale's minimum",
    "latency": "failed request: never produced audio, +inf in the percentiles (null when a percentile falls on "
               "one); the mean is over completed requests",
}
MEASUREMENT_RULE = "measurement failures (judges, network, unreadable input) are left out and make the result incomplete"


def kind_of(error: dict[str, Any] | None) -> str | None:
    return None if error is None else error.get("kind", SYSTEM)


def mark(exc: BaseException, kind: str) -> BaseException:
    """Give ``exc`` a failure kind unless it already has one (an error may know better than its stage)."""
    if getattr(exc, "kind", None) is None:
        exc.kind = kind
    return exc


def coverage(scored: int, system: int, measurement: int) -> dict[str, int]:
    return {"scored": scored, "total": scored + system + measurement, "system_failed": system,
            "measurement_failed": measurement}


def _ci(errs: np.ndarray, lens: np.ndarray, how: str, options) -> list[float] | None:
    if not options.bootstrap_resamples or not len(errs):
        return None
    return list(bootstrap_interval(errs, lens, how, n_resamples=options.bootstrap_resamples, seed=options.seed))


def rate_rows(options, base: dict[str, Any], errors: list[int], ref_lens: list[int], failed_ref_lens: list[int],
              measurement: int, headline_aggregation: str, rule: str = "rate") -> list[dict[str, Any]]:
    """Error-rate rows (both aggregations, the headline one first): scored samples, plus each system failure as
    every reference token deleted. ``failed_ref_lens``: the reference lengths of the system failures."""
    ok_e, ok_l = np.asarray(errors, dtype=np.float64), np.asarray(ref_lens, dtype=np.float64)
    fail_l = np.asarray(failed_ref_lens, dtype=np.float64)
    all_e, all_l = np.concatenate([ok_e, fail_l]), np.concatenate([ok_l, fail_l])
    rows = []
    for how in sorted(AGGREGATIONS, key=lambda a: a != headline_aggregation):
        rows.append({**base, "aggregation": how, "headline": how == headline_aggregation,
                     "value": aggregate(all_e, all_l, how) if len(all_e) else None,
                     "ci95": _ci(all_e, all_l, how, options), "n": int(len(all_e)),
                     "ref_tokens": int(all_l.sum()), "errors": int(all_e.sum()),
                     "coverage": coverage(len(ok_e), len(fail_l), measurement),
                     "scored_only": {"value": aggregate(ok_e, ok_l, how) if len(ok_e) else None,
                                     "ci95": _ci(ok_e, ok_l, how, options), "n": int(len(ok_e))},
                     "failure_rule": RULES[rule]})
    return rows


def mean_row(options, base: dict[str, Any], values: list[float], system: int, measurement: int,
             worst: float | None, rule: str) -> dict[str, Any]:
    """A mean with bootstrap interval: scored values plus ``system`` failures at ``worst``."""
    ok = np.asarray(values, dtype=np.float64)
    everything = np.concatenate([ok, np.full(system, worst, dtype=np.float64)]) if worst is not None else ok

    def stat(arr):
        ci = _ci(arr, np.ones_like(arr), "mean-utterance", options)
        return (float(arr.mean()) if len(arr) else None), ci

    value, ci = stat(everything)
    scored_value, scored_ci = stat(ok)
    return {**base, "aggregation": "mean", "value": value, "ci95": ci, "n": int(len(everything)),
            "coverage": coverage(len(ok), system, measurement),
            "scored_only": {"value": scored_value, "ci95": scored_ci, "n": int(len(ok))},
            "failure_rule": RULES[rule]}


def counts(samples: list[dict[str, Any]], manifest_problems: int) -> dict[str, Any]:
    """Failure counts of a run, by stage, reason and kind; ``complete`` is False when the measurement failed on
    any sample (or a manifest row was unreadable)."""
    by_stage: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    by_kind = {SYSTEM: 0, MEASUREMENT: 0}
    warnings = 0
    for row in samples:
        for error in _errors(row):
            by_stage[error["stage"]] = by_stage.get(error["stage"], 0) + 1
            by_reason[error["code"]] = by_reason.get(error["code"], 0) + 1
        if row["status"] == "failed":
            by_kind[kind_of(row["error"])] += 1
        warnings += bool(row.get("warnings"))
    if manifest_problems:
        by_stage["manifest"] = by_stage.get("manifest", 0) + manifest_problems
        by_reason["manifest"] = by_reason.get("manifest", 0) + manifest_problems
        by_kind[MEASUREMENT] += manifest_problems
    failed = by_kind[SYSTEM] + by_kind[MEASUREMENT]
    return {"samples": len(samples) + manifest_problems, "scored": len(samples) - (failed - manifest_problems),
            "failed": failed, "system_failed": by_kind[SYSTEM], "measurement_failed": by_kind[MEASUREMENT],
            "failed_by_stage": by_stage, "failed_by_reason": by_reason, "with_warnings": warnings,
            "complete": by_kind[MEASUREMENT] == 0}


def _errors(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A sample's failures: its error, plus each channel's (S2S rows fail per channel), once per stage+code."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for error in [row.get("error")] + [c.get("error") for c in (row.get("channels") or {}).values()]:
        if error:
            out.setdefault((error["stage"], error["code"]), error)
    return list(out.values())
