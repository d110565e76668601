"""Shared task machinery: stages (the unit the runner caches) and the Task base class."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.audio import AudioPolicy
from harness.errors import MEASUREMENT, SYSTEM
from harness.manifest import ManifestItem
from harness.options import ConfigError, RunOptions
from harness.tasks.spec import TaskSpec

# process(items, upstream, ctx) -> one output dict or one Exception per item, in order.
# ``upstream`` maps an upstream stage name to {sample id: that stage's output}.
StageFn = Callable[[list[ManifestItem], dict[str, dict[str, dict]], "StageContext"], list[Any]]


@dataclass
class Stage:
    name: str                                  # "synthesize", "transcribe", "score", ...
    depends: dict[str, Any]                    # everything the outputs depend on (hashed into the cache key)
    process: StageFn
    upstream: tuple[str, ...] = ()             # stages whose successful outputs this one reads
    batch_size: int = 1
    models: tuple[Any, ...] = ()               # models loaded (once) before the first batch runs
    # Whose failure a failed sample of this stage is, unless the error says otherwise (harness.errors):
    # the system under test's stages fail as SYSTEM, judges' stages as MEASUREMENT.
    fails_as: str = SYSTEM


@dataclass
class StageContext:
    output_dir: Path
    artifact_dir: Path                         # where this stage writes files (wavs), keyed like its cache


@dataclass
class Task:
    spec: TaskSpec
    options: RunOptions
    model: Any = None                          # the evaluated model adapter (constructed, not loaded)
    judges: dict[str, Any] = field(default_factory=dict)  # lang -> judge adapter
    # Whether the task can score answers against the dataset's reference answers (--reference-scorer).
    takes_reference_scorer = False

    @property
    def audio_policy(self) -> AudioPolicy:
        try:
            return AudioPolicy(**self.spec.audio)
        except TypeError as exc:
            raise ConfigError(f"{self.spec.source}: bad 'audio' options: {exc}") from None

    def judge_names(self) -> dict[str, str]:
        """Per-language ASR judges: the task's published set, or its offline set, then --judge overrides."""
        names = dict(self.spec.offline_judges if self.options.offline_judges else self.spec.judges)
        names.update(self.options.judges)
        return names

    def check_languages(self, langs: set[str]) -> None:
        """Refuse (before loading) a dataset language that the model or a judge cannot handle."""

    def check_items(self, items: list[ManifestItem]) -> None:
        """Refuse (before any sample runs) a dataset whose items lack what the task needs (e.g. reference answers)."""

    def check_judges(self, langs: set[str], what: str = "language(s)") -> None:
        """Every language in ``langs`` has an ASR judge that can transcribe it."""
        missing = sorted(langs - set(self.judge_names()))
        if missing:
            raise ConfigError(f"task {self.spec.task} has no ASR judge for {what} {', '.join(missing)}; "
                              f"add one with --judge {missing[0]}=MODEL")
        for lang in sorted(langs):
            if not self.judges[lang].supports_language(lang):
                raise ConfigError(f"judge {self.judges[lang].name} cannot transcribe {lang}; "
                                  f"choose another with --judge {lang}=MODEL")

    def judge_languages(self, item_langs: set[str]) -> set[str]:
        """Languages the ASR judges must cover: the dataset's, unless the task answers in another language."""
        return item_langs

    def configure(self) -> None:
        """Check task options and construct task-specific helpers (e.g. an LLM judge); runs in plan(), before
        any model loads, so a mistake there fails fast."""
        if self.options.llm_judge or self.options.llm_judge_args:
            raise ConfigError(f"task {self.spec.task} has no LLM judge; drop --llm-judge/--llm-judge-arg")
        self.check_no_quality()

    def check_option_keys(self, known: set[str] | frozenset[str]) -> None:
        """The task YAML's ``options`` must be among ``known``: a typo there fails naming the file and the keys."""
        unknown = sorted(set(self.spec.options) - set(known))
        if unknown:
            raise ConfigError(f"{self.spec.source}: unknown option(s) {', '.join(unknown)}; known: "
                              f"{', '.join(sorted(known))}")

    def check_no_quality(self) -> None:
        """Tasks whose system produces no speech take no speech-quality judge."""
        if self.options.quality_judges or self.spec.options.get("quality_judges"):
            raise ConfigError(f"task {self.spec.task} produces no speech to judge; drop --quality-judge "
                              f"(quality judges serve tts_wer and the S2S tasks)")

    def stages(self) -> list[Stage]:
        raise NotImplementedError

    def summarize(self, items: list[ManifestItem], records: dict[str, dict[str, dict]]) -> dict[str, Any]:
        raise NotImplementedError


def walk_stages(records: dict[str, dict[str, dict]], stage_names, item_id: str):
    """Each stage's output for one sample, in stage order, and the first failure along the way (or None).

    A stage with no record for the sample while its upstream succeeded (a run stopped early) counts as
    ``not_run``, a measurement failure: the result is incomplete until a rerun fills it.
    """
    outputs: dict[str, dict] = {}
    failed = None
    for stage in stage_names:
        if stage not in records:
            continue
        rec = records[stage].get(item_id)
        if rec is None:
            failed = failed or {"stage": stage, "code": "not_run", "message": "no record (the run stopped early)",
                                "kind": MEASUREMENT}
        elif rec["error"]:
            failed = failed or rec["error"]
        else:
            outputs[stage] = rec["output"]
    return outputs, failed
