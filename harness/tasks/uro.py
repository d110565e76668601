"""URO-Bench, basic track, one set per run (``--dataset uro-bench --dataset-arg set=NAME``), scored as URO does.

Stages: ``respond`` and ``transcribe`` (the answer's ASR judge) and the quality judges come from S2STask; then
``uro_speech`` scores the ASR transcript of the spoken answer (URO's standard pipeline, eval_with_asr/) and
``uro_text`` the model's text channel (URO's non-ASR pipeline, eval/), each with the set's mode
(harness.tasks.uro_scoring): the LLM judge for open / semi-open / qa, Repeat's WER for wer.

Results: per channel ``uro_score`` (0-100, the set's figure; speech is URO's headline), for wer also
``uro_ok_rate`` and ``uro_wer_ok``; ``uro_asr_wer`` / ``uro_asr_cer`` (URO's ASR-WER: the speech transcript
against the text channel, mean per item); quality judges (UTMOS) when present. A system failure (no answer, no
speech, empty answer) scores 0 (wer: WER 1, not ok), as URO's empty-answer rule; a measurement failure (judge
error or unparseable reply, ASR failure) is left out and makes the result incomplete. The run also writes its
outputs in URO's own layout under ``<output_dir>/uro/`` (harness.tasks.uro_layout) for URO's evaluate.py.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from harness.audio import AudioPolicy
from harness.errors import MEASUREMENT, SYSTEM
from harness.failures import coverage, kind_of, mean_row
from harness.judges import build_llm_judge
from harness.options import NO_LLM_JUDGE, ConfigError
from harness.tasks import uro_scoring as scoring
from harness.tasks.base import Stage, walk_stages
from harness.tasks.quality import add_quality, configure_quality, quality_rows, settle_status
from harness.tasks.s2s import S2STask, _to_simplified

OPTION_KEYS = {"llm_judge", "quality_judges", "answer_max_seconds", "uro_layout"}
URO_FAILURE_RULE = ("system failure (no answer, no speech, empty answer): 0, as URO-Bench scores empty answers "
                    "(wer mode: WER 1, not ok)")


class UroTask(S2STask):
    takes_reference_scorer = False
    base_channels = {"text": ("respond", "uro_text"), "speech": ("respond", "transcribe", "uro_speech")}

    def configure(self) -> None:
        opts = self.spec.options
        self.check_option_keys(OPTION_KEYS)
        self.out_lang, self.instruction, self.reference, self.lid_judge = "same", None, False, None
        self.llm_judge = None  # S2STask's own judge stages stay off: uro_text / uro_speech replace them
        self.answer_policy = AudioPolicy(max_seconds=float(opts.get("answer_max_seconds", 120)))
        self.quality = configure_quality(self)
        self.judge_spec = self.options.llm_judge or opts.get("llm_judge")
        self.llm_judge_choice = "--llm-judge" if self.options.llm_judge else f"{self.spec.source}: options.llm_judge"
        self.uro_judge = self.uro_settings = None
        self.set_spec = None
        self.channel_stages = {**self.base_channels, **{
            self.quality.stage_name(name): ("respond", self.quality.stage_name(name)) for name in self.quality.judges}}

    def check_items(self, items) -> None:
        """One basic-track set per run; the LLM judge is built only for a set whose mode needs one (Repeat
        runs without a key)."""
        from harness.datasets.uro_bench import SETS

        names = sorted({str(item.custom.get("uro_set")) for item in items})
        if len(names) != 1 or names[0] not in SETS:
            raise ConfigError(f"task {self.spec.task} scores one URO-Bench set per run (--dataset uro-bench "
                              f"--dataset-arg set=NAME); the items name {names or 'no set'}")
        self.set_spec = SETS[names[0]]
        if self.set_spec.mode not in scoring.BASIC_MODES:
            raise ConfigError(f"URO-Bench set {self.set_spec.name} is a {self.set_spec.track}-track set (mode "
                              f"{self.set_spec.mode}); task {self.spec.task} runs the 20 basic-track sets")
        if self.set_spec.mode == "wer":
            return
        args = scoring.judge_args(self.judge_spec, self.options.llm_judge_args, self.set_spec.name, self.set_spec.mode)
        judge, settings = build_llm_judge(self.judge_spec, args, "voicebench-open", seed=self.options.seed,
                                          prompt_overrides=scoring.uro_prompt(self.set_spec.mode).defaults)
        self.uro_judge, self.uro_settings = judge, scoring.uro_settings(settings, self.set_spec.mode)

    # -- stages --------------------------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        stages = super().stages()  # respond, transcribe, quality_* (no LLM-judge stages: llm_judge is None)
        mode, lang = self.set_spec.mode, self.set_spec.lang
        depends = {"uro_set": self.set_spec.name, "mode": mode, "normalizer": "uro-bench v1"}
        if self.uro_judge is not None:
            depends.update(judge=self.uro_judge.describe(), settings=self.uro_settings.describe())

        def score(channel: str):
            def run(items, upstream, ctx):
                answers = []
                for item in items:
                    if channel == "text":
                        answers.append(upstream["respond"][item.id]["text"])
                    else:  # Whisper may write traditional characters; URO's paraformer writes simplified
                        text = upstream["transcribe"][item.id]["text"]
                        answers.append(_to_simplified(text) if lang == "zh" else text)
                if mode == "wer":
                    out = []
                    for item, answer in zip(items, answers):
                        try:
                            out.append({**scoring.repeat_item(lang, answer, item.custom["reference"]),
                                        "answer": answer})
                        except Exception as exc:  # this sample fails alone, with its reason
                            out.append(exc)
                    return out
                jobs = [(item.text, answer, item.custom["reference"]) for item, answer in zip(items, answers)]
                results = scoring.judge_answers(self.uro_judge, self.uro_settings, mode, jobs)
                return [r if isinstance(r, Exception) else {**r, "answer": answer}
                        for r, answer in zip(results, answers)]
            return run

        batch = max(self.options.batch_size, 2 * getattr(self.uro_judge, "concurrency", 1))
        models = (self.uro_judge,) if self.uro_judge is not None else ()
        stages.append(Stage("uro_text", {**depends, "channel": "text"}, score("text"), upstream=("respond",),
                            batch_size=batch, models=models, fails_as=MEASUREMENT))
        stages.append(Stage("uro_speech", {**depends, "channel": "speech", "zh_to_simplified": True}, score("speech"),
                            upstream=("respond", "transcribe"), batch_size=batch, models=models,
                            fails_as=MEASUREMENT))
        return stages

    # -- results -------------------------------------------------------------------------------------
    def summarize(self, items, records) -> dict[str, Any]:
        from harness.tasks.uro_layout import write_set

        spec, lang = self.set_spec, self.set_spec.lang
        samples = [self._row(item, records) for item in items]
        has_text = any((r.get("text") or "").strip() for r in samples)
        metrics: list[dict[str, Any]] = []
        for channel in ("speech", "text") if has_text else ("speech",):
            metrics.extend(self._score_rows(channel, samples))
        metrics.extend(self._asr_wer_rows(samples))
        metrics.extend(quality_rows(self.options, self.quality, lang, samples, "speech"))
        info: dict[str, Any] = {"uro_bench": {
            "set": spec.name, "track": spec.track, "lang": lang, "mode": spec.mode, "category": spec.category,
            "result_file": spec.result_file, "headline_channel": "speech",
            "scale": "0-100 (1-5 judge scores x20; qa: 100 x mean share of 'Yes'; wer: ok_rate x (1 - WER_ok) x 100)"},
            "quality_judges": self.quality.describe(),
            "text_channel": "present" if has_text else "absent"}
        if self.uro_judge is not None:
            info["llm_judge"] = {**self.uro_judge.describe(), **self.uro_settings.describe(),
                                 "requests_this_run": dict(self.uro_judge.stats)}
        else:
            info["llm_judge"] = {"id": NO_LLM_JUDGE, "status": "not used", "why": f"mode {spec.mode} has no judge"}
        if self.spec.options.get("uro_layout", True):
            info["uro_layout"] = write_set(self.options.output_dir, spec, items, samples, metrics)
        return {"metrics": metrics, "samples": samples, "info": info}

    def _row(self, item, records) -> dict[str, Any]:
        row: dict[str, Any] = {"id": item.id, "lang": item.lang, "question": item.text,
                               "reference": item.custom.get("reference"), "channels": {}}
        for channel, chain in self.base_channels.items():
            outputs, failed = walk_stages(records, chain, item.id)
            row["channels"][channel] = {"status": "ok"} if failed is None else {
                "status": f"{kind_of(failed)}_failure", "error": failed}
            if "respond" in outputs:
                out = outputs["respond"]
                row.update(text=out["text"], audio=out["audio"], audio_seconds=out.get("seconds"))
            if "transcribe" in outputs:
                row["transcript"] = outputs["transcribe"]["text"]
            scored = outputs.get(f"uro_{channel}")
            if scored is not None:
                row[f"uro_score_{channel}"] = scored.get("score")
                for key in ("wer", "ok", "values", "replies", "nonstandard_replies"):
                    if key in scored:
                        row[f"{key}_{channel}"] = scored[key]
        add_quality(row, records, self.quality, "respond", item.id)
        settle_status(row)
        return row

    def _score_rows(self, channel: str, rows: list[dict]) -> list[dict[str, Any]]:
        kinds = [kind_of(r["channels"][channel].get("error")) for r in rows]
        system, measurement = kinds.count(SYSTEM), kinds.count(MEASUREMENT)
        base = {"lang": self.set_spec.lang, "channel": channel, "headline": channel == "speech",
                "uro_set": self.set_spec.name, "mode": self.set_spec.mode}
        if self.set_spec.mode != "wer":
            values = [r[f"uro_score_{channel}"] for r in rows if r["channels"][channel]["status"] == "ok"]
            row = mean_row(self.options, {"name": "uro_score", **base, "unit": "score 0-100"}, values, system,
                           measurement, 0.0, "judge_score")
            return [{**row, "failure_rule": URO_FAILURE_RULE}]
        ok_wers = [r[f"wer_{channel}"] for r in rows if r["channels"][channel]["status"] == "ok"]
        wers = ok_wers + [1.0] * system  # a failed answer: URO's WER 1 (an empty or missing transcript)
        figure = scoring.repeat_score(wers)
        cov = coverage(len(ok_wers), system, measurement)
        out = [{"name": "uro_score", **base, "unit": "score 0-100", "aggregation": "repeat-formula",
                "value": figure["score"] if wers else None, "ci95": self._repeat_ci(wers), "n": len(wers),
                "coverage": cov, "scored_only": {"value": scoring.repeat_score(ok_wers)["score"] if ok_wers else None,
                                                 "n": len(ok_wers)}, "failure_rule": URO_FAILURE_RULE}]
        for name, key, unit in (("uro_ok_rate", "ok_rate", "rate"), ("uro_wer_ok", "final_WER_for_ok_case", "rate")):
            out.append({"name": name, **base, "headline": False, "unit": unit, "aggregation": "repeat-formula",
                        "value": figure[key] if wers else None, "ci95": None, "n": len(wers), "coverage": cov,
                        "failure_rule": URO_FAILURE_RULE})
        return out

    def _repeat_ci(self, wers: list[float]) -> list[float] | None:
        """Percentile bootstrap of the Repeat formula over items (seeded)."""
        if not self.options.bootstrap_resamples or not wers:
            return None
        arr = np.asarray(wers)
        rng = np.random.default_rng(self.options.seed)
        stats = [scoring.repeat_score(list(arr[rng.integers(0, len(arr), len(arr))]))["score"]
                 for _ in range(self.options.bootstrap_resamples)]
        return [float(np.quantile(stats, 0.025)), float(np.quantile(stats, 0.975))]

    def _asr_wer_rows(self, rows: list[dict]) -> list[dict[str, Any]]:
        """URO's ASR-WER (mark_wer.eval_wav): per item WER(text channel, speech transcript), then the mean; an
        answer without speech counts 1 (URO's ASR of a missing wav is " ")."""
        lang = self.set_spec.lang
        values, system, measurement = [], 0, 0
        for row in rows:
            if "text" not in row:
                continue
            speech_error = row["channels"]["speech"].get("error")
            if "transcript" in row:
                row["uro_asr_wer"] = scoring.uro_wer(lang, row["text"], row["transcript"])
                values.append(row["uro_asr_wer"])
            elif kind_of(speech_error) == MEASUREMENT:
                measurement += 1
            else:
                system += 1
        if not values and not system:
            return []
        name = "uro_asr_cer" if lang == "zh" else "uro_asr_wer"
        row = mean_row(self.options, {"name": name, "lang": lang, "channel": "speech", "headline": False,
                                      "unit": "rate", "reference": "the model's text channel"},
                       values, system, measurement, 1.0, "text_speech")
        return [row]
