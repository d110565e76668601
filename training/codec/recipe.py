"""Codec build recipes: YAML -> a frozen CodecRecipe; unknown keys and impossible values fail naming the key.

Launch: ``python -m training build-codec training/recipes/codec/codec_full.yaml [key=value ...]``.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from training.recipe import read_recipe_yaml


class CodecRecipeError(ValueError):
    """A codec recipe that cannot work; the message names the key."""


@dataclass(frozen=True)
class VocoderRecipe:
    dim: int = 256                                          # channels of the unit -> mel net
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)  # residual blocks (kernel 3) at 25 Hz
    steps: int = 3000                                       # optimizer steps
    batch_size: int = 16                                    # crops per step
    crop_units: int = 96                                    # units per crop (3.84 s)
    lr: float = 2e-3                                        # peak Adam learning rate (warm-up, then cosine)
    warmup: int = 100                                       # warm-up steps
    checkpoint_every: int = 250                             # steps between resumable checkpoints
    max_minutes: float = 0.0                                # stop (resumably) after this much training; 0: no limit


@dataclass(frozen=True)
class DurationRecipe:
    dim: int = 128                                          # channels of the duration net
    first_left: int = 2                                     # runs before a run seen by its first convolution
    lookahead: int = 2                                      # runs after a run it may see (its streaming look-ahead)
    dilations: tuple[int, ...] = (1, 2, 4)                  # causal residual blocks (kernel 3)
    max_frames: int = 8                                     # classes 1..max_frames (longer runs train as the last)
    unit_features: str = "centroids"                        # unit inputs: "centroids" (the frozen k-means centroids,
                                                            # projected: generalizes better) or "learned" embeddings
    rounding: str = "quantile:0.8"                          # decoding (models.codec.durations): quantile:Q (the
                                                            # shortest length with cumulative probability >= Q),
                                                            # carry (error diffusion), round, argmax
    steps: int = 1500                                       # optimizer steps
    batch_size: int = 32                                    # windows per step
    window_runs: int = 128                                  # runs predicted per window
    lr: float = 2e-3                                        # peak AdamW learning rate (warm-up, then cosine)
    warmup: int = 50                                        # warm-up steps
    dropout: float = 0.2                                    # on the unit inputs while training
    validation_share: float = 0.05                          # training utterances kept out to measure the fit
    checkpoint_every: int = 250                             # steps between resumable checkpoints


@dataclass(frozen=True)
class CodecRecipe:
    output_dir: str                     # the codec folder (codec.json, centroids.npy, vocoder.pt) + work/
    seed: int = 0                       # sentences, k-means, crops and weight init
    en_sentences: int = 1500            # English template sentences spoken by Piper (training speech)
    en_word_sentences: int = 0          # + sentences of frequent English words (wordfreq), for phonetic coverage
    word_list_top: int = 5000           # ... drawn from this many most frequent English words
    workers: int = 2                    # processes for Piper synthesis and encoding (one thread each)
    piper_voice: str = "piper-en_US-joe-medium"  # the one speaker of the vocoder
    length_scales: tuple[float, ...] = (0.9, 1.0, 1.1)  # Piper speaking rates, cycled over sentences (noise 0)
    belle_dir: str = ""                 # BELLE-eval-S2S folder (test.tsv + wav/); "" : $BELLE_EVAL_S2S_DIR or ../shared
    belle_skip: int = 50                # its first rows are evaluation data: never used to fit the tokenizer
    belle_count: int = 200              # Chinese clips (after the skipped ones) in the k-means fit; 0: none
    codes: int = 1024                   # k-means codes (unit vocabulary)
    standardize: bool = True            # k-means on per-dimension standardized features (a few of Whisper's
                                        # 512 dimensions carry a quarter of the variance and would rule L2)
    kmeans_vectors: int = 60000         # at most this many 25 Hz vectors fit k-means (a seeded sample)
    vocoder: VocoderRecipe = field(default_factory=VocoderRecipe)  # unit -> mel net and its training
    durations: DurationRecipe = field(default_factory=DurationRecipe)  # merged units -> frames per run

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["vocoder"]["dilations"] = list(self.vocoder.dilations)
        data["durations"]["dilations"] = list(self.durations.dilations)
        data["length_scales"] = list(self.length_scales)
        return data

    def belle_folder(self) -> Path | None:
        if self.belle_count == 0:
            return None
        given = self.belle_dir or os.environ.get("BELLE_EVAL_S2S_DIR") or ""
        folder = Path(given) if given else Path(__file__).resolve().parents[2].parent / "shared" / "BELLE-eval-S2S"
        if not (folder / "test.tsv").is_file():
            raise CodecRecipeError(f"belle_dir: {folder} has no test.tsv (set belle_dir, BELLE_EVAL_S2S_DIR, "
                                   f"or belle_count: 0 to fit the tokenizer on English only)")
        return folder

    def data_fields(self) -> dict[str, Any]:
        """What decides the built speech and features: a resumed build must agree on all of it."""
        keys = ("seed", "en_sentences", "en_word_sentences", "word_list_top", "piper_voice", "length_scales",
                "belle_skip", "belle_count")
        return {k: v for k, v in self.to_dict().items() if k in keys}

    def step_fields(self) -> dict[str, dict[str, Any]]:
        """Per build step, what decides its output: data (speech, features), tokenizer, vocoder, durations."""
        voc = {k: v for k, v in self.to_dict()["vocoder"].items() if k not in ("max_minutes", "checkpoint_every")}
        dur = {k: v for k, v in self.to_dict()["durations"].items() if k != "checkpoint_every"}
        return {"data": self.data_fields(),
                "tokenizer": {"codes": self.codes, "kmeans_vectors": self.kmeans_vectors,
                              "standardize": self.standardize},
                "vocoder": voc, "durations": dur}


def _typed(cls, data: dict[str, Any], where: str):
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise CodecRecipeError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    out = {}
    for key, value in data.items():
        default = getattr(cls(**({"output_dir": "x"} if cls is CodecRecipe else {})), key)
        if isinstance(default, tuple):
            value = tuple(value)
        elif isinstance(default, bool) or not isinstance(default, (int, float, str)):
            pass
        elif isinstance(default, float) and isinstance(value, int):
            value = float(value)
        elif not isinstance(value, type(default)):
            raise CodecRecipeError(f"{where}: {key} must be {type(default).__name__}, got {value!r}")
        out[key] = value
    return out


def load_codec_recipe(path: str | Path, overrides: list[str] = ()) -> CodecRecipe:
    path = Path(path)
    data = read_recipe_yaml(path, CodecRecipeError)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise CodecRecipeError(f"override {item!r}: write key=value (vocoder.steps=100 for nested keys)")
        target = data
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = yaml.safe_load(value)
    voc = data.pop("vocoder", {}) or {}
    dur = data.pop("durations", {}) or {}
    if "output_dir" not in data:
        raise CodecRecipeError(f"{path}: output_dir is required")
    recipe = CodecRecipe(**_typed(CodecRecipe, data, str(path)),
                         vocoder=VocoderRecipe(**_typed(VocoderRecipe, voc, f"{path}: vocoder")),
                         durations=DurationRecipe(**_typed(DurationRecipe, dur, f"{path}: durations")))
    for key in ("en_sentences", "codes", "kmeans_vectors", "workers"):
        if getattr(recipe, key) < 1:
            raise CodecRecipeError(f"{path}: {key} must be >= 1")
    if recipe.codes > recipe.kmeans_vectors:
        raise CodecRecipeError(f"{path}: codes ({recipe.codes}) exceeds kmeans_vectors ({recipe.kmeans_vectors})")
    if recipe.vocoder.steps < 1 or recipe.vocoder.checkpoint_every < 1:
        raise CodecRecipeError(f"{path}: vocoder.steps and vocoder.checkpoint_every must be >= 1")
    d = recipe.durations
    from models.codec.durations import check_rounding

    if d.unit_features not in ("learned", "centroids"):
        raise CodecRecipeError(f"{path}: durations.unit_features {d.unit_features!r}: choose learned or centroids")
    try:
        check_rounding(d.rounding)
    except ValueError as exc:
        raise CodecRecipeError(f"{path}: durations.{exc}") from None
    if d.steps < 1 or d.checkpoint_every < 1 or d.batch_size < 1 or d.window_runs < 1 or d.dim < 1:
        raise CodecRecipeError(f"{path}: durations.steps, checkpoint_every, batch_size, window_runs and dim must be >= 1")
    if d.lookahead < 0 or d.first_left < 0 or d.max_frames < 2 or any(x < 1 for x in d.dilations):
        raise CodecRecipeError(f"{path}: durations.lookahead and first_left must be >= 0, max_frames >= 2, "
                               f"dilations >= 1")
    if not 0 < d.validation_share < 0.5:
        raise CodecRecipeError(f"{path}: durations.validation_share must lie in (0, 0.5)")
    return replace(recipe)
