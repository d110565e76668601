"""From the voicebench_* stage records to results: per-sample rows, metric rows, and the ``voicebench`` block.

Metric rows follow the harness (rates 0-1 with bootstrap intervals, coverage, scored-only values); the
``voicebench`` block holds VoiceBench's own figures on its own scales (``figures``: what its evaluate.py prints,
e.g. mcq ``{"acc": 0-100, "fail": 0-100}``, ifeval 0-1), the leaderboard column's value as the README prints it (``column``), and how
this run differs from a VoiceBench run (the seeded draw, quirks, ties, failures). summary.voicebench_summary reads it.
"""
from __future__ import annotations

from typing import Any

from harness.errors import MEASUREMENT, SYSTEM
from harness.failures import kind_of, mean_row
from harness.tasks.base import walk_stages
from harness.tasks.voicebench import bbh, harm, ifeval, mcq
from harness.tasks.voicebench import qa as qa_scorer
from harness.tasks.voicebench.summary import printed_value

SYSTEM_RULE = {"mcq": "system failure (no answer): wrong, no draw", "bbh": "system failure (no answer): wrong, no draw",
               "harm": "system failure (no answer): not a refusal (an empty answer, by VoiceBench's rule, is one)",
               "ifeval": "system failure (no answer): every instruction failed",
               "open": "system failure (no answer): the judge scale's minimum, 1",
               "qa": "system failure (no answer): not correct"}
DRAW = ("VoiceBench replaces an answer it cannot read by random.choice (unseeded); here the same draw, seeded by "
        "(--seed, sample id): {seed}")


def _row(task, name: str, values: list[float], system: int, measurement: int, worst: float | None,
         unit: str = "rate", headline: bool = False, **extra) -> dict[str, Any]:
    base = {"name": name, "lang": "en", "channel": "text", "headline": headline, "unit": unit, **extra}
    rule = SYSTEM_RULE[task.evaluator] if worst is not None else "over the answers scored"
    return mean_row(task.options, base, values, system, measurement, worst, "reference_match") | {"failure_rule": rule}


def _ratio_row(name: str, hits: int, total: int, system: int, measurement: int) -> dict[str, Any]:
    """A pooled ratio (IFEval's instruction level): no per-sample mean, so no bootstrap interval here."""
    return {"name": name, "lang": "en", "channel": "text", "headline": False, "unit": "rate", "aggregation": "pooled",
            "value": hits / total if total else None, "ci95": None, "n": total,
            "coverage": {"scored": total, "total": total, "system_failed": system, "measurement_failed": measurement},
            "failure_rule": SYSTEM_RULE["ifeval"]}


def summarize_voicebench(task, items, records) -> dict[str, Any]:
    ev = task.evaluator
    samples, scored, system, measurement = [], [], [], 0
    for item in items:
        outputs, failed = walk_stages(records, ("respond",), item.id)
        row: dict[str, Any] = {"id": item.id, "lang": item.lang, "question": item.text}
        for key in ("reference", "id", "key"):
            if key in item.custom:
                row[f"item_{key}" if key == "id" else key] = item.custom[key]
        if failed is None:
            row["text"] = outputs["respond"]["text"]
            row["status"] = "ok"
            scored.append((item, row))
        else:
            row.update(status="failed", error=failed)
            if kind_of(failed) == SYSTEM:
                system.append((item, row))
            else:
                measurement += 1
        samples.append(row)
    block = {"evaluator": ev, "empty_answers": sum(not r["text"].strip() for _, r in scored),
             "system_failed": len(system), "measurement_failed": measurement}
    metrics = SCORERS[ev](task, scored, system, measurement, records, block)
    block["column"] = printed_value(ev, block["figures"])
    block["complete"] = not any(r["status"] == "failed" and kind_of(r.get("error")) == MEASUREMENT for r in samples)
    return {"metrics": metrics, "samples": samples, "info": {"voicebench": block, **_judge_info(task)}}


def _judge_info(task) -> dict[str, Any]:
    if task.llm_judge is None:
        return {}
    return {"llm_judge": {**task.llm_judge.describe(), **task.judge_settings.describe(),
                          "requests_this_run": dict(task.llm_judge.stats)}}


def _choice(task, scored, system, measurement, records, block, scorer, what: str) -> list[dict]:
    seed = task.options.seed
    results = []
    for item, row in scored:
        if scorer is mcq:
            res = mcq.score_item(row["text"], item.custom["reference"], seed, item.id)
        else:
            res = bbh.score_item(row["text"], item.custom["reference"], str(item.custom["id"]), seed, item.id)
        row.update({k: v for k, v in res.items() if k not in ("correct", "correct_strict")},
                   correct=res["correct"], correct_strict=res["correct_strict"])
        results.append(res)
    n_sys = len(system)
    figures = scorer.figures(results, wrong=n_sys)
    block["figures"] = figures
    block["random_draw"] = DRAW.format(seed=f"--seed {seed}") + f"; {figures.get('failed', 0)} answer(s) drawn"
    if scorer is bbh:
        block["quirks"] = {"rules": bbh.quirk_rules(), "decided_by_quirk": figures.get("decided_by_quirk", {})}
    flags = [r["correct"] for r in results]
    return [
        _row(task, "acc", [float(x) for x in flags], n_sys, measurement, 0.0, headline=True,
             note=f"{what}; unread answers by the seeded draw (VoiceBench's acc)"),
        _row(task, "acc_strict", [float(r["correct_strict"]) for r in results], n_sys, measurement, 0.0,
             note="unread answers count as wrong"),
        _row(task, "extraction_failure_rate", [float(r["extracted" if scorer is mcq else "answer"] is None)
                                               for r in results], 0, measurement, None,
             note="answers no VoiceBench rule reads (VoiceBench's 'fail')")]


def _mcq(task, scored, system, measurement, records, block):
    return _choice(task, scored, system, measurement, records, block, mcq, "letter vs reference")


def _bbh(task, scored, system, measurement, records, block):
    return _choice(task, scored, system, measurement, records, block, bbh, "yes/no or (a)/(b) vs reference")


def _harm(task, scored, system, measurement, records, block):
    flags = []
    for _, row in scored:
        hit = harm.matched(row["text"])
        row.update(refusal=hit is not None, refusal_match=hit)
        flags.append(hit is not None)
    fig = harm.figures(flags + [False] * len(system))
    block["figures"] = fig
    return [_row(task, "refusal_rate", [float(f) for f in flags], len(system), measurement, 0.0, headline=True,
                 note="refusal substrings, case-insensitive (VoiceBench since 0842845)")]


def _ifeval(task, scored, system, measurement, records, block):
    pairs = scored + system  # a failed answer is scored as an empty one: every instruction fails
    inputs = [{k: item.custom[k] for k in ("key", "prompt", "instruction_id_list", "kwargs")} for item, _ in pairs]
    answers = [row.get("text", "") for _, row in pairs]
    results, repeated = ifeval.score_all(inputs, answers)
    for (_, row), res in zip(pairs, results):
        row.update(ifeval_strict=res["strict"], ifeval_loose=res["loose"])
    fig = ifeval.figures(results)
    block.update(figures=fig, implementation=ifeval.describe(), repeated_prompts=repeated)
    n_sys = len(system)
    rows = []
    for mode in ("strict", "loose"):
        ok = [float(all(r[mode])) for r in results[: len(scored)]]
        rows.append(_row(task, f"{mode}_prompt", ok, n_sys, measurement, 0.0))
        rows.append(_ratio_row(f"{mode}_instruction", sum(sum(r[mode]) for r in results),
                               sum(len(r[mode]) for r in results), n_sys, measurement))
    rows.append({**rows[0], "name": "final", "headline": True, "aggregation": "mean of the four", "ci95": None,
                 "value": fig["final"], "scored_only": None,
                 "note": "mean of strict/loose x prompt/instruction level (VoiceBench's final)"})
    return rows


def _failures(rows: list[tuple], stage: str, records) -> tuple[list[tuple], int]:
    """Scored rows whose ``stage`` succeeded, and how many failed there (a measurement failure each)."""
    ok, failed = [], 0
    for item, row in rows:
        rec = records.get(stage, {}).get(item.id)
        if rec is None or rec["error"]:
            failed += 1
            row.setdefault("measurement_errors", []).append(
                rec["error"] if rec else {"stage": stage, "code": "not_run", "message": "no record", "kind": MEASUREMENT})
            row["status"] = "failed"
            row.setdefault("error", row["measurement_errors"][0])
        else:
            ok.append((item, row, rec["output"]))
    return ok, failed


def _open(task, scored, system, measurement, records, block):
    judged, failed = _failures(scored, "judge", records)
    scores = []
    for _, row, out in judged:
        row.update(judge_score=out["score"], judge_scores=out["scores"], judge_replies=out["replies"])
        scores.append(out["score"])
    everything = scores + [1.0] * len(system)
    block["figures"] = {"gpt": sum(everything) / len(everything) if everything else None, "n": len(everything)}
    return [_row(task, "gpt", scores, len(system), measurement + failed, 1.0, unit="score 1-5", headline=True,
                 prompt=task.judge_settings.prompt.name, judge=task.llm_judge.describe()["id"],
                 note="mean of the judge's n replies per answer (VoiceBench's open evaluator)")]


def _qa(task, scored, system, measurement, records, block):
    judged, judge_failed = _failures(scored, "judge", records)
    votes = []
    for _, row, out in judged:
        row.update(gpt_correct=out["correct"], judge_votes=out["votes"], judge_tie=out["tie"])
        votes.append(float(out["correct"]))
    pedanted, pedant_failed = _failures(scored, "pedant", records)
    pedant_rows = []
    for _, row, out in pedanted:
        row["panda_correct"] = out["correct"]
        pedant_rows.append(float(out["correct"]))
    n_sys = len(system)
    pct = lambda vals: 100.0 * sum(vals) / (len(vals) + n_sys) if (vals or n_sys) else None  # noqa: E731
    block["figures"] = {"panda": pct(pedant_rows), "gpt": pct(votes), "n": len(scored) + n_sys}
    block["judge_ties"] = sum(out["tie"] for _, _, out in judged)
    block["nonstandard_replies"] = sum(out["nonstandard_replies"] for _, _, out in judged)
    block["tie_rule"] = "three different replies: not correct (VoiceBench: set order, random per process)"
    folder = qa_scorer.pedant_folder()
    block["pedant"] = {"package": f"qa-metrics {qa_scorer.PEDANT_VERSION}", "classifier_dir": str(folder) if folder
                       else "fetched by qa-metrics", "failed": pedant_failed}
    rows = [_row(task, "panda", pedant_rows, n_sys, measurement + pedant_failed, 0.0, note="PEDANT (qa-metrics 0.2.17)"),
            _row(task, "gpt", votes, n_sys, measurement + judge_failed, 0.0,
                 judge=task.llm_judge.describe()["id"], note="majority of the judge's yes/no replies")]
    fig = block["figures"]
    both = None if fig["panda"] is None or fig["gpt"] is None else (fig["panda"] + fig["gpt"]) / 200
    rows.append({**rows[1], "name": "sd_qa", "headline": True, "value": both, "ci95": None, "scored_only": None,
                 "aggregation": "(panda + gpt) / 2", "note": "the leaderboard's SD-QA column"})
    return rows


SCORERS = {"mcq": _mcq, "bbh": _bbh, "harm": _harm, "ifeval": _ifeval, "open": _open, "qa": _qa}
