"""Speech-to-speech conversation, mono- and cross-lingual: both channels of a spoken answer, judged.

Stages (each cached per sample; changing a judge re-runs only what follows it):
  respond    model.respond(question audio, out_lang) -> text channel, wav (artifact), units, timing events
  transcribe the answer's ASR judge (per answer language, language forced) -> speech transcript
  lid        cross-lingual tasks: a multilingual Whisper transcribes with the language left to Whisper
             (lang=None), so the speech channel's language is measured, not assumed
  judge_text the LLM judge scores the text channel against the question
  judge_speech  ... and the speech transcript (each channel its own stage: one channel failing never drops
             the other channel's score)
  (--llm-judge none: no LLM judge, no judge stages; recorded as such in results.json)
  quality_<judge>  speech-quality judges (harness.tasks.quality: DNSMOS, DistillMOS, UTMOS, speaker similarity
             against the question audio or a fixed voice) on the speech channel, each a channel of its own
Then: LLM score per channel (mean, bootstrap CI), ASR-WER/CER of the speech transcript against the model's
own text channel, off-target ratio per channel (cross-lingual), quality MOS / similarity of the speech channel, and,
with the reference scorer (harness.tasks.s2s_reference), exact match / contains / WER of each channel against the
item's reference answer. Failures per channel (harness.failures):
the system's (no answer, empty text, no/silent/NaN/over-long speech) score the scale's minimum; a judge that
fails after its retries is the measurement's: left out, counted, and the result is incomplete.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.audio import AudioPolicy, check_and_resample, item_audio, read_audio, write_wav
from harness.errors import MEASUREMENT, CodedError, SystemFailure
from harness.failures import mark
from harness.judges import build_llm_judge
from harness.manifest import ManifestItem
from harness.model import respond_kwargs
from harness.options import NO_LLM_JUDGE, ConfigError
from harness.paths import safe_name
from harness.tasks.base import Stage, StageContext, Task
from harness.tasks.quality import configure_quality, quality_stages
from harness.tasks.s2s_metrics import summarize_s2s
from harness.tasks.s2s_reference import check_references, reference_enabled
from harness.tasks.wer import transcribe_batch

OPTION_KEYS = {"out_lang", "llm_judge", "prompt", "quality_judges", "answer_max_seconds", "instruction", "lid_judge",
               "reference_scorer"}


def _to_simplified(text: str) -> str:
    import zhconv

    return zhconv.convert(text, "zh-cn")


class S2STask(Task):
    stage_names = ("respond", "transcribe", "lid", "judge_text", "judge_speech")
    # Each channel's chain of stages: the first failure along it is that channel's failure (configure() adds one
    # channel per speech-quality judge: respond -> quality_<name>).
    channel_stages = {"text": ("respond", "judge_text"), "speech": ("respond", "transcribe", "judge_speech"),
                      "lid": ("respond", "lid")}
    takes_reference_scorer = True

    # -- configuration (plan time: nothing loaded) ---------------------------------------------------
    def configure(self) -> None:
        opts = self.spec.options
        self.check_option_keys(OPTION_KEYS)
        self.out_lang = str(opts.get("out_lang", "same"))
        self.instruction = opts.get("instruction")  # None: the model's own prompt for out_lang
        self.reference = reference_enabled(self)
        self._configure_llm_judge(opts)
        self.answer_policy = AudioPolicy(max_seconds=float(opts.get("answer_max_seconds", 120)))
        self.lid_judge = self._lid_judge(opts.get("lid_judge"))
        self.quality = configure_quality(self)
        channels = type(self).channel_stages
        if self.llm_judge is None:  # no judge stages along the channels
            channels = {c: tuple(s for s in chain if not s.startswith("judge_")) for c, chain in channels.items()}
        self.channel_stages = {**channels, **{
            self.quality.stage_name(name): ("respond", self.quality.stage_name(name)) for name in self.quality.judges}}
        decoding = (self.model.describe().get("generation") or {}).get("decoding")
        if self.out_lang != "same" and decoding == "general":  # CSLM would answer in the question's language
            raise ConfigError(f"task {self.spec.task} asks for answers in {self.out_lang}, but {self.model.name} runs "
                              f"its general (same-language) prompt: pass --model-arg decoding=cross")

    def _configure_llm_judge(self, opts: dict[str, Any]) -> None:
        """The LLM judge and its settings, or none (``--llm-judge none`` / ``llm_judge: none``: an explicit choice,
        recorded in results.json, valid only with the reference scorer to score the answers)."""
        spec = self.options.llm_judge or opts.get("llm_judge")
        self.llm_judge = self.judge_settings = None
        self.llm_judge_choice = "--llm-judge" if self.options.llm_judge else f"{self.spec.source}: options.llm_judge"
        if spec == NO_LLM_JUDGE:
            if not self.reference:
                raise ConfigError(f"{self.llm_judge_choice} none leaves task {self.spec.task} nothing to score the "
                                  f"answers with: add --reference-scorer (a dataset with reference answers) or pick "
                                  f"an LLM judge with --llm-judge openai:MODEL or hf:DIR")
            if self.options.llm_judge_args:
                raise ConfigError(f"{self.llm_judge_choice} none and --llm-judge-arg conflict: there is no LLM judge "
                                  f"to take the options; drop --llm-judge-arg or pick a judge with --llm-judge")
            return
        if not spec:
            raise ConfigError(f"task {self.spec.task} needs an LLM judge: --llm-judge openai:MODEL or hf:DIR "
                              f"(or --llm-judge none with --reference-scorer)")
        self.llm_judge, self.judge_settings = build_llm_judge(
            spec, dict(self.options.llm_judge_args), opts.get("prompt", "voicebench-open"), seed=self.options.seed)

    def check_items(self, items: list[ManifestItem]) -> None:
        if self.reference:
            check_references(self, items)

    def _lid_judge(self, names: Any):
        from harness.plan import construct, model_factory

        if not names:
            return None
        name = self.options.judges.get("lid") or names["offline" if self.options.offline_judges else "published"]
        factory = model_factory(name, "language-ID judge")
        if "transcribe" not in getattr(factory, "capabilities", ()):
            raise ConfigError(f"language-ID judge {name} cannot transcribe; pick a multilingual Whisper with "
                              f"--judge lid=MODEL")
        judge = construct(factory, name, dict(self.options.judge_args.get("lid", {})), "language-ID judge")
        if not (judge.supports_language("en") and judge.supports_language("zh")):
            raise ConfigError(f"language-ID judge {name} is not multilingual; pick e.g. whisper-base-bundled")
        return judge

    def answer_lang(self, item: ManifestItem) -> str:
        return item.lang if self.out_lang == "same" else self.out_lang

    def judge_languages(self, item_langs: set[str]) -> set[str]:
        return set(item_langs) if self.out_lang == "same" else {self.out_lang}

    def check_languages(self, langs: set[str]) -> None:
        answers = self.judge_languages(langs)
        self.check_judges(answers, what="answer language(s)")
        bad = sorted(lang for lang in answers if not self.model.supports_language(lang))
        if bad:
            raise ConfigError(f"model {self.model.name} cannot answer in {', '.join(bad)}; pick another model "
                              f"or task")

    # -- stages --------------------------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        model, judges, question_policy = self.model, self.judges, self.audio_policy
        answer_policy = self.answer_policy

        def respond(items, upstream, ctx: StageContext):
            out: list[Any] = [None] * len(items)
            ready = []  # (position, item, audio) of readable questions
            for pos, item in enumerate(items):
                try:
                    ready.append((pos, item, item_audio(item, model.input_sample_rate, question_policy)))
                except Exception as exc:  # an unreadable question is the measurement's problem, not the model's
                    out[pos] = mark(exc, MEASUREMENT)
            if hasattr(model, "respond_batch"):  # one call for the batch: Response or exception per question
                answers = model.respond_batch([a.samples for _, _, a in ready], self.instruction,
                                              [self.answer_lang(item) for _, item, _ in ready])
            else:
                answers = []
                for _, item, audio in ready:
                    try:
                        answers.append(model.respond(audio.samples, self.instruction, self.answer_lang(item),
                                                     **respond_kwargs(model, item)))
                    except Exception as exc:  # this sample fails alone, with its reason
                        answers.append(exc)
            for (pos, item, audio), response in zip(ready, answers):
                if isinstance(response, BaseException):
                    out[pos] = response
                    continue
                record = {"text": response.text or "", "units": list(response.units), "events": dict(response.events),
                          "malformed": response.malformed, "audio": None, "warnings": audio.warnings}
                record.update(self._answer_audio(response, item, ctx))
                out[pos] = record
            return out

        def answer_audio(ctx, upstream, judge):
            def load(item):
                rec = upstream["respond"][item.id]
                if rec.get("speech_error"):  # no, empty, silent, NaN or over-long speech: the system's failure
                    raise SystemFailure(rec["speech_error"]["code"], rec["speech_error"]["message"])
                return read_audio(Path(ctx.output_dir) / rec["audio"], judge.input_sample_rate, answer_policy)
            return load

        def transcribe(items, upstream, ctx: StageContext):
            out: list[Any] = [None] * len(items)
            groups: dict[str, list[int]] = defaultdict(list)
            for i, item in enumerate(items):
                groups[self.answer_lang(item)].append(i)
            for lang, idx in groups.items():
                res = transcribe_batch(judges[lang], [items[i] for i in idx], lang,
                                       answer_audio(ctx, upstream, judges[lang]), load_fails_as=MEASUREMENT)
                for i, r in zip(idx, res):
                    out[i] = r
            return out

        def lid(items, upstream, ctx: StageContext):
            # lang=None: the Whisper adapters then let Whisper detect the language before transcribing.
            return transcribe_batch(self.lid_judge, items, None, answer_audio(ctx, upstream, self.lid_judge),
                                    load_fails_as=MEASUREMENT)

        def judge(channel: str):
            def run(items, upstream, ctx: StageContext):
                out: list[Any] = [None] * len(items)
                jobs, owners = [], []
                for i, item in enumerate(items):
                    if channel == "text":
                        answer = upstream["respond"][item.id]["text"]
                    else:
                        answer = upstream["transcribe"][item.id]["text"]
                        if self.answer_lang(item) == "zh":
                            answer = _to_simplified(answer)  # Whisper sometimes writes traditional characters
                    if channel == "text" and not answer.strip():  # URO-Bench scores empty answers at the minimum
                        out[i] = SystemFailure("empty_text", f"the model gave no text answer for {item.id}")
                        continue
                    jobs.append((item.text, answer))
                    owners.append(i)
                for i, result in zip(owners, self.llm_judge.score_many(self.judge_settings, jobs)):
                    out[i] = result  # a JudgeError is the measurement's failure (this stage's kind)
                return out
            return run

        def speech_path(rec):
            if rec.get("speech_error"):  # no, empty, silent, NaN or over-long speech: the system's failure
                raise SystemFailure(rec["speech_error"]["code"], rec["speech_error"]["message"])
            return rec["audio"]

        judge_ids = {lang: judges[lang].describe() for lang in sorted(judges)}
        stages = [
            Stage("respond", {"model": self.model.describe(), "out_lang": self.out_lang,
                              "instruction": self.instruction, "audio_policy": question_policy.__dict__},
                  respond, batch_size=self.options.batch_size, models=(model,)),
            Stage("transcribe", {"judges": judge_ids, "audio_policy": answer_policy.__dict__,
                                 "out_lang": self.out_lang}, transcribe, upstream=("respond",),
                  batch_size=self.options.batch_size, models=tuple(judges[lang] for lang in sorted(judges)),
                  fails_as=MEASUREMENT)]
        if self.lid_judge is not None:
            stages.append(Stage("lid", {"lid_judge": self.lid_judge.describe(), "language": "auto",
                                        "audio_policy": answer_policy.__dict__}, lid, upstream=("respond",),
                                batch_size=self.options.batch_size, models=(self.lid_judge,), fails_as=MEASUREMENT))
        if self.llm_judge is not None:
            judged = {"judge": self.llm_judge.describe(), "settings": self.judge_settings.describe()}
            judge_batch = max(self.options.batch_size, 2 * self.llm_judge.concurrency)
            stages.append(Stage("judge_text", judged, judge("text"), upstream=("respond",), batch_size=judge_batch,
                                models=(self.llm_judge,), fails_as=MEASUREMENT))
            stages.append(Stage("judge_speech", {**judged, "zh_to_simplified": True}, judge("speech"),
                                upstream=("respond", "transcribe"), batch_size=judge_batch, models=(self.llm_judge,),
                                fails_as=MEASUREMENT))
        stages.extend(quality_stages(self, self.quality, "respond", speech_path, answer_policy, s2s=True))
        return stages

    def _answer_audio(self, response, item: ManifestItem, ctx: StageContext, name: str | None = None) -> dict[str, Any]:
        """Check the spoken answer (no/empty/silent/NaN/over-long speech is the system's failure of the speech
        channel, kept apart so the text channel is still scored) and write it under a safe name (``name``: the
        answer's own label, e.g. one round of a dialogue; default the item's id)."""
        label = name or item.id
        if response.audio is None:
            return {"speech_error": {"code": "no_audio", "message": f"the model gave no speech for {label}" + (
                f" (malformed: {response.malformed})" if response.malformed else "")}}
        try:
            audio = check_and_resample(response.audio, f"{self.model.name}'s answer to {label}", None,
                                       self.answer_policy)
        except CodedError as exc:
            return {"speech_error": {"code": exc.code, "message": str(exc)}}
        path = ctx.artifact_dir / safe_name(label, ".wav")
        write_wav(path, audio.samples, audio.sample_rate)
        return {"audio": str(path.relative_to(ctx.output_dir)), "sample_rate": audio.sample_rate,
                "seconds": round(audio.seconds, 4)}

    def summarize(self, items, records):
        return summarize_s2s(self, items, records)
