"""The mini-CSLM pipeline, step by step; each step is skipped when its output exists (resumable after a kill).

Output folder (``output_dir``):
    world/            build-world output (sentences, QA, speech, manifests)
    base-init/        random tiny Llama + BPE tokenizer trained on the world's en + zh text
    base/             stage 0: that model trained on the world's text (instructions + MT): the "Llama-3.1-8B-Instruct"
    merged/           merge-vocab of base/ with exactly the codec's number of unit tokens (never trained on speech)
    init/             merge-vocab of base-init/ (nothing trained at all): the other untrained baseline
    data/             build-cpt / build-sft records (+ .report.json): mt, instruct, asr-/tts-<lang>, sft-<layout>
    cpt/ sft-interleaved/ sft-full/ cpt-nomt/ sft-nomt/     trained checkpoints (harness-loadable folders)
    eval/             held-out harness manifests (local loader: id, text, lang, audio[, reference])
    results/<checkpoint>/<run>/results.json, results/summary.{json,md}
    steps.json        one entry per step: ran (seconds) or skipped
    units-cache/      speech-tokenizer cache shared by the data builders and the harness
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from training.mini_cslm import data as D
from training.mini_cslm.evals import curve_block, plan, run_one, summarize
from training.mini_cslm.recipe import MiniRecipe
from training.mini_cslm.report import build_board
from training.mini_cslm.steps import Steps

log = logging.getLogger("training.mini_cslm")
DONE = "train_summary.json"  # the trainer writes it last


def _train(recipe: MiniRecipe, block: str, stage: str, model: Path, out: Path, sources: list[dict],
           curves: dict | None = None) -> None:
    from training.trainer import train

    extra = {"harness_eval": curves} if curves else {}
    train(recipe.training(block, stage=stage, model=str(model), output_dir=str(out), data=sources, **extra))


def run_pipeline(recipe: MiniRecipe, progress: bool = True) -> dict:
    if recipe.threads:
        import torch

        torch.set_num_threads(recipe.threads)
    out = Path(recipe.output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "mini_recipe.json").write_text(json.dumps(recipe.to_dict(), indent=2) + "\n", encoding="utf-8")
    world, data, cache = out / "world", out / "data", out / "units-cache"
    codec = str(Path(recipe.codec).resolve())
    evals = plan(recipe.ablations, recipe.eval_runs)
    ablation_steps = 3 if recipe.ablations else 0
    steps = Steps(out, total=11 + ablation_steps + len(evals), progress=progress)

    def curves(block: str) -> dict | None:  # evaluation during training of the main CPT / interleaved SFT
        sets = recipe.curves.get(block)
        return curve_block(out, codec, sets, recipe.curve_limit, recipe.eval_max_new_tokens) if sets else None

    steps.run("world", world / "report.json", lambda: D.build_world(recipe, world, progress))
    steps.run("eval-data", out / "eval" / "sets.json", lambda: D.eval_manifests(world, out / "eval"))
    steps.run("base-init", out / "base-init" / "model.safetensors", lambda: _base_init(recipe, world, out))
    steps.run("text-data", data / "instruct.jsonl.report.json", lambda: D.build_text_data(world, data))
    steps.run("stage0-text", out / "base" / DONE, lambda: _train(
        recipe, "stage0", "text", out / "base-init", out / "base", D.sources(data, ["instruct.jsonl", "mt.jsonl"], recipe.stage0_mix)))
    steps.run("merge-vocab", out / "merged" / "cslm_vocab.json", lambda: D.run_cli(
        ["merge-vocab", "--base", str(out / "base"), "--out", str(out / "merged"), "--n-units", str(recipe.codes()),
         "--seed", str(recipe.seed)]))
    steps.run("merge-init", out / "init" / "cslm_vocab.json", lambda: D.run_cli(  # the untrained baseline
        ["merge-vocab", "--base", str(out / "base-init"), "--out", str(out / "init"), "--n-units", str(recipe.codes()),
         "--seed", str(recipe.seed)]))
    steps.run("cpt-data", data / "tts-zh.jsonl.report.json", lambda: D.build_speech_data(world, data, codec, cache))
    speech = [f"{k}-{lang}.jsonl" for k in ("asr", "tts") for lang in D.LANGS]
    steps.run("cpt", out / "cpt" / DONE, lambda: _train(
        recipe, "cpt", "cpt", out / "merged", out / "cpt",
        D.sources(data, [*speech, "mt.jsonl", "instruct.jsonl"], recipe.cpt_mix), curves("cpt")))
    steps.run("sft-data", data / "sft-full.jsonl.report.json", lambda: D.build_sft_data(recipe, world, data, cache))
    steps.run("sft-interleaved", out / "sft-interleaved" / DONE, lambda: _train(
        recipe, "sft", "sft", out / "cpt", out / "sft-interleaved", D.sources(data, ["sft-interleaved.jsonl"]),
        curves("sft")))
    if recipe.ablations:
        steps.run("sft-full", out / "sft-full" / DONE, lambda: _train(
            recipe, "sft", "sft", out / "cpt", out / "sft-full", D.sources(data, ["sft-full.jsonl"])))
        steps.run("cpt-nomt", out / "cpt-nomt" / DONE, lambda: _train(
            recipe, "cpt", "cpt", out / "merged", out / "cpt-nomt", D.sources(data, [*speech, "instruct.jsonl"], recipe.cpt_mix)))
        steps.run("sft-nomt", out / "sft-nomt" / DONE, lambda: _train(
            recipe, "sft", "sft", out / "cpt-nomt", out / "sft-nomt", D.sources(data, ["sft-interleaved.jsonl"])))
    for run in evals:
        steps.run(f"eval:{run.checkpoint}/{run.name}", out / "results" / run.checkpoint / run.name / "results.json",
                  lambda run=run: run_one(run, out, codec, recipe.eval_limit, recipe.eval_max_new_tokens, progress),
                  keep_going=True)  # one evaluation that cannot run (e.g. BELLE not found) leaves the others
    table = summarize(out, evals)
    failed = steps.failed()
    timing = steps.close()
    board = build_board(out, Path(recipe.board), timing) if recipe.board else None
    return {"output_dir": str(out), "results": table, "seconds_this_run": timing["seconds_this_run"],
            "seconds_all_runs": timing["seconds_all_runs"], "board": board, "failed": failed}


def _base_init(recipe: MiniRecipe, world: Path, out: Path) -> None:
    from training.tiny_base import build_tiny_base

    build_tiny_base(out / "base-init", D.text_corpus(world), hidden=recipe.base_hidden, layers=recipe.base_layers,
                    seed=recipe.seed, vocab_size=recipe.base_vocab_size)
