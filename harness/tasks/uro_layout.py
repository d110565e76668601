"""Our URO-Bench outputs in URO's own layout, and URO's aggregation over sets (evaluate.py::conclude).

``write_set`` writes, under ``<run>/uro/eval/{basic|pro}/{Set}/`` (scripts/example.sh's
``{log_dir}/eval/{level}/{dataset}``), the files URO's scripts write and read, keyed ``str(i).zfill(4)``:
- inference_for_eval.py: ``pred_text.jsonl`` (text channel), ``question_text.jsonl``, ``gt_text.jsonl``,
  ``audio/0000.wav`` (the spoken answers, copied);
- asr_for_eval.py: ``asr_text.jsonl`` (the speech transcript; " " where there is none, as URO writes);
- mark.py: ``eval_with_asr/<result file>`` (speech channel: the ASR pipeline) and ``eval/<result file>`` (text
  channel: the non-ASR pipeline), per-item lines then ``{"final_score": x}`` (Repeat: ``{"ok_rate",
  "final_WER_for_ok_case"}``); ``eval_with_asr/result_wer.jsonl`` / ``result_cer.jsonl`` (ASR-WER, last line
  ``final_WER``); ``result_utmos.jsonl`` when UTMOS ran (last line ``final_UTMOS``).
Items whose measurement failed are written with ``"score": null`` and an ``error``; the final line is our figure
(over the items scored), so evaluate.py reads the same number as results.json.

``write_dialogue_set`` does the same for the multi-round sets (inference_multi.py's ``output_with_text.jsonl`` and
``<id>/chat_<round>.wav``, asr_for_eval.py --multi's ``asr_text.jsonl``, mark.py's ``result_multi.jsonl`` /
``result_sa.jsonl``). ``uro_summary`` and ``write_evaluation`` reproduce evaluate.py's category means (equal weight per set; a set
without a score is skipped, not counted as zero) and its ``evaluation.jsonl``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from harness.datasets.uro_bench import SETS, UroSet, uro_set

UNITS = ("understanding", "reasoning", "oral")
# evaluate.py's record keys, in the order it writes "final score on <key>" lines.
CATEGORY_KEYS = ([f"{c}_{t}_{lang}" for t in ("basic", "pro") for lang in ("en", "zh") for c in UNITS]
                 + [f"{c}_{t}" for t in ("basic", "pro") for c in UNITS]
                 + [f"{c}_{lang}" for lang in ("en", "zh") for c in UNITS]
                 + ["basic_en", "basic_zh", "pro_en", "pro_zh", *UNITS, "basic", "pro", "en", "zh"])


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)  # rewritten whole: a rerun never duplicates lines


def _metric(metrics: list[dict], name: str, channel: str | None = None) -> dict | None:
    return next((m for m in metrics if m["name"] == name and (channel is None or m.get("channel") == channel)), None)


def _result_lines(spec: UroSet, samples: list[dict], metrics: list[dict], channel: str) -> list[dict[str, Any]]:
    """mark.py's result file for one channel: per-item lines, then the set's figure."""
    answer_key = "transcript" if channel == "speech" else "text"
    lines = []
    for row in samples:
        answer = row.get(answer_key, " ")
        line: dict[str, Any] = {"answer": answer, "reference": row.get("reference")}
        if spec.mode != "wer":
            line = {"question": row["question"], **line} if spec.mode != "open" else {
                "question": row["question"], "answer": answer}
        status = row["channels"][channel]["status"]
        if spec.mode == "wer":
            line["WER"] = row.get(f"wer_{channel}", 1.0) if status != "measurement_failure" else None
        elif status == "ok":
            line["score"] = row[f"replies_{channel}"] if spec.mode == "qa" else row[f"values_{channel}"]
        elif status == "system_failure":
            line["score"] = [0, 0, 0]  # URO's empty-answer rule
        else:
            line["score"] = None
        if status == "measurement_failure":
            line["error"] = row["channels"][channel]["error"]["code"]
        lines.append(line)
    figure = _metric(metrics, "uro_score", channel)
    if spec.mode == "wer":
        ok_rate, wer_ok = _metric(metrics, "uro_ok_rate", channel), _metric(metrics, "uro_wer_ok", channel)
        lines.append({"ok_rate": ok_rate and ok_rate["value"], "final_WER_for_ok_case": wer_ok and wer_ok["value"]})
    else:
        lines.append({"final_score": figure and figure["value"]})
    return lines


def write_set(run_dir: str | Path, spec: UroSet, items: list, samples: list[dict], metrics: list[dict]) -> str:
    """Write one set's outputs in URO's layout; returns the folder (relative to the run folder)."""
    run_dir = Path(run_dir)
    folder = run_dir / "uro" / "eval" / spec.track / spec.name
    by_id = {row["id"]: row for row in samples}
    ordered = [by_id[item.id] for item in items if item.id in by_id]
    key = {row["id"]: row["id"] if row["id"].isdigit() else str(i).zfill(4) for i, row in enumerate(ordered)}
    _jsonl(folder / "pred_text.jsonl", [{key[r["id"]]: r.get("text", "")} for r in ordered])
    _jsonl(folder / "question_text.jsonl", [{key[r["id"]]: r["question"]} for r in ordered])
    _jsonl(folder / "gt_text.jsonl", [{key[r["id"]]: r.get("reference")} for r in ordered])
    _jsonl(folder / "asr_text.jsonl", [{key[r["id"]]: r.get("transcript") or " "} for r in ordered])
    audio_dir = folder / "audio"
    if audio_dir.is_dir():
        shutil.rmtree(audio_dir)  # a rerun's answers replace the last ones, none left over
    for row in ordered:
        if row.get("audio"):
            audio_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run_dir / row["audio"], audio_dir / f"{key[row['id']]}.wav")
    channels = [c for c in ("speech", "text") if _metric(metrics, "uro_score", c)]
    for channel, sub in (("speech", "eval_with_asr"), ("text", "eval")):
        if channel in channels:
            _jsonl(folder / sub / spec.result_file, _result_lines(spec, ordered, metrics, channel))
    asr = _metric(metrics, "uro_asr_cer" if spec.lang == "zh" else "uro_asr_wer")
    if asr is not None:
        name = "result_cer.jsonl" if spec.lang == "zh" else "result_wer.jsonl"
        _jsonl(folder / "eval_with_asr" / name, [{"text": r.get("text"), "asr": r.get("transcript"),
                                                  "WER": r.get("uro_asr_wer", 1.0)} for r in ordered if "text" in r]
               + [{"final_WER": asr["value"]}])
    utmos = _metric(metrics, "utmos")
    if utmos is not None:
        _jsonl(folder / "eval_with_asr" / "result_utmos.jsonl",
               [{key[r["id"]]: r["utmos"]} for r in ordered if "utmos" in r] + [{"final_UTMOS": utmos["value"]}])
    return str(folder.relative_to(run_dir))


def _dialogue_lines(samples: list[dict], answer: str) -> list[dict[str, Any]]:
    """inference_multi.py's output_with_text.jsonl (answer "text") / asr_for_eval.py --multi's asr_text.jsonl
    (answer "transcript", " " where a round has no speech)."""
    return [{"id": row["id"], "num_round": row["num_round"], "dialogue": [
        {"round": t["round"], "source_wav": t.get("source_wav"), "source_text": t["question"],
         "target_text": t["reference"], "output_text": (t.get(answer) or " ") if answer == "transcript"
         else (t.get("text") or "").strip()} for t in row["turns"]]} for row in samples]


def _dialogue_result(spec: UroSet, samples: list[dict], metrics: list[dict], channel: str) -> list[dict[str, Any]]:
    """mark.py --mode multi / sa: per dialogue {round, question0.., answer0.., reference0.., score}, then the set's
    figure; a failed dialogue's score is null with its error (ours: measurement failures are left out)."""
    key = "transcript" if channel == "speech" else "text"
    lines = []
    for row in samples:
        line: dict[str, Any] = {"round": row["num_round"]}
        turns = row["turns"]
        for part, field in (("question", "question"), ("answer", key), ("reference", "reference")):
            for j in range(5):  # mark.py pads to five rounds with ""
                value = (turns[j].get(field) or "") if j < len(turns) else ""
                if part == "answer" and j < len(turns):  # as the answer files hold it (a missing wav's ASR: " ")
                    value = (value or " ") if key == "transcript" else value.strip()
                line[f"{part}{j}"] = value
        status = row["channels"][channel]["status"]
        line["score"] = row.get(f"replies_{channel}") if status == "ok" else None
        if status != "ok":
            line["error"] = row["channels"][channel]["error"]["code"]
        lines.append(line)
    figure = _metric(metrics, "uro_score", channel)
    return lines + [{"final_score": figure and figure["value"]}]


def write_dialogue_set(run_dir: str | Path, spec: UroSet, items: list, samples: list[dict], metrics: list[dict]) -> str:
    """A multi-round set in URO's layout: output_with_text.jsonl, asr_text.jsonl, <id>/chat_<round>.wav, and
    eval_with_asr/ + eval/<result file>; returns the folder (relative to the run folder)."""
    from harness.paths import safe_name

    run_dir = Path(run_dir)
    folder = run_dir / "uro" / "eval" / spec.track / spec.name
    by_id = {row["id"]: row for row in samples}
    ordered = [by_id[item.id] for item in items if item.id in by_id]
    _jsonl(folder / "output_with_text.jsonl", _dialogue_lines(ordered, "text"))
    _jsonl(folder / "asr_text.jsonl", _dialogue_lines(ordered, "transcript"))
    for row in ordered:
        chats = folder / safe_name(row["id"])  # URO names the folder by the record's id
        if chats.is_dir():
            shutil.rmtree(chats)  # a rerun's answers replace the last ones
        for turn in row["turns"]:
            if turn.get("audio"):
                chats.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(run_dir / turn["audio"], chats / f"chat_{turn['round']}.wav")
    for channel, sub in (("speech", "eval_with_asr"), ("text", "eval")):
        _jsonl(folder / sub / spec.result_file, _dialogue_result(spec, ordered, metrics, channel))
    asr = _metric(metrics, "uro_asr_cer" if spec.lang == "zh" else "uro_asr_wer")
    if asr is not None:
        name = "result_cer.jsonl" if spec.lang == "zh" else "result_wer.jsonl"
        _jsonl(folder / "eval_with_asr" / name, [{"id": r["id"], "WER": r.get("uro_asr_wer")} for r in ordered]
               + [{"final_WER": asr["value"]}])
    return str(folder.relative_to(run_dir))


# -- aggregation ------------------------------------------------------------------------------------------
def set_score(result: Any, channel: str = "speech") -> float | None:
    """A set's figure: a number as given, or the ``uro_score`` row of a results dict (``channel``: speech is
    URO's ASR pipeline, text its non-ASR one)."""
    if result is None or isinstance(result, (int, float)):
        return None if result is None else float(result)
    row = _metric(result.get("metrics", []), "uro_score", channel)
    return None if row is None or row.get("value") is None else float(row["value"])


def uro_summary(results_by_set: dict[str, Any], channel: str = "speech") -> dict[str, Any]:
    """evaluate.py's aggregation: per-set scores averaged with equal weight per set into the 12 categories
    ``{understanding,reasoning,oral}_{basic,pro}_{en,zh}`` and every marginal, and ``final_score`` over all
    sets found. ``results_by_set``: URO set name -> results dict (runner output) or a number; a set without a
    score is skipped (listed in ``skipped``), as evaluate.py skips a missing result file."""
    sums = {k: 0.0 for k in CATEGORY_KEYS}
    nums = {k: 0 for k in CATEGORY_KEYS}
    scores: dict[str, float] = {}
    skipped = []
    for name in results_by_set:
        uro_set(name)  # an unknown name is a one-line error naming close matches
    for name, spec in SETS.items():  # evaluate.py's order
        value = set_score(results_by_set.get(name), channel) if name in results_by_set else None
        if value is None:
            if name in results_by_set:
                skipped.append(name)
            continue
        scores[name] = value
        t, lang, c = spec.track, spec.lang, spec.category
        for key in (f"{c}_{t}_{lang}", f"{c}_{t}", f"{c}_{lang}", f"{t}_{lang}", c, t, lang):
            sums[key] += value
            nums[key] += 1
    categories = {k: sums[k] / nums[k] for k in CATEGORY_KEYS if nums[k]}
    return {"channel": channel, "sets": scores, "categories": categories, "set_counts": {k: nums[k] for k in categories},
            "overall": {k: categories[k] for k in ("basic_en", "basic_zh", "pro_en", "pro_zh") if k in categories},
            "final_score": sum(scores.values()) / len(scores) if scores else None, "skipped": skipped}


def write_evaluation(path: str | Path, summary: dict[str, Any], samples: dict[str, int] | None = None) -> Path:
    """evaluate.py's evaluation.jsonl: one line per set (``samples``, ``score on <set>``), then ``final score on
    <key>`` per category, then ``final_score`` (UTMOS and WER averages are not written here)."""
    lines: list[dict[str, Any]] = [{"samples": (samples or {}).get(name), f"score on {name}": value}
                                   for name, value in summary["sets"].items()]
    lines += [{f"final score on {k}": v} for k, v in summary["categories"].items()]
    if summary["final_score"] is not None:
        lines.append({"final_score": summary["final_score"]})
    path = Path(path)
    _jsonl(path, lines)
    return path
