"""From the S2S stage records to results: per-sample rows and metric rows (each labelled with its channel).

Each channel of a sample has its own status (``channels``: text, speech, and lid for cross-lingual tasks): the
first failure along that channel's stages (S2STask.channel_stages). A system failure stays in the headline at
the metric's worst value; a measurement failure leaves that channel's figure and makes the result incomplete
(harness.failures; every row says its ``failure_rule`` and ``coverage`` and gives a ``scored_only`` value).

Metric rows (``unit`` says how to read ``value``):
- ``judge_score`` (text / speech channel): mean judge score on the prompt's scale, bootstrap 95 % CI (absent with
  ``--llm-judge none``);
- ``ref_exact_match``, ``ref_contains``, ``ref_wer`` / ``ref_cer`` (text / speech channel), with the reference
  scorer: each answer against the item's reference answer (harness.tasks.s2s_reference);
- ``text_speech_wer`` (en) / ``text_speech_cer`` (zh): the speech transcript against the model's own text
  channel (asr-default normalizer), corpus (headline) and mean-utterance; samples whose text channel is empty
  after normalization are left out and counted (there is nothing to compare with);
- ``off_target_ratio`` (text / speech), cross-lingual tasks: share of answers whose detected language is not
  the requested one (speech: the language-ID judge's free transcript; harness.langid's Han-ratio rule); a
  missing answer counts as off-target; non-empty answers with no letters are left out as ``undetermined``;
- speech-quality metrics (speech channel) of each quality judge that ran (harness.tasks.quality: dnsmos_*,
  distillmos, utmos, sim_*); ``malformed_ratio``: responses the model flagged as malformed.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from harness import langid
from harness.errors import MEASUREMENT, SYSTEM
from harness.failures import kind_of, mean_row, rate_rows
from harness.metrics import edit_counts
from harness.normalize import get_normalizer
from harness.options import NO_LLM_JUDGE
from harness.tasks.base import walk_stages
from harness.tasks.quality import quality_rows
from harness.tasks.s2s_reference import describe as describe_reference
from harness.tasks.s2s_reference import reference_of, reference_rows


def _channel(records, stages, item_id: str) -> tuple[dict[str, dict], dict[str, Any]]:
    outputs, failed = walk_stages(records, stages, item_id)
    return outputs, ({"status": "ok"} if failed is None else {"status": f"{kind_of(failed)}_failure", "error": failed})


def _sample_row(task, item, records) -> dict[str, Any]:
    lang = task.answer_lang(item)
    row: dict[str, Any] = {"id": item.id, "lang": item.lang, "answer_lang": lang, "question": item.text}
    outputs: dict[str, dict] = {}
    channels: dict[str, dict[str, Any]] = {}
    for channel, stages in task.channel_stages.items():
        if all(stage in records for stage in stages):
            found, channels[channel] = _channel(records, stages, item.id)
            outputs.update(found)
    for stage, out in outputs.items():
        if stage == "respond":
            row.update(text=out["text"], audio=out["audio"], audio_seconds=out.get("seconds"),
                       units=len(out["units"]), malformed=out["malformed"])
            if out.get("warnings"):
                row["warnings"] = out["warnings"]
        elif stage == "transcribe":
            row["transcript"] = out["text"]
        elif stage == "lid":
            row["lid_transcript"] = out["text"]
        elif stage in ("judge_text", "judge_speech"):
            channel = stage.split("_", 1)[1]
            row[f"judge_score_{channel}"] = out["score"]
            row[f"judge_reply_{channel}"] = out["replies"][0][:500]
        elif stage.startswith("quality_"):
            row.update(out["scores"])
    if "text" in row and not row["text"].strip() and channels.get("text", {}).get("status") == "ok":
        # No LLM judge to flag it (judge_text does): an empty text answer is still the system's failure.
        channels["text"] = {"status": f"{SYSTEM}_failure", "error": {
            "stage": "respond", "code": "empty_text", "message": f"the model gave no text answer for {item.id}",
            "kind": SYSTEM}}
    if task.reference:
        row["reference"] = reference_of(item)
    row["channels"] = channels
    errors = [c["error"] for c in channels.values() if "error" in c]
    row["status"] = "failed" if errors else "ok"
    if errors:  # the sample's error: a measurement failure first (it decides completeness), else the first one
        row["error"] = next((e for e in errors if kind_of(e) == MEASUREMENT), errors[0])
    return row


def _failures(rows: list[dict], channel: str) -> tuple[int, int]:
    kinds = [kind_of(r["channels"][channel].get("error")) for r in rows if channel in r["channels"]]
    return kinds.count(SYSTEM), kinds.count(MEASUREMENT)


def summarize_s2s(task, items, records) -> dict[str, Any]:
    normalizer = get_normalizer(task.spec.normalizer)
    samples = [_sample_row(task, item, records) for item in items]
    cross = task.lid_judge is not None
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for row in samples:
        by_lang[row["answer_lang"]].append(row)
    # A system with no text channel at all (speech only) has no text figures, rather than all-minimum ones.
    has_text = any(r.get("text", "").strip() for r in samples)
    metrics: list[dict[str, Any]] = []
    channels = ("speech", "text") if has_text else ("speech",)
    for lang in sorted(by_lang):
        rows = by_lang[lang]
        if task.llm_judge is not None:
            metrics.extend(_judge_rows(task, lang, rows, channels))
        if task.reference:
            metrics.extend(reference_rows(task, normalizer, lang, rows, channels))
        metrics.extend(_consistency_rows(task, normalizer, lang, rows))
        if cross:
            metrics.extend(_off_target_rows(task, lang, rows, has_text))
        metrics.extend(quality_rows(task.options, task.quality, lang, rows, "speech"))
        responded = [r for r in rows if "text" in r]
        metrics.append(mean_row(task.options, {"name": "malformed_ratio", "lang": lang, "channel": None,
                                               "headline": False, "unit": "rate"},
                                [float(bool(r.get("malformed"))) for r in responded], 0, 0, None, "judge_score")
                       | {"failure_rule": "over responses the model returned"})
    if task.llm_judge is None:
        judge_info = {"id": NO_LLM_JUDGE, "status": "not used", "chosen_by": f"{task.llm_judge_choice} none"}
    else:
        judge_info = {**task.llm_judge.describe(), **task.judge_settings.describe(),
                      "requests_this_run": dict(task.llm_judge.stats)}
    info = {"llm_judge": judge_info,
            "quality_judges": task.quality.describe(),
            "answer_language": task.out_lang, "text_channel": "present" if has_text else "absent"}
    if task.reference:
        info["reference_scorer"] = describe_reference(normalizer)
    if cross:
        info["language_id"] = {**langid.describe(), "speech_transcribed_by": task.lid_judge.describe()["id"]}
    return {"metrics": metrics, "samples": samples, "info": info}


def _judge_rows(task, lang: str, rows: list[dict], channels: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    low, high = task.judge_settings.prompt.scale
    scale = f"{low:g}-{high:g}"
    for channel in channels:
        values = [r[f"judge_score_{channel}"] for r in rows if f"judge_score_{channel}" in r]
        system, measurement = _failures(rows, channel)
        out.append(mean_row(task.options, {"name": "judge_score", "lang": lang, "channel": channel,
                                           "headline": True, "unit": f"score {scale}",
                                           "prompt": task.judge_settings.prompt.name,
                                           "judge": task.llm_judge.describe()["id"]},
                            values, system, measurement, float(low), "judge_score"))
    return out


def _consistency_rows(task, normalizer, lang: str, rows: list[dict]) -> list[dict[str, Any]]:
    """Speech transcript vs the model's own text: rows whose speech failed as the system's count as every text
    token deleted; a transcription that failed as the measurement's is left out."""
    errors, lengths, failed_lens, measurement, skipped = [], [], [], 0, 0
    for row in rows:
        speech = row["channels"].get("speech", {})
        if "text" not in row:  # no response at all: nothing to compare (its failure counts in judge_score)
            continue
        ref = normalizer(row["text"], lang, "ref")
        if not ref:
            skipped += 1  # no text channel to compare with
            continue
        if "transcript" not in row:
            if kind_of(speech.get("error")) == SYSTEM:
                failed_lens.append(len(ref))
            else:
                measurement += 1
            continue
        counts = edit_counts(ref, normalizer(row["transcript"], lang, "hyp"))
        row["text_speech_errors"], row["text_speech_ref_len"] = counts.errors, counts.ref_len
        errors.append(counts.errors)
        lengths.append(counts.ref_len)
    if not errors and not failed_lens:
        return []
    base = {"name": "text_speech_cer" if lang == "zh" else "text_speech_wer", "lang": lang, "channel": "speech",
            "unit": "rate", "reference": "the model's text channel", "skipped_empty_text": skipped}
    return rate_rows(task.options, base, errors, lengths, failed_lens, measurement, "corpus", rule="text_speech")


def _off_target_rows(task, lang: str, rows: list[dict], has_text: bool) -> list[dict[str, Any]]:
    out = []
    for channel, key, chain in (("text", "text", "text"), ("speech", "lid_transcript", "lid")):
        if channel == "text" and not has_text:
            continue
        values, undetermined, system, measurement, detected = [], 0, 0, 0, []
        for row in rows:
            error = row["channels"].get(chain, {}).get("error") if channel == "speech" else None
            answer = row.get(key)
            if channel == "text" and "text" not in row:
                error = row["channels"]["text"].get("error")
            if error is not None and kind_of(error) == MEASUREMENT:
                measurement += 1
                continue
            if error is not None or not (answer or "").strip():  # a missing answer counts as off-target
                row[f"detected_lang_{channel}"] = "none"
                system += 1
                continue
            found = langid.detect_language(answer)
            row[f"detected_lang_{channel}"] = found
            detected.append(found)
            if found == "unknown":
                undetermined += 1
            else:
                values.append(float(found != lang))
        metric = mean_row(task.options, {"name": "off_target_ratio", "lang": lang, "channel": channel,
                                         "headline": True, "unit": "rate"},
                          values, system, measurement, 1.0, "off_target_ratio")
        metric.update(undetermined=undetermined, detected={c: detected.count(c) for c in sorted(set(detected))})
        out.append(metric)
    return out
