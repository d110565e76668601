"""The mini-CSLM pipeline, step by step; each step is skipped when its output exists (resumable after a kill).

The steps form a graph (``pipeline_steps``: each names what it reads); with ``step_workers: 2`` two run at once
in worker processes as soon as their inputs exist (stage 0 beside the speech data and the untrained baseline's
evaluations, the CPT beside the CPT without MT, evaluations two by two).

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
    steps.json        one entry per step: ran (seconds, start and end) or skipped; wall time of all runs
    units-cache/      speech-tokenizer cache shared by the data builders and the harness
"""
from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path

from training.mini_cslm import data as D
from training.mini_cslm.evals import MADE_BY, curve_block, plan, run_one, summarize
from training.mini_cslm.recipe import MiniRecipe
from training.mini_cslm.report import build_board
from training.mini_cslm.steps import Step, Steps
from training.world.build import TEXT_REPORT

log = logging.getLogger("training.mini_cslm")
DONE = "train_summary.json"  # the trainer writes it last


def _train(recipe: MiniRecipe, block: str, stage: str, model: Path, out: Path, sources: list[dict],
           curves: dict | None = None) -> None:
    from training.trainer import train

    extra = {"harness_eval": curves} if curves else {}
    train(recipe.training(block, stage=stage, model=str(model), output_dir=str(out), data=sources, **extra))


def _train_on(recipe: MiniRecipe, block: str, stage: str, model: Path, out: Path, data: Path, names: list[str],
              mix: dict | None = None, curves: dict | None = None) -> None:
    """``_train`` on the records of ``names`` under ``data``, counted when the step starts (after its data)."""
    _train(recipe, block, stage, model, out, D.sources(data, names, mix), curves)


def _merge(base: Path, out: Path, units: int, seed: int, unit_init: str, codec: str) -> None:
    from training.vocab import merge_vocab

    centroids = Path(codec) / "centroids.npy" if unit_init == "centroids" else None
    merge_vocab(str(base), out, n_units=units, seed=seed, init=unit_init, centroids=centroids)


def pipeline_steps(recipe: MiniRecipe, out: Path, progress: bool) -> list[Step]:
    """Every step, in priority order, with what it reads (``after``); evaluations last, each after its checkpoint."""
    world, data, cache = out / "world", out / "data", out / "units-cache"
    codec = str(Path(recipe.codec).resolve())
    speech = [f"{k}-{lang}.jsonl" for k in ("asr", "tts") for lang in D.LANGS]

    def curves(block: str) -> dict | None:  # evaluation during training of the main CPT / interleaved SFT
        sets = recipe.curves.get(block)
        return curve_block(out, codec, sets, recipe.curve_limit, recipe.eval_max_new_tokens) if sets else None

    def train(step: str, folder: str, block: str, model: str, names: list[str], after: tuple[str, ...],
              mix: dict | None = None, curve: str = "", stage: str = "") -> Step:
        return Step(step, out / folder / DONE, partial(
            _train_on, recipe, block, stage or block, out / model, out / folder, data, names, mix,
            curves(curve) if curve else None), after)

    sft_mix = recipe.sft_mix or None

    def sft(layout: str) -> list[str]:  # the spoken dialogues, and the text instructions when the mix names them
        return [f"sft-{layout}.jsonl", *(["instruct.jsonl"] if "instruct" in recipe.sft_mix else [])]

    steps = [
        # the world's text first (seconds): stage 0 reads only text and starts while the speech is synthesized
        Step("world-text", world / TEXT_REPORT, partial(D.build_world, recipe.world_recipe, recipe.world, world, progress, True)),
        Step("world", world / "report.json", partial(D.build_world, recipe.world_recipe, recipe.world, world, progress), ("world-text",)),
        Step("eval-data", out / "eval" / "sets.json", partial(D.eval_manifests, world, out / "eval"), ("world",)),
        Step("base-init", out / "base-init" / "model.safetensors", partial(_base_init, recipe, world, out),
             ("world-text",)),
        Step("text-data", data / "instruct.jsonl.report.json", partial(D.build_text_data, world, data), ("world-text",)),
        train("stage0-text", "base", "stage0", "base-init", ["instruct.jsonl", "mt.jsonl"], ("base-init", "text-data"),
              recipe.stage0_mix, stage="text"),
        Step("merge-vocab", out / "merged" / "cslm_vocab.json",
             partial(_merge, out / "base", out / "merged", recipe.codes(), recipe.seed, recipe.unit_init, codec),
             ("stage0-text",)),
        Step("merge-init", out / "init" / "cslm_vocab.json",  # the untrained baseline
             partial(_merge, out / "base-init", out / "init", recipe.codes(), recipe.seed, recipe.unit_init, codec),
             ("base-init",)),
        Step("cpt-data", data / "tts-zh.jsonl.report.json", partial(D.build_speech_data, world, data, codec, cache),
             ("world",)),
        train("cpt", "cpt", "cpt", "merged", [*speech, "mt.jsonl", "instruct.jsonl"],
              ("merge-vocab", "cpt-data", "text-data", "eval-data"), recipe.cpt_mix, curve="cpt"),
        Step("sft-data", data / "sft-full.jsonl.report.json",
             partial(D.build_sft_data, world, data, cache, recipe.codec, recipe.sft_cross_items, recipe.chunk_sizes()),
             ("world",)),
        train("sft-interleaved", "sft-interleaved", "sft", "cpt", sft("interleaved"), ("cpt", "sft-data"), sft_mix,
              curve="sft"),
        # what the tokenizer makes of the data: held-out coverage, tokens per record by kind (data/tokens_report.json)
        Step("tokens-report", data / TOKENS_REPORT, partial(_tokens_report, out), ("merge-vocab", "cpt-data", "sft-data")),
    ]
    if recipe.ablations:
        steps += [
            train("cpt-nomt", "cpt-nomt", "cpt", "merged", [*speech, "instruct.jsonl"], ("merge-vocab", "cpt-data", "text-data"),
                  recipe.cpt_mix),
            train("sft-full", "sft-full", "sft", "cpt", sft("full"), ("cpt", "sft-data"), sft_mix),
            train("sft-nomt", "sft-nomt", "sft", "cpt-nomt", sft("interleaved"), ("cpt-nomt", "sft-data"), sft_mix),
        ]
    for run in plan(recipe.ablations, recipe.eval_runs):
        # one evaluation that cannot run (e.g. BELLE not found) is recorded and leaves the others
        steps.append(Step(f"eval:{run.checkpoint}/{run.name}", out / "results" / run.checkpoint / run.name / "results.json",
                          partial(run_one, run, out, codec, recipe.eval_limit, recipe.eval_max_new_tokens, progress),
                          ("eval-data", MADE_BY[run.checkpoint]), keep_going=True))
    return steps


def run_pipeline(recipe: MiniRecipe, progress: bool = True) -> dict:
    if recipe.threads:
        import torch

        torch.set_num_threads(recipe.threads)
    out = Path(recipe.output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "mini_recipe.json").write_text(json.dumps(recipe.to_dict(), indent=2) + "\n", encoding="utf-8")
    graph = pipeline_steps(recipe, out, progress)
    steps = Steps(out, total=len(graph), progress=progress)
    steps.run_graph(graph, workers=recipe.step_workers, threads=recipe.threads)
    table = summarize(out, plan(recipe.ablations, recipe.eval_runs))
    failed = steps.failed()
    timing = steps.close()
    board = build_board(out, Path(recipe.board), timing, recipe.target_list(), recipe.board_runs) if recipe.board else None
    return {"output_dir": str(out), "results": table, "seconds_this_run": timing["seconds_this_run"],
            "seconds_all_runs": timing["seconds_all_runs"], "board": board, "failed": failed}


TOKENS_REPORT = "tokens_report.json"


def _tokens_report(out: Path) -> None:
    report = D.tokens_report(out / "merged", out / "world", out / "data")
    (out / "data" / TOKENS_REPORT).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _base_init(recipe: MiniRecipe, world: Path, out: Path) -> None:
    from training.tiny_base import build_tiny_base

    build_tiny_base(out / "base-init", D.text_corpus(world), hidden=recipe.base_hidden, layers=recipe.base_layers,
                    seed=recipe.seed, vocab_size=recipe.base_vocab_size, tied=recipe.base_tied)
