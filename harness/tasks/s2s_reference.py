"""The reference scorer of the S2S tasks: each answer against the dataset's reference answer, per channel.

Selected by the task YAML's ``options.reference_scorer: true`` or ``--reference-scorer``; it runs beside the LLM
judge or instead of it (``--llm-judge none``: deterministic and offline). It has no stage of its own: it reads
the text channel (``respond``) and the ASR judge's transcript of the spoken answer (``transcribe``), which the
task produces anyway, so switching it on or off never re-runs a model.

The reference: each item's ``reference`` field (``ManifestItem.custom["reference"]``; a JSONL key or TSV column
of the local loader, harness.datasets.local). Every evaluated item must carry a non-empty string: a dataset
without one is a configuration error naming the dataset and the field, before any sample runs.

Answer and reference go through the task's normalizer (harness.normalize; ``asr-default``: Whisper's English
normalizer, Chinese one token per character after traditional->simplified):
- ``ref_exact_match`` (rate): 1 when the normalized answer's tokens equal the normalized reference's, else 0;
- ``ref_contains`` (rate): 1 when the normalized reference's tokens occur as a contiguous run of whole tokens in
  the normalized answer ("paris" in "the capital is paris", never "art" in "party"; Chinese: a run of characters);
- ``ref_wer`` (en) / ``ref_cer`` (zh): edit distance of the answer against the reference (harness.metrics),
  the task's aggregation as headline plus the other one.
Means and rates carry bootstrap 95 % intervals, per channel (text, speech) and answer language.

Failures, per channel (harness.failures): no answer, an empty text answer, no/silent/over-long speech are the
system's: exact match and contains 0, every reference token deleted (1.0 for the utterance). The ASR judge
failing on the answer or an unreadable question is the measurement's: left out, counted, the result
incomplete. A reference that normalizes to nothing (only punctuation) is left out and counted
(``skipped_empty_reference``).
"""
from __future__ import annotations

from typing import Any

from harness.datasets.local import REFERENCE as REFERENCE_FIELD
from harness.errors import MEASUREMENT, SYSTEM
from harness.failures import kind_of, mean_row, rate_rows
from harness.manifest import ManifestItem
from harness.metrics import edit_counts
from harness.options import ConfigError

ANSWER_KEYS = {"text": "text", "speech": "transcript"}  # sample-row key of each channel's answer
CHANNELS = {"text": "the model's text answer", "speech": "the ASR judge's transcript of the spoken answer"}


def reference_enabled(task) -> bool:
    """``options.reference_scorer`` of the task YAML (true/false), or ``--reference-scorer``."""
    value = task.spec.options.get("reference_scorer", False)
    if not isinstance(value, bool):
        raise ConfigError(f"{task.spec.source}: options.reference_scorer must be true or false, got {value!r}")
    return value or task.options.reference_scorer


def reference_of(item: ManifestItem) -> str | None:
    value = item.custom.get(REFERENCE_FIELD)
    return value if isinstance(value, str) and value.strip() else None


def check_references(task, items: list[ManifestItem]) -> None:
    """Every item carries a reference answer, or the run stops here (before any sample runs)."""
    missing = [item.id for item in items if reference_of(item) is None]
    if not missing:
        return
    name = task.options.dataset or task.spec.dataset
    path = (task.options.dataset_args if task.options.dataset else task.spec.dataset_args).get("path")
    where = f"dataset {name}" + (f" ({path})" if path else "")
    raise ConfigError(f"the reference scorer needs a reference answer per item, but {len(missing)} of {len(items)} "
                      f"item(s) of {where} have no '{REFERENCE_FIELD}' field (a non-empty string), e.g. "
                      f"{', '.join(missing[:3])}; add it to the manifest (JSONL key or TSV column "
                      f"'{REFERENCE_FIELD}'), or drop --reference-scorer / options.reference_scorer")


def contains(answer: list[str], reference: list[str]) -> bool:
    """``reference`` occurs as a contiguous run of whole tokens in ``answer``."""
    n = len(reference)
    return any(answer[i:i + n] == reference for i in range(len(answer) - n + 1))


def _failure(row: dict[str, Any], channel: str) -> str | None:
    """Why a channel has no answer to score: the first failure along its chain (respond, transcribe), or the
    system's when the text answer is empty (None: there is an answer)."""
    key = ANSWER_KEYS[channel]
    if key in row and (channel == "speech" or row[key].strip()):
        return None
    if key in row:  # an empty text answer
        return SYSTEM
    return kind_of(row["channels"].get(channel, {}).get("error")) or MEASUREMENT


def reference_rows(task, normalizer, lang: str, rows: list[dict], channels: tuple[str, ...]) -> list[dict[str, Any]]:
    """Exact match, contains and WER/CER rows of each channel; per-sample values are written onto ``rows``."""
    out: list[dict[str, Any]] = []
    for channel in channels:
        matches, hits, errors, lengths, failed_lens = [], [], [], [], []
        system = measurement = skipped = 0
        for row in rows:
            ref = normalizer(row["reference"], lang, "ref")
            if not ref:
                skipped += 1
                continue
            failure = _failure(row, channel)
            if failure == MEASUREMENT:
                measurement += 1
                continue
            if failure == SYSTEM:
                system += 1
                failed_lens.append(len(ref))
                continue
            answer = normalizer(row[ANSWER_KEYS[channel]], lang, "hyp")
            counts = edit_counts(ref, answer)
            row[f"ref_exact_match_{channel}"] = float(answer == ref)
            row[f"ref_contains_{channel}"] = float(contains(answer, ref))
            row[f"ref_errors_{channel}"], row["ref_tokens"] = counts.errors, counts.ref_len
            matches.append(row[f"ref_exact_match_{channel}"])
            hits.append(row[f"ref_contains_{channel}"])
            errors.append(counts.errors)
            lengths.append(counts.ref_len)
        if not (matches or system or measurement):
            continue
        base = {"lang": lang, "channel": channel, "unit": "rate", "reference": f"the item's '{REFERENCE_FIELD}'",
                "skipped_empty_reference": skipped}
        for name, values in (("ref_exact_match", matches), ("ref_contains", hits)):
            out.append(mean_row(task.options, {**base, "name": name, "headline": True}, values, system, measurement,
                                0.0, "reference_match"))
        out.extend(rate_rows(task.options, {**base, "name": "ref_cer" if lang == "zh" else "ref_wer"}, errors,
                             lengths, failed_lens, measurement, task.spec.aggregation))
    return out


def describe(normalizer) -> dict[str, Any]:
    """The scorer's provenance block in results.json."""
    return {"scorer": "reference", "field": REFERENCE_FIELD, "normalizer": normalizer.describe(),
            "channels": dict(CHANNELS),
            "metrics": {"ref_exact_match": "normalized answer tokens == normalized reference tokens",
                        "ref_contains": "normalized reference tokens occur as a contiguous run of whole tokens in "
                                        "the normalized answer",
                        "ref_wer / ref_cer": "edit distance of the answer against the reference (en: words, "
                                             "zh: characters)"}}
