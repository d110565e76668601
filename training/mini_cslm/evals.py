"""The harness evaluations of the mini-CSLM checkpoints: which checkpoint runs which task on which held-out set,
and the summary table of their headline figures (results/summary.json, results/summary.md)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The CSLM checkpoints: key -> folder under the output folder, written by the training step named as the folder
# (the merges: merge-vocab, merge-init). The two untrained starts: "init" is merge-vocab of the random stage-0
# initialisation (nothing trained at all), "merged" the merge of the trained stage-0 text model (never trained on
# speech: the paper's merged Llama-3.1-8B-Instruct).
CSLM_CHECKPOINTS = {"init": "init", "merged": "merged", "cpt": "cpt", "sft": "sft-interleaved",
                    "sft-full": "sft-full", "cpt-nomt": "cpt-nomt", "sft-nomt": "sft-nomt"}
ABLATION_CHECKPOINTS = ("sft-full", "cpt-nomt", "sft-nomt")


@dataclass(frozen=True)
class CascadeSpec:
    """A cascade baseline (models/cascade.py) around the pipeline's stage-0 text model (base/)."""
    label: str                      # its name in results and on the board
    reference_asr: bool = False     # the question's transcript instead of Whisper: the text model alone


STAGE0_FOLDER, STAGE0_STEP = "base", "stage0-text"
# "cascade" hears the question (Whisper), answers with the stage-0 model in text and speaks it (the world's own
# voices); "stage0" is the same model reading the question's transcript: its text channel is the stage-0 model's
# QA on the very questions the spoken QA asks, scored the same way (the ceiling of the spoken figures).
CASCADES = {"cascade": CascadeSpec("cascade: whisper + stage-0 LLM + piper/espeak"),
            "stage0": CascadeSpec("stage-0 LLM on the question text (no ASR) + piper/espeak", reference_asr=True)}
# What pipeline.py reads: checkpoint key -> the step an evaluation of it waits for (the training step named as a
# CSLM checkpoint's folder; the cascades' LLM is stage 0's; pipeline.py adds the merges, as MADE_BY does)
CHECKPOINTS = {**CSLM_CHECKPOINTS, **{key: STAGE0_STEP for key in CASCADES}}
MADE_BY = {**CHECKPOINTS, "merged": "merge-vocab", "init": "merge-init"}
FOLDERS = {**CSLM_CHECKPOINTS, **{key: STAGE0_FOLDER for key in CASCADES}}  # checkpoint key -> what it loads
# Resamples of the 95 % bootstrap interval every evaluation reports (the harness's default; milliseconds per
# metric at a few hundred items)
BOOTSTRAP_RESAMPLES = 1000


def kind_of(name: str) -> str:
    """A run's (or held-out set's) kind: its name up to the first '-' (qa-zh -> qa)."""
    return name.split("-")[0]


@dataclass(frozen=True)
class EvalRun:
    checkpoint: str                 # key of CHECKPOINTS
    name: str                       # results/<checkpoint>/<name>/
    task: str                       # harness task
    data: str                       # held-out set: eval/<data>.jsonl (or the registry dataset's name)
    lang: str                       # the set's language (the loader's default)
    args: tuple[tuple[str, str], ...] = ()  # extra model args (decoding=cross, chain=full)
    dataset: str = "local"          # a registered dataset instead of the world's held-out set (out of domain)

    @property
    def kind(self) -> str:
        """What ``eval_limit`` may set per kind: asr, tts, qa, long, cross, latency (kind_of its name)."""
        return kind_of(self.name)


CROSS = (("decoding", "cross"),)
# a three-sentence answer is about 300 tokens interleaved (units included): room for all of it on both layouts
LONG = (("max_new_tokens", "400"),)
FULL = (("chain", "full"),)
PLAN = (
    EvalRun("init", "asr-en", "asr_wer", "asr-en", "en"),
    EvalRun("init", "qa-en", "s2s_reference_qa", "qa-en", "en"),
    EvalRun("merged", "asr-en", "asr_wer", "asr-en", "en"),
    EvalRun("merged", "asr-zh", "asr_wer", "asr-zh", "zh"),
    EvalRun("merged", "qa-en", "s2s_reference_qa", "qa-en", "en"),
    EvalRun("merged", "qa-zh", "s2s_reference_qa", "qa-zh", "zh"),
    EvalRun("cpt", "asr-en", "asr_wer", "asr-en", "en"),
    EvalRun("cpt", "asr-zh", "asr_wer", "asr-zh", "zh"),
    EvalRun("cpt", "tts-en", "tts_wer", "tts-en", "en"),
    EvalRun("cpt", "tts-zh", "tts_wer", "tts-zh", "zh"),
    # out of domain: real read Chinese speech (BELLE-eval-S2S questions, many speakers) never like the world's
    EvalRun("cpt", "asr-belle", "asr_wer", "belle-eval-s2s", "zh", dataset="belle-eval-s2s"),
    EvalRun("sft", "qa-en", "s2s_reference_qa", "qa-en", "en"),
    EvalRun("sft", "qa-zh", "s2s_reference_qa", "qa-zh", "zh"),
    EvalRun("sft", "cross-zh2en", "s2s_cross", "cross-zh2en", "zh", CROSS),
    # interleaved vs full chain-of-modality: quality on short and long answers, latency on the long ones
    EvalRun("sft", "long-en", "s2s_reference_qa", "long-en", "en", LONG),
    EvalRun("sft", "latency", "latency", "long-en", "en", LONG),
    EvalRun("sft-full", "qa-en", "s2s_reference_qa", "qa-en", "en", FULL),
    EvalRun("sft-full", "long-en", "s2s_reference_qa", "long-en", "en", FULL + LONG),
    EvalRun("sft-full", "latency", "latency", "long-en", "en", FULL + LONG),
    EvalRun("sft-nomt", "cross-zh2en", "s2s_cross", "cross-zh2en", "zh", CROSS),
    # the cascade on every task the interleaved CSLM runs with speech in: same sets, same judges, same hardware
    EvalRun("cascade", "qa-en", "s2s_reference_qa", "qa-en", "en"),
    EvalRun("cascade", "qa-zh", "s2s_reference_qa", "qa-zh", "zh"),
    EvalRun("cascade", "cross-zh2en", "s2s_cross", "cross-zh2en", "zh"),
    EvalRun("cascade", "long-en", "s2s_reference_qa", "long-en", "en", LONG),
    EvalRun("cascade", "latency", "latency", "long-en", "en", LONG),
    # the stage-0 model given the questions in text: the ceiling of the QA figures above
    EvalRun("stage0", "qa-en", "s2s_reference_qa", "qa-en", "en"),
    EvalRun("stage0", "qa-zh", "s2s_reference_qa", "qa-zh", "zh"),
    EvalRun("stage0", "long-en", "s2s_reference_qa", "long-en", "en", LONG),
)
KINDS = tuple(sorted({r.kind for r in PLAN}))  # the run kinds eval_limit may give their own limit
RUN_NAMES = tuple(sorted({r.name for r in PLAN} - set(KINDS)))  # and the run names (qa-zh): the more specific


def plan(ablations: bool, names: list[str] | tuple[str, ...] = ()) -> list[EvalRun]:
    """The runs of PLAN to do: all, or those named ``checkpoint/run``; no ablation checkpoint without ablations."""
    return [r for r in PLAN if (ablations or r.checkpoint not in ABLATION_CHECKPOINTS)
            and (not names or f"{r.checkpoint}/{r.name}" in names)]


def limit_for(limit: int | dict[str, int], name: str) -> int:
    """The recipe's ``eval_limit`` for the run (or held-out set) ``name``: one number for every run, or
    ``{default: N, KIND: M, NAME: K}``: the run's name (qa-zh) before its kind (qa, the name up to its '-')."""
    if isinstance(limit, int):
        return limit
    return int(limit.get(name, limit.get(kind_of(name), limit["default"])))


# What task each kind of held-out set (eval/<kind>-<lang>.jsonl) is measured with, for evaluation curves.
CURVE_TASKS = {"asr": "asr_wer", "qa": "s2s_reference_qa"}


def model_args(out: Path, codec: str, max_new_tokens: int) -> dict[str, str]:
    """The CSLM adapter options every evaluated checkpoint shares (its path added per run)."""
    # every checkpoint, the untrained start included, decodes greedily with the prompt training used
    return {"speech_tokenizer": codec, "unit_cache": str(out / "units-cache"), "vocoder": f"codec:{codec}",
            "do_sample": "false", "max_new_tokens": str(max_new_tokens), "prompt_mode": "generation-prompt"}


def dataset_args(out: Path, data: str, lang: str) -> dict[str, str]:
    """The local loader's arguments for held-out set ``data``, named ``mini-world-<kind>`` in results."""
    return {"path": str(out / "eval" / f"{data}.jsonl"), "lang": lang, "name": f"mini-world-{data.split('-')[0]}"}


def world_voices(out: Path) -> dict[str, Any]:
    """The voices the world was spoken with (its world.json recipe; the world recipe's defaults before it exists)."""
    path = out / "world" / "world.json"
    built = json.loads(path.read_text(encoding="utf-8"))["recipe"] if path.is_file() else {}
    defaults = {"piper_voice": "piper-en_US-joe-medium", "length_scale": 1.0, "espeak_voice": "cmn-latn-pinyin",
                "espeak_rate": 110}
    return {key: built.get(key, value) for key, value in defaults.items()}


def cascade_args(out: Path, checkpoint: str, max_new_tokens: int, llm: Path | None = None) -> dict[str, str]:
    """The cascade adapter's options for the cascade ``checkpoint`` (a CASCADES key): the bundled Whisper hears
    the question (tiny.en for English, base for Chinese: the task's own offline judges), or the item's transcript
    stands in for it (``reference_asr``); the stage-0 model (``llm``, default <out>/base) answers greedily in
    the chat format it was trained on (no system turn unless the answer's language is not the question's);
    the world's voices speak the answer: Piper without sampling noise (en), espeak-ng Mandarin (zh)."""
    spec, voices = CASCADES[checkpoint], world_voices(out)
    asr = ({"asr": "reference"} if spec.reference_asr
           else {"asr": "whisper-tiny.en-bundled", "asr_zh": "whisper-base-bundled"})
    return {**asr, "llm": f"hf:{llm or out / STAGE0_FOLDER}", "max_new_tokens": str(max_new_tokens),
            "system_prompt": "cross-lingual", "label": spec.label,
            "tts": str(voices["piper_voice"]), "tts.length_scale": str(voices["length_scale"]),
            "tts.noise_scale": "0", "tts.noise_w_scale": "0",
            "tts_zh": "espeak-ng-zh", "tts_zh.voice": str(voices["espeak_voice"]),
            "tts_zh.rate": str(voices["espeak_rate"])}


def task_options(task: str) -> dict[str, Any]:
    """S2S tasks are scored against the reference answers (no LLM judge runs offline)."""
    return {"llm_judge": "none", "reference_scorer": True} if task.startswith("s2s") else {}


def run_one(run: EvalRun, out: Path, codec: str, limit: int | dict[str, int], max_new_tokens: int, progress: bool,
            path: Path | None = None, results: Path | None = None) -> Path:
    """One harness evaluation (of the checkpoint folder ``path``, default the run's pipeline checkpoint, into
    ``results``, default results/<checkpoint>/<run>) on the first ``limit`` items (limit_for the run),
    with 95 % bootstrap intervals; returns its results.json."""
    from harness.options import RunOptions
    from harness.runner import evaluate

    folder = results or out / "results" / run.checkpoint / run.name
    if run.checkpoint in CASCADES:
        model, args = "cascade", {**cascade_args(out, run.checkpoint, max_new_tokens, path), **dict(run.args)}
    else:
        model = "cslm"
        args = {**model_args(out, codec, max_new_tokens), "path": str(path or out / FOLDERS[run.checkpoint]),
                **dict(run.args)}
        if run.task == "latency":  # the question is encoded afresh in the timed request, as the cascade's ASR runs:
            args["unit_cache"] = "none"  # cached units (an earlier run's) would leave the speech encoder out
    data_args = dataset_args(out, run.data, run.lang) if run.dataset == "local" else {}
    evaluate(RunOptions(task=run.task, model=model, model_args=args, dataset=run.dataset,
                        dataset_args=data_args, offline_judges=True, limit=limit_for(limit, run.name),
                        output_dir=str(folder), bootstrap_resamples=BOOTSTRAP_RESAMPLES, progress=progress,
                        **task_options(run.task)))
    return folder / "results.json"


def curve_block(out: Path, codec: str, sets: list[str], limit: int | dict[str, int], max_new_tokens: int) -> dict[str, Any]:
    """The training recipe's ``harness_eval`` mapping that evaluates held-out ``sets`` (asr-en, qa-en, ...) on
    each saved checkpoint of a stage: its curves (training.harness_eval)."""
    runs = []
    for data in sets:
        kind, _, lang = data.partition("-")
        task = CURVE_TASKS[kind]
        runs.append({"name": data, "task": task, "dataset": "local", "dataset_args": dataset_args(out, data, lang),
                     "limit": limit_for(limit, data), "options": task_options(task)})
    return {"model_args": model_args(out, codec, max_new_tokens), "runs": runs, "bootstrap_resamples": 0}


def headline(results: dict[str, Any]) -> dict[str, float | None]:
    """``[channel/]name[_lang]`` -> value of the results' headline metrics."""
    out = {}
    for m in results.get("metrics", []):
        if m.get("headline", True):
            key = "/".join(str(p) for p in (m.get("channel"), m["name"]) if p)
            out[f"{key}_{m['lang']}" if m.get("lang") else key] = m.get("value")
    return out


def summarize(out: Path, runs: list[EvalRun]) -> dict[str, Any]:
    table: dict[str, dict[str, dict]] = {}
    for run in runs:
        path = out / "results" / run.checkpoint / run.name / "results.json"
        if path.is_file():
            table.setdefault(run.checkpoint, {})[run.name] = headline(json.loads(path.read_text(encoding="utf-8")))
    (out / "results" / "summary.json").write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    lines = ["| checkpoint | run | metric | value |", "|---|---|---|---|"]
    for ckpt, by_run in table.items():
        for name, metrics in by_run.items():
            lines += [f"| {ckpt} | {name} | {k} | {'' if v is None else f'{v:.4g}'} |" for k, v in metrics.items()]
    (out / "results" / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return table
