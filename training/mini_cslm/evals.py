"""The harness evaluations of the mini-CSLM checkpoints: which checkpoint runs which task on which held-out set,
and the summary table of their headline figures (results/summary.json, results/summary.md)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Checkpoint folders under the output folder. The two untrained starts: "init" is merge-vocab of the random
# stage-0 initialisation (nothing trained at all), "merged" the merge of the trained stage-0 text model (never
# trained on speech: the paper's merged Llama-3.1-8B-Instruct).
CHECKPOINTS = {"init": "init", "merged": "merged", "cpt": "cpt", "sft": "sft-interleaved", "sft-full": "sft-full",
               "cpt-nomt": "cpt-nomt", "sft-nomt": "sft-nomt"}
ABLATION_CHECKPOINTS = ("sft-full", "cpt-nomt", "sft-nomt")


@dataclass(frozen=True)
class EvalRun:
    checkpoint: str                 # key of CHECKPOINTS
    name: str                       # results/<checkpoint>/<name>/
    task: str                       # harness task
    data: str                       # held-out set: eval/<data>.jsonl (or the registry dataset's name)
    lang: str                       # the set's language (the loader's default)
    args: tuple[tuple[str, str], ...] = ()  # extra model args (decoding=cross, chain=full)
    dataset: str = "local"          # a registered dataset instead of the world's held-out set (out of domain)


CROSS = (("decoding", "cross"),)
# a three-sentence answer is about 300 tokens interleaved (units included): room for all of it on both layouts
LONG = (("max_new_tokens", "400"),)
FULL = (("chain", "full"),)
PLAN = (
    EvalRun("init", "asr-en", "asr_wer", "asr-en", "en"),
    EvalRun("init", "qa-en", "s2s_reference_qa", "qa-en", "en"),
    EvalRun("init", "qa-zh", "s2s_reference_qa", "qa-zh", "zh"),
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
)


def plan(ablations: bool, names: list[str] | tuple[str, ...] = ()) -> list[EvalRun]:
    """The runs of PLAN to do: all, or those named ``checkpoint/run``; no ablation checkpoint without ablations."""
    return [r for r in PLAN if (ablations or r.checkpoint not in ABLATION_CHECKPOINTS)
            and (not names or f"{r.checkpoint}/{r.name}" in names)]


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


def task_options(task: str) -> dict[str, Any]:
    """S2S tasks are scored against the reference answers (no LLM judge runs offline)."""
    return {"llm_judge": "none", "reference_scorer": True} if task.startswith("s2s") else {}


def run_one(run: EvalRun, out: Path, codec: str, limit: int, max_new_tokens: int, progress: bool,
            path: Path | None = None, results: Path | None = None) -> Path:
    """One harness evaluation (of the checkpoint folder ``path``, default the run's pipeline checkpoint, into
    ``results``, default results/<checkpoint>/<run>); returns its results.json."""
    from harness.options import RunOptions
    from harness.runner import evaluate

    folder = results or out / "results" / run.checkpoint / run.name
    args = {**model_args(out, codec, max_new_tokens), "path": str(path or out / CHECKPOINTS[run.checkpoint]),
            **dict(run.args)}
    data_args = dataset_args(out, run.data, run.lang) if run.dataset == "local" else {}
    evaluate(RunOptions(task=run.task, model="cslm", model_args=args, dataset=run.dataset,
                        dataset_args=data_args, offline_judges=True,
                        limit=limit, output_dir=str(folder), bootstrap_resamples=0, progress=progress,
                        **task_options(run.task)))
    return folder / "results.json"


def curve_block(out: Path, codec: str, sets: list[str], limit: int, max_new_tokens: int) -> dict[str, Any]:
    """The training recipe's ``harness_eval`` mapping that evaluates held-out ``sets`` (asr-en, qa-en, ...) on
    each saved checkpoint of a stage: its curves (training.harness_eval)."""
    runs = []
    for data in sets:
        kind, _, lang = data.partition("-")
        task = CURVE_TASKS[kind]
        runs.append({"name": data, "task": task, "dataset": "local", "dataset_args": dataset_args(out, data, lang),
                     "limit": limit, "options": task_options(task)})
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
