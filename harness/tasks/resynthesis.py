"""Resynthesis: audio -> the codec's tokenizer -> units -> its vocoder -> audio -> the language's ASR judge -> WER/CER.

Stages (each cached by the runner):
- ``source``: the input speech at 16 kHz. Items with audio use it; text-only items (tts-en-sentences) are
  spoken by the task's ``source_tts`` model (YAML ``options``; Piper joe, noise 0, so the same every run).
  A failure here is the measurement's (the input could not be made), never the codec's.
- ``resynthesize``: the evaluated model (capability ``resynthesize``, e.g. ``--model codec``) returns units
  and a waveform; silent/empty/NaN/over-long audio and an empty unit stream are the system's failures.
- ``transcribe`` and ``score``: as TTS-WER (harness.tasks.wer), with the task's judges and normalizer.

Merged units: a model may render the units run-merged (``--model codec --model-arg merge=one-frame`` or
``merge=durations``: what a speech LM emits, rendered one frame per run or expanded by a duration model); its
record then carries ``run_frames`` (frames given to each run) and the task adds, per language,
``rendered_length_ratio`` (frames rendered / frames of the source's units) and, against the true runs of the
un-merged units, ``duration_mae`` (frames per run) and ``duration_exact`` (share of runs given their true
length). Each rendering is its own system, so the three WERs sit side by side in one table.

Besides WER/CER, the unit stream's bit rate (log2(codes) x units/s, before and after merging repeated units),
units/s, and the tokenizer's and vocoder's real-time factors (seconds of compute / seconds of audio) are
reported per language as means over utterances; system failures have no unit stream and are left out of
those rows (counted in their coverage).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness.audio import check_and_resample, item_audio, read_audio, write_wav
from harness.errors import MEASUREMENT, CodedError
from harness.failures import kind_of, mean_row
from harness.options import ConfigError
from harness.paths import safe_name
from harness.tasks.base import Stage, walk_stages
from harness.tasks.wer import WERTask, judge_artifacts

SAMPLE_RATE = 16000
STREAM_RULE = ("system failures have no unit stream: left out of this row (counted in coverage); a diagnostic, "
               "not a quality score")


def merged_length(units: list[int]) -> int:
    """Length after merging consecutive repeated units (what a speech LM sees)."""
    return sum(1 for i, u in enumerate(units) if i == 0 or u != units[i - 1])


def run_lengths(units: list[int]) -> list[int]:
    """Frames of each run of a repeated unit: ``[5,5,7,5] -> [2,1,1]``."""
    out: list[int] = []
    for i, u in enumerate(units):
        if i and u == units[i - 1]:
            out[-1] += 1
        else:
            out.append(1)
    return out


class ResynthesisTask(WERTask):
    stage_names = ("source", "resynthesize", "transcribe", "score")
    source = None

    def configure(self) -> None:
        super().configure()
        from harness.plan import construct, model_factory

        name = self.spec.options.get("source_tts")
        if name:
            args = {k: str(v) for k, v in (self.spec.options.get("source_tts_args") or {}).items()}
            self.source = construct(model_factory(name, "source_tts"), name, args, "source_tts")

    def check_languages(self, langs):
        self.check_judges(langs)

    def stages(self):
        model, judges, policy, source_tts = self.model, self.judges, self.audio_policy, self.source

        def source(items, upstream, ctx):
            out: list[Any] = []
            for item in items:
                try:
                    if item.audio is None and item.audio_bytes is None:
                        if source_tts is None:
                            raise CodedError("no_audio", f"{item.id} has no audio and the task has no source_tts",
                                             kind=MEASUREMENT)
                        audio = check_and_resample(source_tts.synthesize([item.text], item.lang)[0],
                                                   f"source audio of {item.id}", SAMPLE_RATE, policy)
                    else:
                        audio = item_audio(item, SAMPLE_RATE, policy)
                except Exception as exc:  # the input could not be made: always the measurement's failure
                    out.append(CodedError(getattr(exc, "code", "source_audio"), f"{item.id}: {exc}", kind=MEASUREMENT))
                    continue
                path = ctx.artifact_dir / safe_name(item.id, ".wav")
                write_wav(path, audio.samples, SAMPLE_RATE)
                out.append({"audio": str(path.relative_to(ctx.output_dir)), "seconds": round(audio.seconds, 4)})
            return out

        def resynthesize(items, upstream, ctx):
            out: list[Any] = []
            for item in items:
                src = upstream["source"][item.id]
                samples = read_audio(Path(ctx.output_dir) / src["audio"], SAMPLE_RATE, policy).samples
                result = model.resynthesize(samples)
                if not result.units:
                    out.append(CodedError("no_units", f"{model.name} gave no units for {item.id}"))
                    continue
                try:
                    checked = check_and_resample(result.audio, f"{model.name}'s output for {item.id}", None, policy)
                except CodedError as exc:
                    out.append(exc)
                    continue
                path = ctx.artifact_dir / safe_name(item.id, ".wav")
                write_wav(path, checked.samples, checked.sample_rate)
                record = {"audio": str(path.relative_to(ctx.output_dir)), "seconds": round(checked.seconds, 4),
                          "source_seconds": src["seconds"], "units": result.units,
                          "merged_units": merged_length(result.units),
                          "tokenize_seconds": result.tokenize_seconds, "vocode_seconds": result.vocode_seconds}
                if result.run_frames is not None:  # rendered from merged units
                    record.update(run_frames=result.run_frames, rendered_units=result.rendered_units)
                out.append(record)
            return out

        transcribe = judge_artifacts(judges, "resynthesize", policy)

        judge_ids = {lang: judges[lang].describe() for lang in sorted(judges)}
        source_id = source_tts.describe() if source_tts is not None else None
        return [Stage("source", {"source_tts": source_id, "audio_policy": policy.__dict__}, source,
                      batch_size=self.options.batch_size, models=(source_tts,) if source_tts else (),
                      fails_as=MEASUREMENT),
                Stage("resynthesize", {"model": model.describe()}, resynthesize, upstream=("source",),
                      batch_size=self.options.batch_size, models=(model,)),
                Stage("transcribe", {"judges": judge_ids, "audio_policy": policy.__dict__}, transcribe,
                      upstream=("resynthesize",), batch_size=self.options.batch_size,
                      models=tuple(judges[lang] for lang in sorted(judges)), fails_as=MEASUREMENT),
                self._score_stage()]

    def summarize(self, items, records):
        result = super().summarize(items, records)
        codes = int(self.model.describe().get("codes") or 0)
        if codes < 1:
            raise ConfigError(f"model {self.model.name} does not describe its number of codes")
        bits = math.log2(codes)
        by_lang: dict[str, dict[str, list]] = {}
        status: dict[str, tuple[int, int]] = {}
        for item in items:
            outputs, failed = walk_stages(records, self.stage_names, item.id)
            g = by_lang.setdefault(item.lang, {k: [] for k in ("ups", "ups_merged", "tok_rtf", "voc_rtf", "length",
                                                               "dur_mae", "dur_exact")})
            sys_fail, meas_fail = status.get(item.lang, (0, 0))
            res = outputs.get("resynthesize")
            if res is None:
                if failed:
                    status[item.lang] = (sys_fail + (kind_of(failed) != MEASUREMENT), meas_fail + (kind_of(failed) == MEASUREMENT))
                continue
            g["ups"].append(len(res["units"]) / res["source_seconds"])
            g["ups_merged"].append(res["merged_units"] / res["source_seconds"])
            g["tok_rtf"].append(res["tokenize_seconds"] / res["source_seconds"])
            g["voc_rtf"].append(res["vocode_seconds"] / res["seconds"])
            if res.get("run_frames") is not None:
                true = run_lengths(res["units"])
                pred = res["run_frames"]
                g["length"].append(sum(pred) / len(res["units"]))
                g["dur_mae"].append(sum(abs(p - t) for p, t in zip(pred, true)) / len(true))
                g["dur_exact"].append(sum(p == t for p, t in zip(pred, true)) / len(true))
        for row in result["samples"]:
            res = (records.get("resynthesize") or {}).get(row["id"])
            if res and not res["error"]:
                out = res["output"]
                row.update(units=len(out["units"]), merged_units=out["merged_units"], audio=out["audio"],
                           tokenize_seconds=out["tokenize_seconds"], vocode_seconds=out["vocode_seconds"])
                if out.get("run_frames") is not None:
                    row["rendered_units"] = out["rendered_units"]
        for lang, g in sorted(by_lang.items()):
            sys_fail, meas_fail = status.get(lang, (0, 0))
            for name, values, unit in (
                    ("units_per_second", g["ups"], "units/s"),
                    ("units_per_second_merged", g["ups_merged"], "units/s"),
                    ("bits_per_second", [v * bits for v in g["ups"]], "bit/s"),
                    ("bits_per_second_merged", [v * bits for v in g["ups_merged"]], "bit/s"),
                    ("tokenizer_rtf", g["tok_rtf"], "ratio"), ("vocoder_rtf", g["voc_rtf"], "ratio"),
                    ("rendered_length_ratio", g["length"], "ratio"), ("duration_mae", g["dur_mae"], "frames"),
                    ("duration_exact", g["dur_exact"], "ratio")):
                if not values and name in ("rendered_length_ratio", "duration_mae", "duration_exact"):
                    continue  # rendered from un-merged units: no durations to judge
                row = mean_row(self.options, {"name": name, "lang": lang, "unit": unit}, values, sys_fail, meas_fail,
                               None, "latency")
                row["failure_rule"] = STREAM_RULE
                row["headline"] = False
                result["metrics"].append(row)
        result.setdefault("info", {})["resynthesis"] = {
            "codes": codes, "bits_per_unit": bits, "source_tts": self.source.describe() if self.source else None,
            "bit_rate": "log2(codes) x units per second of source audio; merged: after merging repeated units",
            "units_rendered": self.model.describe().get("units_rendered", "un-merged (as tokenized)")}
        return result
