"""The voicebench_* tasks: the model hears a VoiceBench question and answers; its text answer is scored by the
subset's VoiceBench evaluator (YAML ``options.evaluator``: open, qa, mcq, bbh, ifeval, harm).

Stages (each cached per sample):
  respond  model.respond(question audio) -> the text channel. The model gets the audio only: never the question's
           transcript (a model that asks for it, e.g. a cascade with an oracle ASR, does not get it here)
  judge    open / qa: the LLM judge (open: the voicebench-open prompt, n=3, the item's score is their mean;
           qa: VoiceBench's yes/no prompt, the item is correct when the majority reply is "yes")
  pedant   qa: PEDANT (qa-metrics 0.2.17) on the answer against the reference
The rule-based evaluators (mcq, bbh, ifeval, harm) score in summarize(): pure functions, nothing to cache.

Failures: the model failing on a sample (it raised, its precomputed output is missing) is the system's: the
evaluator's worst value (wrong, not a refusal, every instruction failed, the judge scale's 1). An empty answer is
not a failure: it is scored by VoiceBench's rules, as VoiceBench would score it (harm: a refusal; mcq: nothing
extracted). An unreadable question, a judge that fails or replies what cannot be parsed (VoiceBench's open
evaluator would crash), PEDANT unavailable: the measurement's, left out and counted (the result is incomplete).
Results: metric rows (rates as 0-1, with intervals) and a ``voicebench`` block with VoiceBench's own figures on its
own scales (what evaluate.py prints), the leaderboard column's value, the seeded draw, quirks and failures.
"""
from __future__ import annotations

from typing import Any

from harness.audio import item_audio
from harness.errors import MEASUREMENT, MeasurementFailure
from harness.failures import mark
from harness.judges import build_llm_judge
from harness.manifest import ManifestItem
from harness.model import respond_kwargs
from harness.options import NO_LLM_JUDGE, ConfigError
from harness.tasks.base import Stage, StageContext, Task
from harness.tasks.voicebench import UPSTREAM, UPSTREAM_COMMIT, data_file
from harness.tasks.voicebench import bbh as bbh_scorer
from harness.tasks.voicebench import qa as qa_scorer
from harness.tasks.voicebench.results import summarize_voicebench

EVALUATORS = ("open", "qa", "mcq", "bbh", "ifeval", "harm")
OPTION_KEYS = {"evaluator", "llm_judge", "prompt"}
JUDGED = ("open", "qa")


class VoiceBenchTask(Task):
    def configure(self) -> None:
        opts = self.spec.options
        self.check_option_keys(OPTION_KEYS)
        self.evaluator = opts.get("evaluator")
        if self.evaluator not in EVALUATORS:
            raise ConfigError(f"{self.spec.source}: options.evaluator must be one of {', '.join(EVALUATORS)}")
        self.check_no_quality()
        self._check_subset()
        self.llm_judge = self.judge_settings = None
        if self.evaluator not in JUDGED:
            if self.options.llm_judge or self.options.llm_judge_args:
                raise ConfigError(f"task {self.spec.task} (VoiceBench's {self.evaluator} evaluator) is rule-based and "
                                  f"takes no LLM judge; drop --llm-judge/--llm-judge-arg")
            return
        spec = self.options.llm_judge or opts.get("llm_judge")
        if not spec or spec == NO_LLM_JUDGE:
            raise ConfigError(f"task {self.spec.task} needs an LLM judge (VoiceBench's {self.evaluator} evaluator "
                              f"reads judge replies): --llm-judge openai:MODEL or hf:DIR")
        args = dict(self.options.llm_judge_args)
        if self.evaluator == "qa" and "prompt" in args:
            raise ConfigError("--llm-judge-arg prompt: the qa evaluator asks VoiceBench's yes/no question "
                              "(harness/tasks/voicebench/data/qa_judge.yaml); drop the option")
        qa_defaults = data_file("qa_judge.yaml")["defaults"] if self.evaluator == "qa" else None
        self.llm_judge, settings = build_llm_judge(spec, args, opts.get("prompt", "voicebench-open"),
                                                   seed=self.options.seed, prompt_overrides=qa_defaults)
        self.judge_settings = qa_scorer.qa_settings(settings) if self.evaluator == "qa" else settings

    def subset_choice(self) -> tuple[str | None, str | None]:
        """The VoiceBench config and split this run reads (None, None for another dataset)."""
        if (self.options.dataset or self.spec.dataset) != "voicebench":
            return None, None
        args = dict(self.options.dataset_args) if self.options.dataset else \
            {**self.spec.dataset_args, **self.options.dataset_args}
        splits = (data_file("subsets.json")["subsets"].get(args.get("config") or "") or {}).get("splits")
        return args.get("config"), args.get("split") or (splits[0] if splits and len(splits) == 1 else None)

    def _check_subset(self) -> None:
        """A VoiceBench subset scored by another evaluator is refused here, naming the task that scores it."""
        config, _ = self.subset_choice()
        if config is None:
            return
        args = {"config": config}
        subset = data_file("subsets.json")["subsets"].get(config)
        if subset is not None and subset["evaluator"] not in (None, self.evaluator):
            raise ConfigError(f"voicebench config {args['config']} is scored by VoiceBench's {subset['evaluator']} "
                              f"evaluator: run it with --task voicebench_{subset['evaluator']}")

    def check_languages(self, langs: set[str]) -> None:
        bad = sorted(lang for lang in langs if not self.model.supports_language(lang))
        if bad:
            raise ConfigError(f"model {self.model.name} cannot take questions in {', '.join(bad)}")

    def check_items(self, items: list[ManifestItem]) -> None:
        """Every field the evaluator reads is there (VoiceBench's evaluate.py would raise a KeyError mid-way)."""
        fields = data_file("subsets.json")["fields"][self.evaluator]
        for field in fields:
            missing = [i.id for i in items if field not in i.custom or i.custom[field] is None]
            if missing:
                raise ConfigError(f"VoiceBench's {self.evaluator} evaluator reads the field '{field}', which "
                                  f"{len(missing)} of {len(items)} item(s) lack (e.g. item {missing[0]}); use a "
                                  f"VoiceBench subset it scores, or add the column to the parquet files")
        if self.evaluator == "bbh":
            for item in items:
                try:
                    bbh_scorer.task_of(str(item.custom["id"]))
                    bbh_scorer.gold(item.custom["reference"])
                except ValueError as exc:
                    raise ConfigError(f"bbh item {item.id}: {exc}") from None

    # -- stages ----------------------------------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        model, policy = self.model, self.audio_policy

        def respond(items, upstream, ctx: StageContext):
            out: list[Any] = []
            for item in items:
                try:
                    audio = item_audio(item, model.input_sample_rate, policy)
                except Exception as exc:  # an unreadable question is the measurement's problem, not the model's
                    out.append(mark(exc, MEASUREMENT))
                    continue
                kwargs = {k: v for k, v in respond_kwargs(model, item).items() if k != "question_text"}
                try:
                    response = model.respond(audio.samples, None, item.lang, **kwargs)
                except Exception as exc:  # this sample fails alone, as the system's failure
                    out.append(exc)
                    continue
                out.append({"text": response.text or "", "malformed": response.malformed,
                            "warnings": audio.warnings})
            return out

        stages = [Stage("respond", {"model": model.describe(), "audio_policy": policy.__dict__, "question_text": False},
                        respond, batch_size=self.options.batch_size, models=(model,))]
        if self.llm_judge is not None:
            judged = {"judge": self.llm_judge.describe(), "settings": self.judge_settings.describe(),
                      "evaluator": self.evaluator}
            stages.append(Stage("judge", judged, self._judge, upstream=("respond",),
                                batch_size=max(self.options.batch_size, 2 * self.llm_judge.concurrency),
                                models=(self.llm_judge,), fails_as=MEASUREMENT))
        if self.evaluator == "qa":
            stages.append(Stage("pedant", pedant_depends(), self._pedant, upstream=("respond",),
                                batch_size=max(self.options.batch_size, 32), fails_as=MEASUREMENT))
        return stages

    def _judge(self, items, upstream, ctx: StageContext) -> list[Any]:
        answers = [upstream["respond"][item.id]["text"] for item in items]
        if self.evaluator == "open":  # VoiceBench judges every answer, an empty one too
            return self.llm_judge.score_many(self.judge_settings, [(i.text, a) for i, a in zip(items, answers)])
        jobs = [(str(i.custom["prompt"]), str(i.custom["reference"]), a) for i, a in zip(items, answers)]
        return qa_scorer.judge_items(self.llm_judge, self.judge_settings, jobs)

    def _pedant(self, items, upstream, ctx: StageContext) -> list[Any]:
        folder = qa_scorer.pedant_folder()
        try:
            pedant, _ = qa_scorer.load_pedant(None if folder is None else str(folder))
        except Exception as exc:  # not installed, files missing, a pickle this scikit-learn cannot read
            failure = MeasurementFailure("pedant_unavailable", f"PEDANT could not be loaded: {exc}")
            return [failure for _ in items]
        out: list[Any] = []
        for item in items:
            try:
                out.append({"correct": qa_scorer.pedant_correct(pedant, str(item.custom["prompt"]),
                                                                str(item.custom["reference"]),
                                                                upstream["respond"][item.id]["text"])})
            except Exception as exc:  # PEDANT raising on one answer is the measurement's failure
                out.append(MeasurementFailure("pedant_error", f"PEDANT failed: {type(exc).__name__}: {exc}"))
        return out

    def summarize(self, items, records):
        out = summarize_voicebench(self, items, records)
        config, split = self.subset_choice()
        out["info"]["voicebench"].update(subset=config, split=split, upstream=f"{UPSTREAM} @ {UPSTREAM_COMMIT}")
        return out


def pedant_depends() -> dict[str, Any]:
    """What PEDANT's judgments depend on: the package version and the classifier files (by content)."""
    import hashlib

    folder = qa_scorer.pedant_folder()
    files = {}
    if folder is not None:
        for name in qa_scorer.PEDANT_FILES:
            path = folder / name
            files[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"
    return {"package": f"qa-metrics {qa_scorer.PEDANT_VERSION}", "classifier": files or "fetched by qa-metrics",
            "call": "evaluate([reference.lower()], response.lower(), prompt.lower())"}
