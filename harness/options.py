"""Options that shape results: frozen, commented, written into every results.json."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

RETRY_MODES = ("none", "measurement", "all")
NO_LLM_JUDGE = "none"  # --llm-judge none / options.llm_judge: none: an S2S task runs without an LLM judge


class ConfigError(ValueError):
    """A configuration mistake found before any model loads; the message says what to do."""


@dataclass(frozen=True)
class RunOptions:
    task: str                                   # registered task name (python -m harness list tasks)
    model: str                                  # registered model name, evaluated by the task
    model_args: dict[str, str] = field(default_factory=dict)     # --model-arg key=value, passed to the adapter
    dataset: str | None = None                  # None: the task's default dataset
    dataset_args: dict[str, str] = field(default_factory=dict)   # --dataset-arg key=value
    judges: dict[str, str] = field(default_factory=dict)         # --judge lang=model: per-language ASR judge override
    judge_args: dict[str, dict[str, str]] = field(default_factory=dict)  # --judge-arg lang.key=value
    offline_judges: bool = False                # use the task's offline judge set instead of the published one
    # --llm-judge openai:MODEL | hf:PATH | none (S2S tasks; None: the task's; "none": no LLM judge, recorded as such)
    llm_judge: str | None = None
    llm_judge_args: dict[str, str] = field(default_factory=dict)  # --llm-judge-arg key=value (base_url, prompt, n, ...)
    # --quality-judge NAME[:KEY=VALUE,...]: speech-quality judges (dnsmos, distillmos, utmos, sim, ...) -> options;
    # added to the task YAML's options.quality_judges, and required (a missing model is a configuration error)
    quality_judges: dict[str, dict[str, str]] = field(default_factory=dict)
    # --reference-scorer: S2S tasks also score each answer against the dataset's reference answer (exact match,
    # contains, WER/CER; harness.tasks.s2s_reference); added to the task YAML's options.reference_scorer
    reference_scorer: bool = False
    limit: int | None = None                    # evaluate the first N manifest items only
    batch_size: int = 8                         # samples per model call
    output_dir: str = "runs/default"            # cache, artifacts, results.json, samples.jsonl
    retry_failed: str = "none"                  # re-run cached failures: "measurement" (judges, I/O) or "all"
    bootstrap_resamples: int = 1000             # resamples for the 95 % interval
    seed: int = 0                               # seeds the bootstrap (and generation, for sampling models)
    progress: bool = True                       # show progress bars
    name: str | None = None                     # --name: what tables call the system under test (a label only)
    overwrite: bool = False                     # --overwrite: replace a finished result of another spec in output_dir

    def __post_init__(self) -> None:
        # Incompatible or impossible options fail here, in one place.
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be at least 1 (got {self.limit})")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1 (got {self.batch_size})")
        if self.retry_failed not in RETRY_MODES:
            raise ConfigError(f"--retry-failed {self.retry_failed!r}: use one of {', '.join(RETRY_MODES)}")
        if self.bootstrap_resamples < 0:
            raise ConfigError("--bootstrap-resamples must be >= 0")
        if self.offline_judges and self.judges and set(self.judges) >= {"en", "zh"}:
            raise ConfigError("--offline-judges and --judge for every language conflict: "
                              "--judge already names each judge; drop one of the two options")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# What makes two runs the same measurement: a finished result in a folder is replaced only by a run that agrees
# on all of these (or with --overwrite). Labels, speed and bookkeeping options (name, batch size, retries,
# bootstrap resamples, progress, the folder itself) may change between a run and its rerun.
SPEC_FIELDS = ("task", "model", "model_args", "dataset", "dataset_args", "judges", "judge_args", "offline_judges",
               "llm_judge", "llm_judge_args", "quality_judges", "reference_scorer", "limit", "seed")


def spec_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``field: old -> new`` for each spec field on which two results' ``options`` blocks differ (a field an
    older results file lacks counts as its default)."""
    defaults = RunOptions(task="", model="").to_dict()
    out = []
    for key in SPEC_FIELDS:
        before, after = old.get(key, defaults[key]), new.get(key, defaults[key])
        if before != after:
            out.append(f"{key}: {before!r} -> {after!r}")
    return out


def judge_hint(message: str, lang: str, offline_judges: bool = False) -> str:
    """A model's own advice (``--model-arg KEY=...``, ``--model-path DIR``) said for the judge of ``lang``, where
    the options are ``--judge-arg LANG.KEY=...``, with the offline judges as the other way out."""
    text = message.replace("--model-path ", f"--judge-arg {lang}.path=").replace("--model-arg ", f"--judge-arg {lang}.")
    return text + ("" if offline_judges else "; or pass --offline-judges (the judges that install offline)")
