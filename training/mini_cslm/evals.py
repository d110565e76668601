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
    data: str                       # held-out set: eval/<data>.jsonl
    lang: str                       # the set's language (the loader's default)
    args: tuple[tuple[str, str], ...] = ()  # extra model args (decoding=cross, chain=full)


CROSS = (("decoding", "cross"),)
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
    EvalRun("sft", "qa-en", "s2s_reference_qa", "qa-en", "en"),
    EvalRun("sft", "qa-zh", "s2s_reference_qa", "qa-zh", "zh"),
    EvalRun("sft", "cross-zh2en", "s2s_cross", "cross-zh2en", "zh", CROSS),
    EvalRun("sft", "latency", "latency", "qa-en", "en"),
    EvalRun("sft-full", "qa-en", "s2s_reference_qa", "qa-en", "en", (("chain", "full"),)),
    EvalRun("sft-full", "latency", "latency", "qa-en", "en", (("chain", "full"),)),
    EvalRun("sft-nomt", "cross-zh2en", "s2s_cross", "cross-zh2en", "zh", CROSS),
)


def plan(ablations: bool, names: list[str] | tuple[str, ...] = ()) -> list[EvalRun]:
    """The runs of PLAN to do: all, or those named ``checkpoint/run``; no ablation checkpoint without ablations."""
    return [r for r in PLAN if (ablations or r.checkpoint not in ABLATION_CHECKPOINTS)
            and (not names or f"{r.checkpoint}/{r.name}" in names)]


def run_one(run: EvalRun, out: Path, codec: str, limit: int, max_new_tokens: int, progress: bool) -> Path:
    """One harness evaluation; returns its results.json."""
    from harness.options import RunOptions
    from harness.runner import evaluate

    folder = out / "results" / run.checkpoint / run.name
    model_args = {"path": str(out / CHECKPOINTS[run.checkpoint]), "speech_tokenizer": codec,
                  "unit_cache": str(out / "units-cache"), "vocoder": f"codec:{codec}", "do_sample": "false",
                  "max_new_tokens": str(max_new_tokens),
                  # every checkpoint, the untrained start included, decodes with the prompt training used
                  "prompt_mode": "generation-prompt", **dict(run.args)}
    s2s = run.task.startswith("s2s")
    evaluate(RunOptions(task=run.task, model="cslm", model_args=model_args, dataset="local",
                        dataset_args={"path": str(out / "eval" / f"{run.data}.jsonl"), "lang": run.lang},
                        offline_judges=True, llm_judge="none" if s2s else None, reference_scorer=s2s,
                        limit=limit, output_dir=str(folder), bootstrap_resamples=0, progress=progress))
    return folder / "results.json"


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
