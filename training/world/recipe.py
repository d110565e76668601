"""World build recipes: YAML -> a frozen WorldRecipe; unknown keys and impossible values fail naming the key.

Launch: ``python -m training build-world training/recipes/world/world_full.yaml [key=value ...]``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from training.recipe import read_recipe_yaml
from training.world.lexicon import NAMES


class WorldRecipeError(ValueError):
    """A world recipe that cannot work; the message names the key."""


@dataclass(frozen=True)
class WorldRecipe:
    output_dir: str                    # the world folder: world.json, sentences.jsonl, qa.jsonl, speech/, manifests
    seed: int = 0                      # facts, scene sentences, split and questions
    people: int = 20                   # names used (2..20): each has five fixed facts
    sentences: int = 4000              # distinct scene sentence pairs (besides the fact statements)
    context_qa: int = 3000             # question pairs whose answer is stated in a context
    heldout_fraction: float = 0.1      # scene sentences held out (their context questions follow them)
    profile_facts: int = 0             # "Tell me about Anna." answered with her first N facts (0: no such questions)
    speech_items: int = -1             # speak the first N sentence pairs and QA pairs (+ profile QA); -1 all, 0 none
    workers: int = 2                   # processes for Piper, threads for espeak-ng
    piper_voice: str = "piper-en_US-joe-medium"  # English voice (noise 0: deterministic)
    length_scale: float = 1.0          # Piper speaking rate (larger: slower)
    espeak_voice: str = "cmn-latn-pinyin"        # Chinese espeak-ng voice (see models/espeak.py)
    espeak_rate: int = 110             # espeak-ng words per minute (slower than its 175: whisper-base CER 0.77 vs 0.92)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def data_fields(self) -> dict[str, Any]:
        """What decides the built text and speech: a resumed build must agree on all of it."""
        skip = ("output_dir", "speech_items", "workers")
        return {k: v for k, v in self.to_dict().items() if k not in skip}


def load_world_recipe(path: str | Path, overrides: list[str] = ()) -> WorldRecipe:
    path = Path(path)
    data = read_recipe_yaml(path, WorldRecipeError)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise WorldRecipeError(f"override {item!r}: write key=value (e.g. sentences=100)")
        data[key] = yaml.safe_load(value)
    known = {f.name: f for f in fields(WorldRecipe)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise WorldRecipeError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if "output_dir" not in data:
        raise WorldRecipeError(f"{path}: output_dir is required")
    defaults = WorldRecipe(output_dir="x")
    for key, value in data.items():
        want = type(getattr(defaults, key))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            data[key] = value = float(value)
        if not isinstance(value, want) or isinstance(value, bool):
            raise WorldRecipeError(f"{path}: {key} must be {want.__name__}, got {value!r}")
    recipe = WorldRecipe(**data)
    _check(recipe, str(path))
    return recipe


def _check(r: WorldRecipe, where: str) -> None:
    if not 2 <= r.people <= len(NAMES):
        raise WorldRecipeError(f"{where}: people must be 2..{len(NAMES)} (a context needs a second person)")
    for key in ("sentences", "workers"):
        if getattr(r, key) < 1:
            raise WorldRecipeError(f"{where}: {key} must be >= 1")
    if not 0 <= r.profile_facts <= 5:
        raise WorldRecipeError(f"{where}: profile_facts must be 0..5 (a person has five facts)")
    if r.context_qa < 0:
        raise WorldRecipeError(f"{where}: context_qa must be >= 0")
    if r.speech_items < -1:
        raise WorldRecipeError(f"{where}: speech_items must be -1 (all), 0 (none) or a count")
    if not 0.0 <= r.heldout_fraction < 1.0:
        raise WorldRecipeError(f"{where}: heldout_fraction must be in [0, 1)")
    if r.length_scale <= 0:
        raise WorldRecipeError(f"{where}: length_scale must be > 0")
    if not 80 <= r.espeak_rate <= 450:
        raise WorldRecipeError(f"{where}: espeak_rate must be 80..450 words per minute")
