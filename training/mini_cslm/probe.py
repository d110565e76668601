"""Probes: how far one ability gets when a pipeline checkpoint trains on more of its own data.

A recipe's ``probes`` block names each probe: the checkpoint it starts from, its CPT mix (``asr``, ``tts``, ``mt``,
``instruct``), its steps, and the held-out sets measured on it (``evals``; ``curves`` on each saved
checkpoint). ``python -m training mini-cslm-probe RECIPE NAME...`` runs them after the pipeline built that
checkpoint and its data, resumably, into ``<output_dir>/probes/<name>/``:

    train_summary.json, harness_eval/        the training (the CPT block's keys, with the probe's steps)
    results/<set>/results.json               each evaluation
    probe.json                               the probe as run and its headline figures

then rebuilds the board, which lists every finished probe. They are the evidence behind a target the recipe
misses: the third run's ASR (46 % WER after CPT, asr 0.3 of 3600 steps) against ASR alone from the same start
(18 % at step 2400 of a 4800-step schedule) said exposure, not capacity, limited ASR.
"""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from training.mini_cslm.evals import CSLM_CHECKPOINTS, EvalRun, headline, run_one
from training.mini_cslm.probe_spec import PROBE_DIR, TASKS, Probe, sources_of
from training.mini_cslm.recipe import MiniRecipe
from training.mini_cslm.steps import Step, Steps
from training.recipe import RecipeError


def _eval(out: Path, folder: Path, codec: str, recipe: MiniRecipe, data: str, progress: bool) -> None:
    kind, _, lang = data.partition("-")
    run = EvalRun("probe", data, TASKS[kind], data, lang, (("max_new_tokens", "400"),) if kind == "long" else ())
    run_one(run, out, codec, recipe.eval_limit, recipe.eval_max_new_tokens, progress,
            path=folder, results=folder / "results" / data)


def _summary(probe: Probe, folder: Path) -> dict:
    results = {}
    for data in probe.evals:
        path = folder / "results" / data / "results.json"
        if path.is_file():
            results[data] = headline(json.loads(path.read_text(encoding="utf-8")))
    curve = []
    metrics = folder / "harness_eval" / "metrics.jsonl"
    if metrics.is_file():
        curve = [{k: r[k] for k in ("step", "run", "name", "channel", "lang", "value") if r.get(k) is not None}
                 for r in map(json.loads, metrics.read_text(encoding="utf-8").splitlines()) if r.get("value") is not None]
    return {"probe": probe.to_dict(), "results": results, "curve": curve}


def run_probes(recipe: MiniRecipe, names: list[str], progress: bool = True) -> dict[str, dict]:
    """Each named probe (training, then its evaluations), ``step_workers`` at once; then the board."""
    from training.mini_cslm.evals import curve_block
    from training.mini_cslm.pipeline import DONE, _train_on

    probes = recipe.probes_by_name()
    missing = [n for n in names if n not in probes]
    if missing:
        raise RecipeError(f"no probe named {', '.join(missing)} in the recipe; its probes: "
                          f"{', '.join(probes) or 'none'}")
    out = Path(recipe.output_dir).resolve()
    codec = str(Path(recipe.codec).resolve())
    graph = []
    for name in names:
        probe, folder = probes[name], out / PROBE_DIR / name
        start = out / CSLM_CHECKPOINTS[probe.start]
        for needed in (start / DONE if probe.start not in ("merged", "init") else start / "cslm_vocab.json",
                       out / "eval" / "sets.json", *(out / "data" / n for n in sources_of(probe))):
            if not needed.is_file():
                raise RecipeError(f"probe {name}: {needed} does not exist; run the pipeline first "
                                  f"(python -m training mini-cslm RECIPE)")
        block = {**recipe.cpt, "max_steps": probe.max_steps, "save_steps": probe.save_steps}
        trained = MiniRecipe(**{**recipe.to_dict(), "cpt": block})
        curves = (curve_block(out, codec, list(probe.curves), recipe.eval_limit, recipe.eval_max_new_tokens)
                  if probe.curves else None)
        graph.append(Step(f"{name}:train", folder / DONE, partial(
            _train_on, trained, "cpt", "cpt", start, folder, out / "data", sources_of(probe), probe.mix, curves)))
        graph += [Step(f"{name}:eval:{data}", folder / "results" / data / "results.json",
                       partial(_eval, out, folder, codec, recipe, data, progress), (f"{name}:train",),
                       keep_going=True) for data in probe.evals]
    steps = Steps(out / PROBE_DIR, total=len(graph), progress=progress)
    steps.run_graph(graph, workers=recipe.step_workers, threads=recipe.threads)
    steps.close()
    summaries = {}
    for name in names:
        folder = out / PROBE_DIR / name
        summaries[name] = _summary(probes[name], folder)
        (folder / "probe.json").write_text(json.dumps(summaries[name], indent=2) + "\n", encoding="utf-8")
    if recipe.board:
        from training.mini_cslm.report import build_board

        log_file = out / "steps.json"
        timing = json.loads(log_file.read_text(encoding="utf-8")) if log_file.is_file() else {}
        build_board(out, Path(recipe.board), timing, recipe.target_list(), recipe.board_runs)
    return summaries
