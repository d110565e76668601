"""Speech-quality judges as task stages: which judges a run uses, their cached stages, their metric rows.

Which judges: the task YAML's ``options.quality_judges`` (a list of names, or a mapping name -> options, where
``optional: true`` turns a missing model into a recorded skip), plus every ``--quality-judge NAME[:KEY=VALUE,..]``
(always required). Each judge is built and checked at plan time: a missing model is a ConfigError naming the
download, before any sample runs.

Stages: one per judge, ``quality_<name>``, reading the speech the system produced (TTS: the ``synthesize``
artifact; S2S: the ``respond`` answer's speech channel), resampled to the judge's rate; cached per sample by the
judge's identity (package version, weight hash, options) and ``fails_as=MEASUREMENT``: a judge that fails
leaves the sample out and makes the result incomplete, while no/silent speech is the system's failure and
scores the metric's worst value (MOS: the scale's minimum, 1; speaker similarity: 0).

The reference voice of speaker-similarity judges: the judge's ``reference_audio=`` option when given; else, for
TTS, the manifest row's ``reference_audio`` custom field, or ``prompt_wav`` (seed-tts-eval's voice prompt);
for S2S, the question audio (does the answer keep the asker's voice; set ``reference_audio=`` to score against
an assistant's fixed voice instead). A sample without one fails as the measurement's (``no_reference``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.audio import AudioPolicy, item_audio, read_audio
from harness.errors import MEASUREMENT, SYSTEM, CodedError
from harness.failures import kind_of, mean_row
from harness.manifest import ManifestItem
from harness.model import ModelConfigError
from harness.options import ConfigError
from harness.tasks.base import Stage, StageContext, walk_stages

REFERENCE_POLICY = AudioPolicy(max_seconds=None)  # a reference voice of any length
SIM_FAILURE_RULE = "system failure (no speech): similarity 0, nothing of the reference voice"


@dataclass
class QualitySetup:
    judges: dict[str, Any] = field(default_factory=dict)      # name -> constructed, checked judge
    skipped: dict[str, str] = field(default_factory=dict)     # name -> why (optional judges whose model is absent)

    def stage_name(self, name: str) -> str:
        return f"quality_{name}"

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: {"status": "ran", **judge.describe()} for name, judge in self.judges.items()}
        out.update({name: {"status": "skipped", "reason": why} for name, why in self.skipped.items()})
        return out


def _yaml_judges(spec) -> dict[str, dict[str, Any]]:
    value = spec.options.get("quality_judges") or {}
    if isinstance(value, list):
        value = {str(name): {} for name in value}
    if not isinstance(value, dict) or not all(isinstance(v, dict) or v is None for v in value.values()):
        raise ConfigError(f"{spec.source}: options.quality_judges must be a list of names or a mapping "
                          f"name -> options")
    return {str(k): dict(v or {}) for k, v in value.items()}


def configure_quality(task) -> QualitySetup:
    """Build and check the run's quality judges (plan time: nothing loaded, nothing scored)."""
    from harness.judges.quality import build_quality_judge

    wanted = _yaml_judges(task.spec)
    for name, args in task.options.quality_judges.items():
        wanted[name] = {**wanted.get(name, {}), **args, "optional": False}  # asked for by name: required
    setup = QualitySetup()
    for name, args in wanted.items():
        optional = str(args.pop("optional", False)).lower() in ("true", "1", "yes")
        try:
            judge = build_quality_judge(name, args)
        except ModelConfigError as exc:
            raise ConfigError(f"--quality-judge {name}: {exc}") from None
        try:
            judge.check()
        except ModelConfigError as exc:
            if not optional:
                raise ConfigError(str(exc)) from None
            setup.skipped[name] = f"optional judge skipped: {exc}"
            continue
        setup.judges[name] = judge
    return setup


def reference_voice(item: ManifestItem, judge, s2s: bool):
    """The reference voice for a speaker-similarity judge, at the judge's rate (see the module docstring)."""
    if judge.reference_audio:
        return read_audio(judge.reference_audio, judge.sample_rate, REFERENCE_POLICY).samples
    if s2s:
        return item_audio(item, judge.sample_rate, REFERENCE_POLICY).samples
    ref = item.custom.get("reference_audio") or item.custom.get("prompt_wav")
    if not ref:
        raise CodedError("no_reference", f"{item.id}: {judge.name} needs a reference voice: a 'reference_audio' "
                                         f"field in the manifest or --quality-judge {judge.name}:reference_audio=WAV",
                         kind=MEASUREMENT)
    return read_audio(Path(ref), judge.sample_rate, REFERENCE_POLICY).samples


def quality_stages(task, setup: QualitySetup, source: str, speech_path: Callable[[dict], str],
                   policy: AudioPolicy, s2s: bool = False) -> list[Stage]:
    """One stage per judge after ``source``; ``speech_path(record)`` gives the speech artifact (relative to the
    output folder) of a successful ``source`` record, raising the system's failure when there is none."""
    stages = []
    for name, judge in setup.judges.items():
        def run(items, upstream, ctx: StageContext, judge=judge):
            out: list[Any] = []
            for item in items:
                try:
                    path = speech_path(upstream[source][item.id])
                    audio = read_audio(Path(ctx.output_dir) / path, judge.sample_rate, policy)
                    reference = reference_voice(item, judge, s2s) if judge.needs_reference else None
                    out.append({"scores": judge.score(audio.samples, reference),
                                "seconds": round(audio.seconds, 4)})
                except CodedError as exc:  # audio problems and missing references say whose failure they are
                    out.append(exc if exc.kind else CodedError(exc.code, str(exc), kind=MEASUREMENT))
                except Exception as exc:  # the judge itself failed: the measurement's failure (the stage's kind)
                    out.append(exc)
            return out

        reference = ("fixed" if getattr(judge, "reference_audio", None) else
                     "question audio" if s2s else "manifest reference_audio / prompt_wav")
        stages.append(Stage(setup.stage_name(name), {"judge": judge.describe(), "audio_policy": policy.__dict__,
                                                      "reference": reference if judge.needs_reference else None},
                            run, upstream=(source,), batch_size=task.options.batch_size, models=(judge,),
                            fails_as=MEASUREMENT))
    return stages


def add_quality(row: dict[str, Any], records, setup: QualitySetup, source: str, item_id: str) -> None:
    """Each judge's scores and status onto a sample row (``channels["quality_<name>"]``)."""
    channels = row.setdefault("channels", {})
    for name in setup.judges:
        stage = setup.stage_name(name)
        outputs, failed = walk_stages(records, (source, stage), item_id)
        if stage in outputs:
            row.update(outputs[stage]["scores"])
        channels[stage] = {"status": "ok"} if failed is None else {"status": f"{kind_of(failed)}_failure",
                                                                   "error": failed}


def settle_status(row: dict[str, Any]) -> None:
    """A row fails when any channel failed; its error is a measurement failure first (it decides completeness)."""
    errors = [c["error"] for c in row.get("channels", {}).values() if "error" in c]
    row["status"] = "failed" if errors else "ok"
    if errors:
        row["error"] = next((e for e in errors if kind_of(e) == MEASUREMENT), errors[0])
    else:
        row.pop("error", None)


def judge_label(judge) -> str:
    """The scorer's identity in metric rows (the leaderboard flags a cell scored by another one)."""
    desc = judge.describe()
    sha = (desc.get("weights_sha256") or "").split(":")[-1][:12]
    return f"{desc['id']} ({desc['package']} {desc['version']}, weights {sha})"


def quality_rows(options, setup: QualitySetup, lang: str, rows: list[dict], channel: str | None) -> list[dict]:
    """Mean rows with bootstrap intervals for every metric of every judge (system failures at the worst value)."""
    out = []
    for name, judge in setup.judges.items():
        stage = setup.stage_name(name)
        kinds = [kind_of(r["channels"][stage].get("error")) for r in rows if stage in r.get("channels", {})]
        system, measurement = kinds.count(SYSTEM), kinds.count(MEASUREMENT)
        for metric in judge.metrics:
            values = [r[metric.name] for r in rows if r.get("channels", {}).get(stage, {}).get("status") == "ok"]
            base = {"name": metric.name, "lang": lang, "headline": metric.headline, "unit": metric.unit,
                    "model": judge_label(judge)}
            if channel:
                base["channel"] = channel
            row = mean_row(options, base, values, system, measurement, metric.worst, "mos")
            if metric.unit == "cosine":
                row["failure_rule"] = SIM_FAILURE_RULE
            out.append(row)
    return out
