"""Mini-CSLM recipes: YAML -> one frozen MiniRecipe; unknown keys and impossible values fail here, naming the key.

Training blocks (``train`` for every stage, then ``stage0`` / ``cpt`` / ``sft`` per stage) are key: value
overrides of a training recipe (training.recipe.Recipe); the pipeline itself sets ``stage``, ``model``,
``output_dir`` and ``data``, so a block naming one of those is refused.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from training.mini_cslm.evals import KINDS, PLAN, RUN_NAMES
from training.mini_cslm.probe_spec import CPT_KINDS
from training.recipe import RecipeError, build_recipe, parse_overrides, read_recipe_yaml

REPO = Path(__file__).resolve().parents[2]
PIPELINE_KEYS = ("stage", "model", "output_dir", "data")  # set by the pipeline, never by a recipe block
TRAIN_BLOCKS = ("train", "stage0", "cpt", "sft")
STAGE0_KINDS = ("instruct", "mt")
SFT_KINDS = ("sft", "instruct")
RUNS = [f"{run.checkpoint}/{run.name}" for run in PLAN]  # every harness evaluation a recipe can make


@dataclass(frozen=True)
class MiniRecipe:
    output_dir: str                     # everything: world/, base/, merged/, data/, cpt/, sft-*/, eval/, results/
    codec: str                          # codec folder (python -m training build-codec), read-only: tokenizer + vocoder
    world_recipe: str                   # build-world recipe YAML the world starts from
    world: dict = field(default_factory=dict)   # its overrides (output_dir is <output_dir>/world)
    base_hidden: int = 64               # stage-0 text model: hidden size
    base_layers: int = 2                # ... and layers (a random Llama trained from scratch on the world's text)
    base_vocab_size: int = 2000         # BPE merges trained on the world's en + zh text
    sft_cross_items: int = 8            # zh->en dialogues added to the SFT data (-1: all); en->en, zh->zh all
    base_tied: bool = False             # stage-0 model: LM head tied to the input embeddings
    unit_init: str = "normal"           # merge-vocab's unit rows: normal (N(mean, cov) of the text rows) or
                                        # centroids (the codec's k-means centroids, projected and scaled)
    chunk_size_en: int = 7              # interleaved SFT: words per chunk (en)
    chunk_size_zh: int = 12             # ... characters per chunk (zh)
    # CPT mixing ratios per kind (asr, tts, mt, instruct; a kind's share is split evenly over its languages);
    # empty: each source in proportion to its records (every record once per epoch)
    cpt_mix: dict = field(default_factory=dict)
    # stage-0 mixing ratios (instruct, mt); empty: in proportion to the records. The fact questions are a small
    # share of the instructions, and the held-out QA asks mostly them: weighting instructions up memorises them
    stage0_mix: dict = field(default_factory=dict)
    # SFT mixing ratios (sft: the spoken dialogues, instruct: the world's text instructions, as the paper's SFT
    # mixes text instructions in); empty: the spoken dialogues alone
    sft_mix: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)   # training-recipe keys common to every stage
    stage0: dict = field(default_factory=dict)  # stage-0 text model (stage: text)
    cpt: dict = field(default_factory=dict)     # continued pre-training (with and without MT)
    sft: dict = field(default_factory=dict)     # SFT (interleaved and full chain-of-modality)
    # held-out items per harness evaluation: one number, or {default: N, KIND: M, RUN: K} (kinds: the run name up
    # to its '-': asr, tts, qa, long, cross, latency; runs: qa-zh, tts-zh, ...; a run's name before its kind)
    eval_limit: int | dict = 8
    eval_max_new_tokens: int = 160      # greedy decoding budget of every evaluated model
    ablations: bool = True              # also full-CoM SFT and the no-MT CPT + SFT (the paper's ablations)
    eval_runs: list = field(default_factory=list)  # "checkpoint/run" names of evals.PLAN to run; empty: all
    # evaluation curves: held-out sets (asr-en, asr-zh, qa-en, qa-zh) evaluated on every checkpoint the cpt / sft
    # block saves (its save_steps) of the main CPT and interleaved SFT, first ``curve_limit`` items each
    curves: dict = field(default_factory=dict)
    curve_limit: int = 16
    # leaderboard folder (e.g. leaderboards/mini-cslm) rebuilt at the end from results/ with the ablation
    # reports and the curves; "" : none
    board: str = ""
    # output folders of this recipe's other runs (seeds: make mini-cslm SEED=N) shown beside this one on the board,
    # target by target with their spread; those that hold no results yet are left out
    board_runs: list = field(default_factory=list)
    seed: int = 0                       # merge-vocab initialisation; training seeds come from the blocks
    # torch intra-op threads for the whole run (0: torch's default). On 2 cores shared with other work, 1 thread
    # trained the CI model about 10x faster than 2 (measured: 0.3 vs 3.5 s per step; spinning threads contend).
    threads: int = 0
    # steps run at once, each in its own process with ``threads`` torch threads, as their inputs are ready
    # (stage 0 beside the speech data, the CPT beside the CPT without MT, evaluations two by two); 1: one
    # after another in this process
    step_workers: int = 1
    # name -> probe (training.mini_cslm.probe): more of one kind of data from a pipeline checkpoint, measured;
    # run by ``python -m training mini-cslm-probe RECIPE NAME``, never by the pipeline itself
    probes: dict = field(default_factory=dict)
    # the bars the board holds this recipe to (training.mini_cslm.targets): run, metric, max or min, why
    targets: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def probes_by_name(self) -> dict:
        from training.mini_cslm.probe_spec import parse_probes

        return parse_probes(self.probes, "recipe")

    def target_list(self):
        from training.mini_cslm.targets import parse_targets

        return parse_targets(self.targets, "recipe", RUNS)

    def codes(self) -> int:
        """How many unit tokens the codec emits (its codec.json ``codes``): what merge-vocab adds."""
        return int(json.loads((Path(self.codec) / "codec.json").read_text(encoding="utf-8"))["codes"])

    def chunk_sizes(self) -> dict[str, int]:
        """Interleaved SFT chunk sizes by language (words for en, characters for zh)."""
        return {"en": self.chunk_size_en, "zh": self.chunk_size_zh}

    def training(self, block: str, **pipeline: Any):
        """The validated training Recipe of one stage: ``train`` + the block's keys + the pipeline's."""
        raw = {**self.train, **getattr(self, block), **pipeline}
        return build_recipe(raw)


def load_mini_recipe(path: str | Path, overrides: list[str] = ()) -> MiniRecipe:
    path = Path(path)
    data = read_recipe_yaml(path, RecipeError)
    for key, value in parse_overrides(list(overrides)).items():
        head, dot, rest = key.partition(".")  # cpt.max_steps=10 sets one key of a block
        if dot:
            if not isinstance(data.get(head, {}), dict):
                raise RecipeError(f"override {key}: {head} is not a block")
            data[head] = {**(data.get(head) or {}), rest: value}
        else:
            data[key] = value
    known = {f.name: f for f in fields(MiniRecipe)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise RecipeError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for key in ("output_dir", "codec", "world_recipe"):
        if not isinstance(data.get(key), str):
            raise RecipeError(f"{path}: {key} is required (a path)")
    defaults = MiniRecipe("x", "x", "x")
    for key, value in data.items():
        want = (dict if key in (*TRAIN_BLOCKS, "world", "cpt_mix", "stage0_mix", "sft_mix", "curves", "probes")
                else list if key in ("eval_runs", "targets", "board_runs") else type(getattr(defaults, key)))
        if key == "eval_limit" and isinstance(value, dict):
            want = dict
        if value is None and want is dict:
            data[key] = value = {}
        if not isinstance(value, want) or (isinstance(value, bool) and want is not bool):
            raise RecipeError(f"{path}: {key} must be {want.__name__}, got {value!r}")
    world = Path(data["world_recipe"])
    if not world.is_file() and not world.is_absolute() and (REPO / world).is_file():
        data["world_recipe"] = str(REPO / world)  # a shipped world recipe, named from the repository root
    recipe = MiniRecipe(**data)
    _check(recipe, str(path))
    return recipe


def _check(r: MiniRecipe, where: str) -> None:
    for block in TRAIN_BLOCKS:
        taken = sorted(set(getattr(r, block)) & set(PIPELINE_KEYS))
        if taken:
            raise RecipeError(f"{where}: {block}.{taken[0]} is set by the pipeline; drop it from the recipe")
    for block, stage in (("stage0", "text"), ("cpt", "cpt"), ("sft", "sft")):  # typos fail now, not an hour in
        try:
            r.training(block, stage=stage, model="model", output_dir="out", data=[{"path": "data.jsonl"}])
        except RecipeError as exc:
            raise RecipeError(f"{where}: train + {block}: {exc}") from None
    if "output_dir" in r.world:
        raise RecipeError(f"{where}: world.output_dir is set by the pipeline (<output_dir>/world); drop it")
    if not (Path(r.codec) / "codec.json").is_file():
        raise RecipeError(f"{where}: codec={r.codec} holds no codec.json; build one with "
                          f"python -m training build-codec training/recipes/codec/codec_tiny.yaml output_dir=DIR")
    if not Path(r.world_recipe).is_file():
        raise RecipeError(f"{where}: world_recipe={r.world_recipe} does not exist")
    for key in ("base_hidden", "base_layers", "base_vocab_size", "eval_max_new_tokens", "chunk_size_en",
                "chunk_size_zh"):
        if getattr(r, key) < 1:
            raise RecipeError(f"{where}: {key} must be >= 1")
    _check_eval_limit(r.eval_limit, where)
    if r.unit_init not in ("normal", "centroids"):
        raise RecipeError(f"{where}: unit_init must be normal or centroids, got {r.unit_init!r}")
    for name in r.eval_runs:
        if name not in RUNS:
            raise RecipeError(f"{where}: eval_runs: unknown run {name!r}; known: {', '.join(RUNS)}")
    for key, kinds in (("cpt_mix", CPT_KINDS), ("stage0_mix", STAGE0_KINDS), ("sft_mix", SFT_KINDS)):
        for kind, ratio in getattr(r, key).items():
            if kind not in kinds:
                raise RecipeError(f"{where}: {key}: unknown kind {kind!r}; known: {', '.join(kinds)}")
            if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or ratio <= 0:
                raise RecipeError(f"{where}: {key}.{kind} must be a number > 0, got {ratio!r}")
    for block, sets in r.curves.items():
        if block not in ("cpt", "sft"):
            raise RecipeError(f"{where}: curves: unknown block {block!r}; known: cpt, sft")
        bad = [s for s in (sets if isinstance(sets, list) else [sets]) if not re.fullmatch(r"(asr|qa)-(en|zh)", str(s))]
        if not isinstance(sets, list) or bad:
            raise RecipeError(f"{where}: curves.{block} must list held-out sets among asr-en, asr-zh, qa-en, qa-zh; "
                              f"got {sets!r}")
    if r.curve_limit < 1:
        raise RecipeError(f"{where}: curve_limit must be >= 1")
    from training.mini_cslm.probe_spec import parse_probes

    parse_probes(r.probes, where)
    from training.mini_cslm.targets import parse_targets

    parse_targets(r.targets, where, RUNS)
    if r.step_workers < 1:
        raise RecipeError(f"{where}: step_workers must be >= 1 (1: one step at a time)")
    if r.threads < 0:
        raise RecipeError(f"{where}: threads must be >= 0 (0: torch's default)")
    if r.sft_cross_items < -1:
        raise RecipeError(f"{where}: sft_cross_items must be -1 (all), 0 (none) or a count")


def _check_eval_limit(limit: int | dict, where: str) -> None:
    """``eval_limit``: an integer >= 1, or a mapping with ``default`` and any run kinds or run names, each an
    integer >= 1."""
    limits = limit if isinstance(limit, dict) else {"default": limit}
    unknown = sorted(set(limits) - {"default", *KINDS, *RUN_NAMES}, key=str)
    if unknown:
        raise RecipeError(f"{where}: eval_limit: unknown kind(s) or run(s) {', '.join(map(str, unknown))}; known: "
                          f"default, the kinds {', '.join(KINDS)}, the runs {', '.join(RUN_NAMES)}")
    if "default" not in limits:
        raise RecipeError(f"{where}: eval_limit needs a default (the limit of the kinds it does not name)")
    for kind, n in limits.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            name = "eval_limit" if not isinstance(limit, dict) else f"eval_limit.{kind}"
            raise RecipeError(f"{where}: {name} must be >= 1 (an integer), got {n!r}")
