"""World recipes: the shipped ones validate; unknown keys, wrong types and impossible values fail naming the key."""
import dataclasses
from pathlib import Path

import pytest

from training.world.recipe import WorldRecipe, WorldRecipeError, load_world_recipe

WORLD_RECIPES = Path(__file__).resolve().parents[3] / "training" / "recipes" / "world"
SHIPPED = sorted(WORLD_RECIPES.glob("*.yaml"))


def test_tiny_and_full_are_shipped():
    assert {p.name for p in SHIPPED} >= {"world_tiny.yaml", "world_full.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_recipe_validates(path):
    recipe = load_world_recipe(path)
    assert isinstance(recipe, WorldRecipe)
    header = path.read_text(encoding="utf-8")
    assert f"python -m training build-world training/recipes/world/{path.name}" in header


def test_overrides_and_types():
    r = load_world_recipe(WORLD_RECIPES / "world_tiny.yaml", ["output_dir=/tmp/x", "seed=3", "heldout_fraction=0"])
    assert (r.output_dir, r.seed, r.heldout_fraction) == ("/tmp/x", 3, 0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.seed = 4  # type: ignore[misc]


@pytest.mark.parametrize("override, words", [
    ("colour=red", "unknown key(s) colour"),
    ("people=1", "people must be 2..20"),
    ("people=21", "people must be 2..20"),
    ("sentences=many", "sentences must be int"),
    ("heldout_fraction=1.0", "heldout_fraction must be in [0, 1)"),
    ("speech_items=-2", "speech_items must be"),
    ("espeak_rate=20", "espeak_rate must be 80..450"),
    ("profile_facts=6", "profile_facts must be 0..5"),
    ("workers", "write key=value"),
])
def test_bad_values_name_the_key(override, words):
    with pytest.raises(WorldRecipeError) as exc:
        load_world_recipe(WORLD_RECIPES / "world_tiny.yaml", [override])
    assert words in str(exc.value)


def test_output_dir_is_required(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("seed: 1\n")
    with pytest.raises(WorldRecipeError, match="output_dir is required"):
        load_world_recipe(path)
