"""URO-Bench, pro track, multi-round sets (MtBenchEval-en, SpeakerAware-en, SpeakerAware-zh), scored as URO does.

One set per run (``--dataset uro-bench --dataset-arg set=MtBenchEval-en``). Stages:
  respond     the dialogue, round by round (harness.tasks.dialogue): each round gets the dataset's user audio
              and the model's OWN earlier answers (``history``); the reference answers are never fed back
  transcribe  each round's spoken answer through the answer language's ASR judge (URO's asr_for_eval --multi)
  uro_speech  one judge call per dialogue on the speech transcripts (URO's standard pipeline, eval_with_asr/)
  uro_text    ... on the text channel (URO's non-ASR pipeline, eval/)
The judge prompt is URO's (harness/judges/uro_prompts.yaml): prompt_multi<rounds> for MtBenchEval (2-5 rounds),
prompt_sa for SpeakerAware; n=3 replies, each int 1-5, dialogue score 20 x mean (harness.tasks.uro_scoring).

Results: ``uro_score`` per channel (speech is URO's headline), ``uro_asr_wer`` / ``uro_asr_cer`` (per dialogue the
mean over rounds of WER(text, transcript), then the mean over dialogues, as mark_wer.eval_wav). A dialogue the
model failed (a round raised) scores 20, the rubric's minimum (URO's run would stop); an unparseable judge reply or
an ASR failure is the measurement's failure: left out, counted, result incomplete. The run also writes URO's
multi-round layout under ``<output_dir>/uro/eval/pro/<Set>/`` (harness.tasks.uro_layout.write_dialogue_set).
"""
from __future__ import annotations

from typing import Any

from harness.audio import AudioPolicy
from harness.errors import MEASUREMENT, SYSTEM
from harness.failures import kind_of, mean_row
from harness.judges import build_llm_judge
from harness.options import ConfigError
from harness.tasks import uro_scoring as scoring
from harness.tasks.base import Stage, walk_stages
from harness.tasks.dialogue import check_multi_turn, respond_dialogues, transcribe_dialogues
from harness.tasks.quality import QualitySetup, settle_status
from harness.tasks.s2s import _to_simplified
from harness.tasks.uro import UroTask

OPTION_KEYS = {"llm_judge", "answer_max_seconds", "uro_layout"}
FAILED_DIALOGUE = 20.0  # 1 x 20: the rubric's minimum
URO_PRO_FAILURE_RULE = ("system failure (the model failed a round, so the dialogue has no answers): 20, the 1-5 "
                        "rubric's minimum x 20 (URO-Bench has no rule: its run stops)")


class UroProTask(UroTask):
    def configure(self) -> None:
        opts = self.spec.options
        self.check_option_keys(OPTION_KEYS)
        if self.options.quality_judges:
            raise ConfigError(f"task {self.spec.task} runs no speech-quality judge yet (URO's UTMOS over every "
                              f"round); drop --quality-judge")
        self.out_lang, self.instruction, self.reference, self.lid_judge = "same", None, False, None
        self.llm_judge = None
        self.answer_policy = AudioPolicy(max_seconds=float(opts.get("answer_max_seconds", 120)))
        self.quality = QualitySetup()
        self.judge_spec = self.options.llm_judge or opts.get("llm_judge")
        self.uro_judge = self.uro_settings = self.set_spec = None
        self.channel_stages = dict(self.base_channels)

    def check_items(self, items) -> None:
        """One multi-round set per run, a model that holds a conversation, an LLM judge."""
        from harness.datasets.uro_bench import SETS

        names = sorted({str(item.custom.get("uro_set")) for item in items})
        if len(names) != 1 or names[0] not in SETS:
            raise ConfigError(f"task {self.spec.task} scores one URO-Bench set per run (--dataset uro-bench "
                              f"--dataset-arg set=NAME); the items name {names or 'no set'}")
        spec = self.set_spec = SETS[names[0]]
        if spec.mode not in scoring.DIALOGUE_MODES:
            multi = ", ".join(n for n, s in SETS.items() if s.mode in scoring.DIALOGUE_MODES)
            raise ConfigError(f"URO-Bench set {spec.name} (mode {spec.mode}) is not a multi-round set; task "
                              f"{self.spec.task} runs {multi} (basic-track sets: --task uro_basic)")
        check_multi_turn(self.model, f"URO-Bench set {spec.name}")
        args = scoring.judge_args(self.judge_spec, self.options.llm_judge_args, spec.name, spec.mode)
        first = scoring.dialogue_prompt(spec.mode, 2)
        judge, settings = build_llm_judge(self.judge_spec, args, "voicebench-open", seed=self.options.seed,
                                          prompt_overrides=first.defaults)
        self.uro_judge, self.uro_settings = judge, scoring.uro_settings(settings, first.name.removeprefix("uro-bench-"))

    def _prompts(self) -> dict[str, str]:
        """Every prompt this set's mode may use, by name -> sha256 (cache keys and results name them all)."""
        names = ["sa"] if self.set_spec.mode == "sa" else [f"multi-{n}" for n in scoring.MULTI_ROUNDS]
        return {f"uro-bench-{n}": scoring.uro_prompt(n).text_sha256[:16] for n in names}

    # -- stages --------------------------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        mode, lang = self.set_spec.mode, self.set_spec.lang
        judges = self.judges
        depends = {"uro_set": self.set_spec.name, "mode": mode, "judge": self.uro_judge.describe(),
                   "settings": self.uro_settings.describe(), "prompts": self._prompts()}

        def score(channel: str):
            def run(items, upstream, ctx):
                dialogues = []
                for item in items:
                    turns = item.custom["turns"]
                    if channel == "text":
                        answers = [t["text"].strip() for t in upstream["respond"][item.id]["turns"]]
                    else:  # URO's ASR writes " " for a round without speech; Whisper may write traditional zh
                        answers = [" " if t is None else (_to_simplified(t) if lang == "zh" else t).strip() or " "
                                   for t in upstream["transcribe"][item.id]["turns"]]
                    dialogues.append([(t["text"], a, t["reference"]) for t, a in zip(turns, answers)])
                results = scoring.judge_dialogues(self.uro_judge, self.uro_settings, mode, dialogues)
                return [r if isinstance(r, Exception) else {**r, "answers": [a for _, a, _ in d]}
                        for r, d in zip(results, dialogues)]
            return run

        batch = max(self.options.batch_size, 2 * self.uro_judge.concurrency)
        return [
            Stage("respond", {"model": self.model.describe(), "out_lang": self.out_lang, "dialogue": "own-history",
                              "instruction": self.instruction, "audio_policy": self.audio_policy.__dict__},
                  lambda items, upstream, ctx: respond_dialogues(self, items, ctx),
                  batch_size=self.options.batch_size, models=(self.model,)),
            Stage("transcribe", {"judges": {k: judges[k].describe() for k in sorted(judges)}, "per_round": True,
                                 "audio_policy": self.answer_policy.__dict__},
                  lambda items, upstream, ctx: transcribe_dialogues(self, items, upstream, ctx),
                  upstream=("respond",), batch_size=self.options.batch_size,
                  models=tuple(judges[k] for k in sorted(judges)), fails_as=MEASUREMENT),
            Stage("uro_text", {**depends, "channel": "text"}, score("text"), upstream=("respond",),
                  batch_size=batch, models=(self.uro_judge,), fails_as=MEASUREMENT),
            Stage("uro_speech", {**depends, "channel": "speech", "zh_to_simplified": True}, score("speech"),
                  upstream=("respond", "transcribe"), batch_size=batch, models=(self.uro_judge,),
                  fails_as=MEASUREMENT)]

    # -- results -------------------------------------------------------------------------------------
    def summarize(self, items, records) -> dict[str, Any]:
        from harness.tasks.uro_layout import write_dialogue_set

        spec = self.set_spec
        samples = [self._row(item, records) for item in items]
        metrics = [self._dialogue_score(channel, samples) for channel in ("speech", "text")]
        metrics.extend(self._dialogue_asr_wer(samples))
        info: dict[str, Any] = {"uro_bench": {
            "set": spec.name, "track": spec.track, "lang": spec.lang, "mode": spec.mode, "category": spec.category,
            "result_file": spec.result_file, "headline_channel": "speech", "history": "the model's own answers",
            "scale": "0-100 (one 1-5 judge score per dialogue, n=3, x20)", "prompts": self._prompts()},
            "llm_judge": {**self.uro_judge.describe(), **self.uro_settings.describe(),
                          "requests_this_run": dict(self.uro_judge.stats)}}
        if self.spec.options.get("uro_layout", True):
            info["uro_layout"] = write_dialogue_set(self.options.output_dir, spec, items, samples, metrics)
        return {"metrics": metrics, "samples": samples, "info": info}

    def _row(self, item, records) -> dict[str, Any]:
        turns = item.custom["turns"]
        row: dict[str, Any] = {"id": item.id, "lang": item.lang, "num_round": len(turns), "channels": {},
                               "turns": [{"round": t["round"], "question": t["text"], "reference": t["reference"],
                                          "source_wav": t.get("source_wav")} for t in turns]}
        for channel, chain in self.base_channels.items():
            outputs, failed = walk_stages(records, chain, item.id)
            row["channels"][channel] = {"status": "ok"} if failed is None else {
                "status": f"{kind_of(failed)}_failure", "error": failed}
            for turn, said in zip(row["turns"], (outputs.get("respond") or {}).get("turns", [])):
                turn.update(text=said["text"], audio=said.get("audio"), audio_seconds=said.get("seconds"))
                if said.get("speech_error"):
                    turn["speech_error"] = said["speech_error"]["code"]
            for turn, heard in zip(row["turns"], (outputs.get("transcribe") or {}).get("turns", [])):
                turn["transcript"] = heard
            scored = outputs.get(f"uro_{channel}")
            if scored is not None:
                row[f"uro_score_{channel}"] = scored["score"]
                row[f"values_{channel}"], row[f"replies_{channel}"] = scored["values"], scored["replies"]
                row[f"prompt_{channel}"] = scored["prompt"]
        settle_status(row)
        return row

    def _dialogue_score(self, channel: str, rows: list[dict]) -> dict[str, Any]:
        kinds = [kind_of(r["channels"][channel].get("error")) for r in rows]
        values = [r[f"uro_score_{channel}"] for r in rows if r["channels"][channel]["status"] == "ok"]
        base = {"name": "uro_score", "lang": self.set_spec.lang, "channel": channel, "headline": channel == "speech",
                "uro_set": self.set_spec.name, "mode": self.set_spec.mode, "unit": "score 0-100"}
        row = mean_row(self.options, base, values, kinds.count(SYSTEM), kinds.count(MEASUREMENT), FAILED_DIALOGUE,
                       "judge_score")
        return {**row, "failure_rule": URO_PRO_FAILURE_RULE}

    def _dialogue_asr_wer(self, rows: list[dict]) -> list[dict[str, Any]]:
        """mark_wer.eval_wav for multi-round sets: per dialogue the mean over rounds of WER(text, transcript) (a
        round without speech: the transcript " ", WER 1), then the mean over dialogues."""
        lang = self.set_spec.lang
        values, system, measurement = [], 0, 0
        for row in rows:
            turns = row["turns"]
            if not all("text" in t for t in turns):
                system += 1  # the model failed the dialogue: no text, no speech
            elif not all("transcript" in t for t in turns):
                measurement += 1  # the ASR judge failed
            else:
                wers = [scoring.uro_wer(lang, t["text"], t["transcript"] or " ") for t in turns]
                row["uro_asr_wer"] = sum(wers) / len(wers)
                values.append(row["uro_asr_wer"])
        name = "uro_asr_cer" if lang == "zh" else "uro_asr_wer"
        return [mean_row(self.options, {"name": name, "lang": lang, "channel": "speech", "headline": False,
                                        "unit": "rate", "reference": "the model's text channel"},
                         values, system, measurement, 1.0, "text_speech")]
