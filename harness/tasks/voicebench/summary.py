"""VoiceBench's leaderboard: its column order (data/leaderboard.json) and Overall (README.md at UPSTREAM_COMMIT).

``voicebench_summary(results_by_subset)`` takes, per subset, what a voicebench_* task wrote (its results.json dict,
whose ``voicebench`` block holds the figures), a list of them to pool (mmsu: one run per domain, pooled over all
items as the leaderboard does), or a bare number (the column's value as the README's table prints it). It returns
each column's value as that table prints it (the three GPT columns on 1-5, the others in percent), in its order,
so that a row pastes into it, and Overall = (20 AlpacaEval + 20 CommonEval + 20 WildVoice + SD-QA + MMSU + OBQA +
BBH + IFEval + AdvBench) / 9, or None with the missing columns listed.
"""
from __future__ import annotations

from typing import Any

from harness.tasks.voicebench import data_file

LEADERBOARD_COLUMNS: tuple[str, ...] = tuple(c["column"] for c in data_file("leaderboard.json")["columns"])


def _block(result: dict[str, Any], subset: str) -> dict[str, Any]:
    block = result.get("voicebench") if isinstance(result, dict) else None
    if not isinstance(block, dict) or "figures" not in block:
        raise ValueError(f"{subset}: not a voicebench_* result (no 'voicebench' block with 'figures'); pass the "
                         f"results.json of a voicebench task, or the column's value as a number")
    if block.get("subset") != subset:
        raise ValueError(f"{subset}: the result given is for subset {block.get('subset')!r}")
    return block


def _pooled_accuracy(blocks: list[dict[str, Any]]) -> float | None:
    """Accuracy over every item of every run (percent): VoiceBench's MMSU is micro-averaged over domains."""
    n = sum(b["figures"]["n"] for b in blocks)
    return 100.0 * sum(b["figures"]["correct"] for b in blocks) / n if n else None


PRINTED = {c["evaluator"]: c["printed"] for c in data_file("leaderboard.json")["columns"]}
OVERALL_FACTOR = {c["column"]: c["scale"] / c["printed"] for c in data_file("leaderboard.json")["columns"]}


def printed_value(evaluator: str, fig: dict[str, Any]) -> float | None:
    """An evaluator's figure as the README's table prints it (GPT 1-5; SD-QA (panda + gpt) / 2; accuracy and the
    0-1 rates in percent); None when a figure could not be computed."""
    pick = {"open": lambda f: f["gpt"], "qa": lambda f: (f["panda"] + f["gpt"]) / 2, "mcq": lambda f: f["acc"],
            "bbh": lambda f: f["acc"], "ifeval": lambda f: f["final"], "harm": lambda f: f["refusal_rate"]}[evaluator]
    try:
        return float(pick(fig)) * PRINTED[evaluator]
    except (TypeError, KeyError):  # a figure that could not be computed (None) or is absent
        return None


def column_value(spec: dict[str, Any], given: Any) -> tuple[float | None, dict[str, Any]]:
    """One column's value as the README's table prints it, and where it came from."""
    subset = spec["subset"]
    if isinstance(given, (int, float)) and not isinstance(given, bool):
        return float(given), {"from": "given as a number"}
    blocks = [_block(r, subset) for r in (given if isinstance(given, (list, tuple)) else [given])]
    splits = [b.get("split") for b in blocks]
    evaluator = spec["evaluator"]
    if len(blocks) > 1 and evaluator != "mcq":
        raise ValueError(f"{subset}: {len(blocks)} results given; only mmsu pools several runs (one per domain)")
    value = _pooled_accuracy(blocks) if len(blocks) > 1 else printed_value(evaluator, blocks[0]["figures"])
    return value, {"from": "results", "splits": splits, "runs": len(blocks),
                   "complete": all(b.get("complete", True) for b in blocks)}


def voicebench_summary(results_by_subset: dict[str, Any]) -> dict[str, Any]:
    table = data_file("leaderboard.json")
    unknown = sorted(set(results_by_subset) - {c["subset"] for c in table["columns"]})
    if unknown:
        raise ValueError(f"voicebench_summary: subset(s) {', '.join(unknown)} are not leaderboard columns; the "
                         f"columns' subsets: {', '.join(c['subset'] for c in table['columns'])}")
    columns, missing = [], []
    for spec in table["columns"]:
        given = results_by_subset.get(spec["subset"])
        value, origin = column_value(spec, given) if given is not None else (None, {"from": "missing"})
        if value is None:
            missing.append(spec["column"])
        columns.append({"column": spec["column"], "subset": spec["subset"], "value": value, **origin})
    overall = None if missing else sum(OVERALL_FACTOR[c["column"]] * c["value"] for c in columns) / len(columns)
    return {"columns": columns, "overall": overall, "missing": missing,
            "column_order": list(LEADERBOARD_COLUMNS) + ["Overall"], "formula": table["overall"],
            "source": f"{table['source']} @ {table['commit'][:7]}"}
