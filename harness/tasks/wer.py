"""ASR-WER and TTS-WER: one scoring path, two ways of getting a hypothesis.

asr_wer:  audio --model.transcribe--> hypothesis; reference = manifest text.
tts_wer:  text --model.synthesize--> wav --judge.transcribe (per language)--> hypothesis; reference = text.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from harness.audio import item_audio, read_audio, write_wav
from harness.manifest import ManifestItem
from harness.metrics import AGGREGATIONS, aggregate, bootstrap_interval, edit_counts
from harness.normalize import get_normalizer
from harness.options import ConfigError
from harness.tasks.base import Stage, StageContext, Task, walk_stages
from harness.model import sample_kwargs


def _by_lang(items: list[ManifestItem]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        groups[item.lang].append(index)
    return groups


def transcribe_batch(model, items: list[ManifestItem], lang: str, load) -> list[Any]:
    """Load each item's audio (a bad file fails that item only), then one model call for the good ones."""
    outputs: list[Any] = [None] * len(items)
    arrays, positions, warnings = [], [], []
    for pos, item in enumerate(items):
        try:
            audio = load(item)
        except Exception as exc:  # AudioError and friends: recorded for this sample
            outputs[pos] = exc
            continue
        arrays.append(audio.samples)
        positions.append(pos)
        warnings.append(audio.warnings)
    if arrays:
        texts = model.transcribe(arrays, lang, **sample_kwargs(model, [items[p] for p in positions]))
        if len(texts) != len(arrays):
            raise RuntimeError(f"{model.name} returned {len(texts)} transcripts for {len(arrays)} inputs")
        for pos, text, warn in zip(positions, texts, warnings):
            outputs[pos] = {"text": text, "warnings": warn}
    return outputs


class WERTask(Task):
    hypothesis_stage = "transcribe"

    def _score_stage(self) -> Stage:
        normalizer = get_normalizer(self.spec.normalizer)

        def score(items, upstream, ctx):
            out = []
            for item in items:
                hyp = upstream[self.hypothesis_stage][item.id]["text"]
                try:
                    ref_tokens = normalizer(item.text, item.lang, "ref")
                    hyp_tokens = normalizer(hyp, item.lang, "hyp")
                    counts = edit_counts(ref_tokens, hyp_tokens)
                except ValueError as exc:
                    exc.code = "empty_reference" if "empty" in str(exc) else "normalizer"
                    out.append(exc)
                    continue
                out.append({"errors": counts.errors, "ref_len": counts.ref_len,
                            "substitutions": counts.substitutions, "deletions": counts.deletions,
                            "insertions": counts.insertions, "rate": counts.rate,
                            "ref_normalized": " ".join(ref_tokens), "hyp_normalized": " ".join(hyp_tokens)})
            return out

        return Stage("score", {"normalizer": normalizer.describe(), "task": self.spec.task},
                     score, upstream=(self.hypothesis_stage,), batch_size=256)

    def summarize(self, items, records):
        samples, per_lang = [], defaultdict(lambda: ([], []))
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
            row["status"] = "failed" if failed else "ok"
            if failed:
                row["error"] = failed
            else:
                errs, lens = per_lang[item.lang]
                errs.append(row["errors"])
                lens.append(row["ref_len"])
            samples.append(row)
        metrics = []
        for lang in sorted(per_lang):
            errs, lens = (np.asarray(v, dtype=np.float64) for v in per_lang[lang])
            for how in sorted(AGGREGATIONS, key=lambda a: a != self.spec.aggregation):
                value = aggregate(errs, lens, how)
                ci = bootstrap_interval(errs, lens, how, n_resamples=self.options.bootstrap_resamples,
                                        seed=self.options.seed) if self.options.bootstrap_resamples else None
                metrics.append({"name": "cer" if lang == "zh" else "wer", "lang": lang, "aggregation": how,
                                "headline": how == self.spec.aggregation, "value": value,
                                "ci95": list(ci) if ci else None, "n": int(len(errs)),
                                "ref_tokens": int(lens.sum()), "errors": int(errs.sum())})
        return {"metrics": metrics, "samples": samples}


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
                                       lambda it: item_audio(it, model.input_sample_rate, policy))
                for i, r in zip(idx, res):
                    out[i] = r
            return out

        return [Stage("transcribe", {"model": model.describe(), "audio_policy": policy.__dict__},
                      transcribe, batch_size=self.options.batch_size, models=(model,)),
                self._score_stage()]


class TTSWERTask(WERTask):
    stage_names = ("synthesize", "transcribe", "score")

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
                    path = ctx.artifact_dir / f"{items[i].id}.wav"
                    write_wav(path, audio.samples, audio.sample_rate)
                    out[i] = {"audio": str(path.relative_to(ctx.output_dir)), "sample_rate": audio.sample_rate,
                              "seconds": round(audio.seconds, 4)}
            return out

        def transcribe(items, upstream, ctx: StageContext):
            out: list[Any] = [None] * len(items)
            synth = upstream["synthesize"]
            for lang, idx in _by_lang(items).items():
                judge = judges[lang]
                res = transcribe_batch(
                    judge, [items[i] for i in idx], lang,
                    lambda it, judge=judge: read_audio(Path(ctx.output_dir) / synth[it.id]["audio"],
                                          judge.input_sample_rate, policy))
                for i, r in zip(idx, res):
                    out[i] = r
            return out

        judge_ids = {lang: judges[lang].describe() for lang in sorted(judges)}
        return [Stage("synthesize", {"model": model.describe()}, synthesize,
                      batch_size=self.options.batch_size, models=(model,)),
                Stage("transcribe", {"judges": judge_ids, "audio_policy": policy.__dict__}, transcribe,
                      upstream=("synthesize",), batch_size=self.options.batch_size,
                      models=tuple(judges[lang] for lang in sorted(judges))),
                self._score_stage()]
