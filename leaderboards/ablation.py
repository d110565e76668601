"""Ablations: two sets of runs that differ in one named factor; per-metric deltas with a paired bootstrap.

Samples are joined on id (those scored on both sides: ``ok``, or a system failure scored at the worst value, as
the headline counts it: a failed latency request is +inf in the percentiles); ids are resampled with replacement
(seeded) and each side's aggregate is recomputed on the same resample, exactly as the metric defines it
(corpus: sum of errors / sum of reference lengths; mean-utterance: mean of per-sample rates). Identical
inputs therefore give delta 0, interval [0, 0] and "no difference" exactly. Below stats.MIN_PAIRED_ITEMS
shared samples a comparison gets no verdict; a p-value under 1/B (B resamples) is printed "< 1/B"; with several
metrics the report says how many would pass p < 0.05 by chance and adds Bonferroni-adjusted p-values. The report
also lists every option that differs between the two results files besides the factor, because a confounded
ablation is worth a warning.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import SYSTEM
from harness.failures import kind_of
from harness.tasks.latency import FIGURES as LATENCY_FIGURES
from leaderboards import stats
from leaderboards.collect import MetricRow, Run, collect, load_samples, metric_rows
from leaderboards.layout import format_value, metric_format

# Fields that never change what a number means (where it was written, how it was displayed, when).
IGNORED = ("options.output_dir", "options.progress", "options.retry_failed", "options.batch_size",
           "dataset.source", "dataset.path", "task.source", "task.description", "stage_keys", "metrics", "counts",
           "provenance.created", "provenance.command", "provenance.hardware")


RATIO_METRICS = ("wer", "cer", "ref_wer", "ref_cer", "text_speech_wer", "text_speech_cer")  # corpus: pairs of counts


@dataclass
class Side:
    label: str          # the factor's value on this side, e.g. "1.3"
    runs: list[Run]


def parse_side(spec: str) -> tuple[str, str, str]:
    """``NAME=VALUE:PATH`` -> (name, value, path)."""
    name, sep, rest = spec.partition("=")
    value, sep2, path = rest.partition(":")
    if not (sep and sep2 and name and path):
        raise ValueError(f"--factor expects NAME=VALUE:PATH (e.g. length_scale=1.3:runs/slow), got {spec!r}")
    return name, value, path


def load_side(label: str, path: str | Path | list) -> Side:
    """One side: a results.json, a folder searched recursively, or a list of those."""
    paths = list(path) if isinstance(path, (list, tuple)) else [path]
    found = collect(paths)
    if found.skipped:
        raise ValueError("; ".join(reason for _, reason in found.skipped))
    if not found.runs:
        raise ValueError(f"{', '.join(map(str, paths))}: no results.json found")
    return Side(label, found.runs)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or {prefix: {}}
    return {prefix: data}


def differences(a: Run, b: Run) -> dict[str, tuple[Any, Any]]:
    fa, fb = _flatten(a.results), _flatten(b.results)
    keep = lambda k: not any(k == p or k.startswith(p + ".") for p in IGNORED)
    return {k: (fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if keep(k) and fa.get(k) != fb.get(k)}


def _is_factor(key: str, factor: str) -> bool:
    norm = lambda s: s.lower().replace("-", "_")
    return norm(factor) in norm(key)


def _ratio(x: np.ndarray) -> np.ndarray:  # corpus level: sum of errors / sum of reference lengths
    return x[..., 0].sum(-1) / x[..., 1].sum(-1)


def _mean(x: np.ndarray) -> np.ndarray:
    return x.mean(-1)


# A failed latency request is +inf in the percentiles (harness.failures.RULES["latency"]). numpy's linear
# interpolation turns inf into nan (inf * 0), so infinities stand in as a huge finite value, and a percentile
# that interpolates towards one (falls on a failure: the headline's null) comes back as inf.
_FAILED, _ON_FAILED = 1e300, 1e200


def _finite_quantile(x: np.ndarray, q: float | list[float], axis: int | None = -1) -> np.ndarray:
    v = np.quantile(np.where(np.isposinf(x), _FAILED, np.where(np.isneginf(x), -_FAILED, x)), q, axis=axis)
    return np.where(v >= _ON_FAILED, np.inf, np.where(v <= -_ON_FAILED, -np.inf, v))


def _quantile(q: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: _finite_quantile(x, q)


# Aggregations the paired test knows how to recompute from per-sample values (anything else is
# listed as "not compared" rather than silently approximated by a mean).
STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "corpus": _ratio, "mean-utterance": _mean, "mean": _mean, "p50": _quantile(0.5), "median": _quantile(0.5),
    "p90": _quantile(0.9), "p95": _quantile(0.95)}
PERCENTILES = ("p50", "median", "p90", "p95")
LATENCY_FIELDS = tuple(name for name, _ in LATENCY_FIGURES)  # a request that never produced audio failed


def _per_sample(rows: list[dict], metric: MetricRow) -> dict[str, Any]:
    """id -> the sample's value for this metric: (errors, ref_len) for corpus WER/CER, else one number."""
    out: dict[str, Any] = {}
    channel = dict(metric.qualifiers).get("channel")
    for r in rows:
        scored = r.get("status") == "ok" or "scored_as" in r  # a system failure is in the headline at its worst
        # an S2S answer's metrics are in the answer's language (a cross-lingual row's lang is the question's)
        if r.get("answer_lang", r.get("lang", metric.lang)) != metric.lang:
            continue
        state = ((r.get("channels") or {}).get(channel) or {}).get("status") if channel else None
        if state == "system_failure":  # this channel failed: its worst value, as the headline counts it
            worst = _worst(r, metric.name)
            if worst is not None:
                out[str(r["id"])] = worst if metric.aggregation == "corpus" or not isinstance(worst, tuple) \
                    else worst[0] / worst[1]
            continue
        if (r.get("status") == "failed" and kind_of(r.get("error")) == SYSTEM
                and metric.name in LATENCY_FIELDS and metric.aggregation in PERCENTILES):
            out[str(r["id"])] = np.inf  # as the latency headline counts it (its mean: completed requests only)
            continue
        if not (scored or state == "ok"):
            continue
        counts = _error_counts(r, metric.name, channel)
        if counts is not None:
            e, n = counts
            out[str(r["id"])] = (e, n) if metric.aggregation == "corpus" else e / n
        elif channel and f"{metric.name}_{channel}" in r:  # S2S reference scores per channel
            out[str(r["id"])] = float(r[f"{metric.name}_{channel}"])
        elif metric.name == "off_target_ratio" and channel and r.get(f"detected_lang_{channel}"):
            found = r[f"detected_lang_{channel}"]
            if found != "unknown":  # a language that cannot be told is outside the headline's share too
                out[str(r["id"])] = float(found != metric.lang)  # "none": no answer, off target (the worst)
        else:  # a per-sample number under the metric's name (top level or under "timing")
            value = r.get(metric.name, (r.get("timing") or {}).get(metric.name))
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[str(r["id"])] = float(value)
    return out


def _worst(r: dict, name: str) -> Any:
    """A failed S2S channel's value in the reference scorer's headline: no match, every reference token deleted,
    off target."""
    if name in ("ref_exact_match", "ref_contains"):
        return 0.0
    if name in ("ref_wer", "ref_cer") and r.get("ref_tokens"):
        return float(r["ref_tokens"]), float(r["ref_tokens"])
    return 1.0 if name == "off_target_ratio" else None


def _error_counts(r: dict, name: str, channel: str | None) -> tuple[float, float] | None:
    """(errors, reference length) of one sample for an error-rate metric, or None."""
    fields = {"wer": ("errors", "ref_len"), "cer": ("errors", "ref_len"),
              "ref_wer": (f"ref_errors_{channel}", "ref_tokens"), "ref_cer": (f"ref_errors_{channel}", "ref_tokens"),
              "text_speech_wer": ("text_speech_errors", "text_speech_ref_len"),
              "text_speech_cer": ("text_speech_errors", "text_speech_ref_len")}.get(name)
    if fields is None or r.get(fields[0]) is None or not r.get(fields[1]):
        return None
    return float(r[fields[0]]), float(r[fields[1]])


def paired_bootstrap(a: np.ndarray, b: np.ndarray, stat: Callable[[np.ndarray], np.ndarray] = _ratio,
                     resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """a, b: per-sample values on the same ids in the same order ((n,) or (n, 2) for a ratio)."""
    n = len(a)
    va, vb = float(stat(a)), float(stat(b))
    delta = 0.0 if va == vb else vb - va  # both on a failure's +inf: no difference (inf - inf is nan)
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    with np.errstate(invalid="ignore"):
        deltas = stat(b[idx]) - stat(a[idx])  # the same resampled ids on both sides: a paired test
    deltas = np.where(np.isnan(deltas), 0.0, deltas)  # both at a failure's +inf: no difference in that resample
    lo, hi = (float(x) for x in _finite_quantile(deltas, [0.025, 0.975], axis=None))
    # Two-sided percentile p-value: twice the smaller share of resampled deltas on either side of 0
    # (consistent with the percentile interval: p < 0.05 about when the interval excludes 0).
    p = float(min(1.0, 2.0 * min(np.mean(deltas <= 0.0), np.mean(deltas >= 0.0))))
    return {"a": va, "b": vb, "delta": delta, "ci95": [lo, hi], "p_value": p, "n": n}


def _verdict(delta: float, lo: float, hi: float, better: str, n: int) -> str:
    if stats.too_few(n):  # a handful of items: the numbers are printed, no verdict drawn from them
        return stats.no_verdict(n)
    if lo <= 0.0 <= hi:
        return "no difference"
    improved = delta < 0 if better == "lower" else delta > 0
    return "B better" if improved else "B worse"


def _pair_runs(a: Side, b: Side) -> list[tuple[Run, Run]]:
    if len(a.runs) == 1 and len(b.runs) == 1:
        return [(a.runs[0], b.runs[0])]
    index = lambda side: {(r.task, r.dataset): r for r in side.runs}
    ia, ib = index(a), index(b)
    for side, idx in ((a, ia), (b, ib)):
        if len(idx) != len(side.runs):
            raise ValueError(f"side {side.label}: several runs of one task and dataset; name one run per side")
    return [(ia[k], ib[k]) for k in sorted(set(ia) & set(ib))]


def compare(factor: str, a: Side, b: Side, resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    if resamples < 1:
        raise ValueError(f"--resamples must be at least 1, got {resamples}")
    pairs = _pair_runs(a, b)
    if not pairs:
        raise ValueError(f"no (task, dataset) is present on both sides of {factor}")
    report: dict[str, Any] = {"factor": factor, "a": a.label or "A", "b": b.label or "B",
                              "resamples": resamples, "seed": seed, "pairs": []}
    for ra, rb in pairs:
        diff = differences(ra, rb)
        others = {k: v for k, v in diff.items() if not _is_factor(k, factor)}
        warnings = []
        if len(others):
            warnings.append(f"more than {factor} differs: " + ", ".join(others))
        if len(others) == len(diff):
            warnings.append(f"the runs do not differ in any option named like {factor!r}")
        sa, sb = load_samples(ra), load_samples(rb)
        comparisons, skipped = [], []
        metrics_b = {(m.name, m.lang, m.aggregation, m.qualifiers): m for m in metric_rows(rb)}
        for m in metric_rows(ra):
            if (m.name, m.lang, m.aggregation, m.qualifiers) not in metrics_b:
                skipped.append(f"{m.name} ({m.lang}, {m.aggregation}): not in B")
                continue
            stat = STATISTICS.get(m.aggregation)
            if stat is None or (stat is _ratio and m.name not in RATIO_METRICS):
                skipped.append(f"{m.name} ({m.lang}, {m.aggregation}): no paired statistic for this aggregation")
                continue
            pa, pb = _per_sample(sa, m), _per_sample(sb, m)
            ids = sorted(set(pa) & set(pb))
            if not ids:
                skipped.append(f"{m.name} ({m.lang}, {m.aggregation}): no shared per-sample values")
                continue
            res = paired_bootstrap(np.array([pa[i] for i in ids]), np.array([pb[i] for i in ids]), stat,
                                   resamples, seed)
            label = f"{m.name} {m.lang} ({m.aggregation}" + "".join(f", {v}" for _, v in m.qualifiers) + ")"
            comparisons.append({"metric": m.name, "lang": m.lang, "aggregation": m.aggregation,
                                "qualifiers": dict(m.qualifiers), "headline": m.headline, "label": label, **res,
                                "only_a": len(set(pa) - set(pb)), "only_b": len(set(pb) - set(pa)),
                                "verdict": _verdict(res["delta"], *res["ci95"], metric_format(m.name).better,
                                                    res["n"])})
        factor_diff = {k: v for k, v in diff.items() if k not in others}
        if factor_diff and not (a.label and b.label):  # unnamed sides: label them by the factor's values
            va, vb = next(iter(factor_diff.values()))
            report["a"], report["b"] = a.label or str(va), b.label or str(vb)
        report["pairs"].append({"task": ra.task, "dataset": ra.dataset, "a_run": ra, "b_run": rb,
                                "factor_differences": factor_diff,
                                "other_differences": others, "warnings": warnings,
                                "comparisons": comparisons, "skipped": skipped})
    # Every comparison of the report is one test of one family: Bonferroni over all of them.
    m = sum(len(p["comparisons"]) for p in report["pairs"])
    report.update(min_items=stats.MIN_PAIRED_ITEMS, compared=m, multiple_comparisons=stats.multiple_comparisons(m))
    for c in (c for p in report["pairs"] for c in p["comparisons"]):
        c.update(p_text=stats.format_p(c["p_value"], resamples), p_bonferroni=min(1.0, m * c["p_value"]),
                 p_bonferroni_text=stats.bonferroni(c["p_value"], m, resamples))
    return report


def p_expression(text: str) -> str:
    """``p=0.032`` or ``p < 0.001``."""
    return f"p {text}" if text.startswith("<") else f"p={text}"


def _fmt(metric: str, x: float, signed: bool = False) -> str:
    s = metric_format(metric)
    if np.isinf(x):  # a percentile that falls on failed requests
        return f"{'-' if x < 0 else '+' if signed else ''}inf (failures)"
    return f"{x * s.scale:+.{s.digits}f}" if signed else format_value(metric, x)


def to_markdown(report: dict[str, Any], link, plot: str | None) -> str:
    f = report["factor"]
    several = report["compared"] > 1
    out = [f"# Ablation: {f} = {report['a']} (A) vs {report['b']} (B)", "",
           (f"Paired bootstrap on shared samples ({report['resamples']} resamples of sample ids, seed "
           f"{report['seed']}); delta = B − A in the metric's units (error rates in %); p = twice the "
           f"smaller share of resampled deltas on either side of 0 (below 1/{report['resamples']}: printed "
           f"< {1 / report['resamples']:.2g}); verdict from the 95 % interval, none below {report['min_items']} "
           "shared items."), ""]
    if several:
        out += [f"**{report['multiple_comparisons']}**", ""]
    for pair in report["pairs"]:
        ra, rb = pair["a_run"], pair["b_run"]
        out += [f"## {pair['task']} on {pair['dataset']}", "",
                f"- A: [{_who(ra)}]({link(ra, 'results.json')}) (commit {ra.commit})",
                f"- B: [{_who(rb)}]({link(rb, 'results.json')}) (commit {rb.commit})"]
        for k, (va, vb) in pair["factor_differences"].items():
            out.append(f"- factor `{k}`: {va!r} → {vb!r}")
        if pair["other_differences"]:
            for k, (va, vb) in pair["other_differences"].items():
                out.append(f"- **also differs** `{k}`: {va!r} → {vb!r}")
        else:
            out.append(f"- no option other than {f} differs")
        out += [f"- **warning**: {w}" for w in pair["warnings"]]
        out += ["", "| metric | A | B | delta B−A | 95 % CI | p | " + ("p Bonf. | " if several else "")
                + "n shared (only A / only B) | verdict |", "|---|---:|---:|---:|---:|---:|" + ("---:|" if several else "")
                + "---:|---|"]
        for c in pair["comparisons"]:
            m = c["metric"]
            out.append(f"| {c['label']}{'' if c['headline'] else ' (secondary)'} | {_fmt(m, c['a'])} | "
                       f"{_fmt(m, c['b'])} | {_fmt(m, c['delta'], True)} | [{_fmt(m, c['ci95'][0], True)}, "
                       f"{_fmt(m, c['ci95'][1], True)}] | {c['p_text']} | "
                       + (f"{c['p_bonferroni_text']} | " if several else "")
                       + f"{c['n']} ({c['only_a']} / {c['only_b']}) | "
                       f"{c['verdict']} |")
        out += [f"- not compared: {s}" for s in pair["skipped"]] + [""]
    if plot:
        out += [f"![deltas with 95 % intervals]({plot})", ""]
    return "\n".join(out)


def _json_safe(node: Any) -> Any:
    """Strict JSON: a percentile on failed requests (+inf) is written "inf", as numbers cannot say it."""
    if isinstance(node, float) and not np.isfinite(node):
        return "inf" if node > 0 else "-inf" if node < 0 else None
    if isinstance(node, dict):
        return {k: _json_safe(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_json_safe(v) for v in node]
    return node


def write_report(report: dict[str, Any], out_dir: str | Path, link=None) -> dict[str, Path]:
    """ablation.md, ablation.json (numbers), ablation.png (deltas) under out_dir."""
    from leaderboards.collect import relpath
    from leaderboards.plots import ablation_deltas

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    link = link or (lambda run, name: relpath(run.dir / name, out))
    comps = [dict(c, label=f"{p['task']}: {c['label']}") for p in report["pairs"] for c in p["comparisons"]]
    png = ablation_deltas(comps, f"{report['factor']}: {report['b']} − {report['a']}", out / "ablation.png")
    md = out / "ablation.md"
    md.write_text(to_markdown(report, link, png.name if png else None), encoding="utf-8")
    data = {**report, "pairs": [{**p, "a_run": link(p["a_run"], "results.json"),
                                 "b_run": link(p["b_run"], "results.json"),
                                 "factor_differences": {k: list(v) for k, v in p["factor_differences"].items()},
                                 "other_differences": {k: list(v) for k, v in p["other_differences"].items()}}
                                for p in report["pairs"]]}
    js = out / "ablation.json"
    js.write_text(json.dumps(_json_safe(data), indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return {"markdown": md, "json": js, **({"plot": png} if png else {})}


def _who(run) -> str:
    """The side's system as the boards label it: the --name the user gave, then what the model is."""
    return f"{run.name}: {run.system}" if run.name else run.system
