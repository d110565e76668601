"""ASR-WER and TTS-WER: one scoring path, two ways of getting a hypothesis.

asr_wer:  audio --model.transcribe--> hypothesis; reference = manifest text.
tts_wer:  text --model.synthesize--> wav --judge.transcribe (per language)--> hypothesis; reference = text.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.audio import check_and_resample, item_audio, read_audio, write_wav
from harness.errors import MEASUREMENT, SYSTEM, CodedError
from harness.failures import kind_of, mark, rate_rows
from harness.manifest import ManifestItem
from harness.metrics import edit_counts
from harness.model import sample_kwargs
from harness.normalize import get_normalizer
from harness.options import ConfigError
from harness.paths import safe_name
from harness.tasks.base import Stage, StageContext, Task, walk_stages
from harness.tasks.quality import (
    QualitySetup,
    add_quality,
    configure_quality,
    quality_rows,
    quality_stages,
    settle_status,
)


def _by_lang(items: list[ManifestItem]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        groups[item.lang].append(index)
    return groups


def judge_window_warning(model, audio) -> list[str]:
    """A judge that hears only its first N seconds (transformers Whisper: 30 s) flags longer audio, never refuses."""
    window = getattr(model, "window_seconds", None)
    if window and audio.seconds > window:
        return [f"judged on the first {window:g} s of {audio.seconds:.1f} s ({model.name}'s window)"]
    return []


def transcribe_batch(model, items: list[ManifestItem], lang: str, load, load_fails_as: str | None = None) -> list[Any]:
    """Load each item's audio (a bad file fails that item only, as ``load_fails_as`` when given), then one model
    call for the good ones."""
    outputs: list[Any] = [None] * len(items)
    arrays, positions, warnings = [], [], []
    for pos, item in enumerate(items):
        try:
            audio = load(item)
        except Exception as exc:  # AudioError and friends: recorded for this sample
            outputs[pos] = mark(exc, load_fails_as) if load_fails_as else exc
            continue
        arrays.append(audio.samples)
        positions.append(pos)
        warnings.append(audio.warnings + judge_window_warning(model, audio))
    if arrays:
        texts = model.transcribe(arrays, lang, **sample_kwargs(model, [items[p] for p in positions]))
        if len(texts) != len(arrays):
            raise RuntimeError(f"{model.name} returned {len(texts)} transcripts for {len(arrays)} inputs")
        for pos, text, warn in zip(positions, texts, warnings):
            outputs[pos] = {"text": text, "warnings": warn}
    return outputs


def judge_artifacts(judges: dict[str, Any], stage: str, policy) -> Any:
    """The ASR-judge stage of a speech-producing task: each sample's wav from ``stage``'s output (``{"audio":
    path}`` under the output folder), transcribed by the judge of its language."""
    def transcribe(items, upstream, ctx: StageContext):
        out: list[Any] = [None] * len(items)
        made = upstream[stage]
        for lang, idx in _by_lang(items).items():
            judge = judges[lang]
            res = transcribe_batch(
                judge, [items[i] for i in idx], lang,
                lambda it, judge=judge: read_audio(Path(ctx.output_dir) / made[it.id]["audio"],
                                                   judge.input_sample_rate, policy))
            for i, r in zip(idx, res):
                out[i] = r
        return out
    return transcribe


class WERTask(Task):
    hypothesis_stage = "transcribe"
    quality = QualitySetup()  # speech-quality judges (TTS only; empty for ASR)
    speech_stage = "synthesize"  # the stage whose audio artifact ({"audio": path}) the quality judges score

    def _score_stage(self) -> Stage:
        normalizer = get_normalizer(self.spec.normalizer)

        def score(items, upstream, ctx):
            out = []
            for item in items:
                hyp = upstream[self.hypothesis_stage][item.id]["text"]
                try:
                    ref_tokens = _reference_tokens(normalizer, item)
                except CodedError as exc:
                    out.append(exc)
                    continue
                try:
                    hyp_tokens = normalizer(hyp, item.lang, "hyp")
                except ValueError as exc:  # output that cannot be scored is the system's
                    out.append(CodedError("unscorable_output", f"{item.id}: {exc}", kind=SYSTEM))
                    continue
                counts = edit_counts(ref_tokens, hyp_tokens)
                out.append({"errors": counts.errors, "ref_len": counts.ref_len,
                            "substitutions": counts.substitutions, "deletions": counts.deletions,
                            "insertions": counts.insertions, "rate": counts.rate,
                            "ref_normalized": " ".join(ref_tokens), "hyp_normalized": " ".join(hyp_tokens)})
            return out

        return Stage("score", {"normalizer": normalizer.describe(), "task": self.spec.task},
                     score, upstream=(self.hypothesis_stage,), batch_size=256)

    def summarize(self, items, records):
        normalizer = get_normalizer(self.spec.normalizer)
        samples = []
        per_lang: dict[str, dict[str, list]] = defaultdict(lambda: {"errors": [], "lens": [], "failed_lens": [],
                                                                    "measurement": []})
        for item in items:
            row: dict[str, Any] = {"id": item.id, "lang": item.lang, "reference": item.text}
            outputs, failed = walk_stages(records, self.stage_names, item.id)
            for stage, out in outputs.items():
                if stage == self.hypothesis_stage:
                    row["hypothesis"] = out["text"]
                    if out.get("warnings"):
                        row["warnings"] = out["warnings"]
                elif stage == "synthesize":
                    row["audio"] = out["audio"]
                    row["audio_seconds"] = out["seconds"]
                elif stage == "score":
                    row.update(out)
            group = per_lang[item.lang]
            row["status"] = "failed" if failed else "ok"
            if not failed:
                group["errors"].append(row["errors"])
                group["lens"].append(row["ref_len"])
            else:
                row["error"] = failed
                ref_len = None
                if kind_of(failed) == SYSTEM:  # scored as every reference token deleted
                    try:
                        ref_len = len(_reference_tokens(normalizer, item))
                    except CodedError as exc:  # no usable reference: the measurement's problem after all
                        row["error"] = {**failed, "kind": MEASUREMENT, "message": f"{failed['message']}; {exc}"}
                if ref_len is None:
                    group["measurement"].append(item.id)
                else:
                    row.update(errors=ref_len, ref_len=ref_len, deletions=ref_len, rate=1.0, scored_as="all deleted")
                    group["failed_lens"].append(ref_len)
            if self.quality.judges:  # each judge is a channel of its own: its failure never touches the WER
                row["channels"] = {"asr": {"status": "ok"} if row["status"] == "ok" else
                                   {"status": f"{kind_of(row['error'])}_failure", "error": row["error"]}}
                add_quality(row, records, self.quality, self.speech_stage, item.id)
                settle_status(row)
            samples.append(row)
        metrics = []
        for lang in sorted(per_lang):
            g = per_lang[lang]
            base = {"name": "cer" if lang == "zh" else "wer", "lang": lang, "unit": "rate"}
            metrics.extend(rate_rows(self.options, base, g["errors"], g["lens"], g["failed_lens"],
                                     len(g["measurement"]), self.spec.aggregation))
            if self.quality.judges:
                metrics.extend(quality_rows(self.options, self.quality, lang,
                                            [r for r in samples if r["lang"] == lang], None))
        out: dict[str, Any] = {"metrics": metrics, "samples": samples}
        if self.quality.judges or self.quality.skipped:
            out["info"] = {"quality_judges": self.quality.describe()}
        return out


def _reference_tokens(normalizer, item: ManifestItem) -> list[str]:
    """The normalized reference; an empty or unusable one is the manifest's problem (a measurement failure)."""
    try:
        tokens = normalizer(item.text, item.lang, "ref")
    except ValueError as exc:
        raise CodedError("normalizer", f"{item.id}: reference cannot be normalized: {exc}", kind=MEASUREMENT) from None
    if not tokens:
        raise CodedError("empty_reference", f"{item.id}: the reference is empty after normalization; an error rate "
                                            f"is undefined (fix or drop the manifest row)", kind=MEASUREMENT)
    return tokens


class ASRWERTask(WERTask):
    stage_names = ("transcribe", "score")

    def check_languages(self, langs):
        bad = sorted(lang for lang in langs if not self.model.supports_language(lang))
        if bad:
            raise ConfigError(f"model {self.model.name} does not support language(s) {', '.join(bad)} "
                              f"present in the dataset; pick a multilingual model or another dataset")

    def stages(self):
        model, policy = self.model, self.audio_policy

        def transcribe(items, upstream, ctx):
            out: list[Any] = [None] * len(items)
            for lang, idx in _by_lang(items).items():
                group = [items[i] for i in idx]
                res = transcribe_batch(model, group, lang,
                                       lambda it: item_audio(it, model.input_sample_rate, policy),
                                       load_fails_as=MEASUREMENT)  # unreadable input is not the model's fault
                for i, r in zip(idx, res):
                    out[i] = r
            return out

        return [Stage("transcribe", {"model": model.describe(), "audio_policy": policy.__dict__},
                      transcribe, batch_size=self.options.batch_size, models=(model,)),
                self._score_stage()]


class TTSWERTask(WERTask):
    stage_names = ("synthesize", "transcribe", "score")
    OPTION_KEYS = frozenset({"quality_judges"})

    def configure(self) -> None:
        if self.options.llm_judge or self.options.llm_judge_args:
            raise ConfigError(f"task {self.spec.task} has no LLM judge; drop --llm-judge/--llm-judge-arg")
        self.check_option_keys(self.OPTION_KEYS)
        self.quality = configure_quality(self)

    def check_languages(self, langs):
        self.check_judges(langs)
        bad = sorted(lang for lang in langs if not self.model.supports_language(lang))
        if bad:
            raise ConfigError(f"model {self.model.name} cannot synthesize language(s) {', '.join(bad)}; "
                              f"restrict the dataset or pick another model")

    def stages(self):
        model, judges, policy = self.model, self.judges, self.audio_policy

        def synthesize(items, upstream, ctx: StageContext):
            out: list[Any] = [None] * len(items)
            for lang, idx in _by_lang(items).items():
                audios = model.synthesize([items[i].text for i in idx], lang,
                                          **sample_kwargs(model, [items[i] for i in idx]))
                if len(audios) != len(idx):
                    raise RuntimeError(f"{model.name} returned {len(audios)} waveforms for {len(idx)} texts")
                for i, audio in zip(idx, audios):
                    try:  # empty, silent, NaN or over-long output is the system's failure, caught here
                        checked = check_and_resample(audio, f"{model.name}'s output for {items[i].id}", None, policy)
                    except CodedError as exc:
                        out[i] = exc
                        continue
                    path = ctx.artifact_dir / safe_name(items[i].id, ".wav")
                    write_wav(path, checked.samples, checked.sample_rate)
                    out[i] = {"audio": str(path.relative_to(ctx.output_dir)), "sample_rate": checked.sample_rate,
                              "seconds": round(checked.seconds, 4)}
            return out

        transcribe = judge_artifacts(judges, "synthesize", policy)
        judge_ids = {lang: judges[lang].describe() for lang in sorted(judges)}
        return [Stage("synthesize", {"model": model.describe()}, synthesize,
                      batch_size=self.options.batch_size, models=(model,)),
                Stage("transcribe", {"judges": judge_ids, "audio_policy": policy.__dict__}, transcribe,
                      upstream=("synthesize",), batch_size=self.options.batch_size,
                      models=tuple(judges[lang] for lang in sorted(judges)), fails_as=MEASUREMENT),
                self._score_stage(),
                *quality_stages(self, self.quality, self.speech_stage, lambda rec: rec["audio"], policy)]
