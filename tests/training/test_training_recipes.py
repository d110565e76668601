"""Every shipped recipe validates; unknown keys and impossible combinations fail fast, naming the key."""
import json
from pathlib import Path

import pytest

from training.recipe import RECIPES_DIR, TRAINING_DIR, Recipe, RecipeError, launch_command, load_recipe

SHIPPED = sorted(RECIPES_DIR.glob("*.yaml"))


def test_the_four_recipes_are_shipped():
    assert {p.name for p in SHIPPED} >= {"cpt_llama31_8b.yaml", "sft_llama31_8b.yaml", "tiny_cpu_cpt.yaml",
                                         "tiny_cpu_sft.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_recipe_validates(path):
    recipe = load_recipe(path)
    assert isinstance(recipe, Recipe)
    launch = launch_command(path)
    assert launch and "-m training train" in launch.replace("--module training", "-m training") and path.name in launch
    if recipe.deepspeed:
        config = json.loads(Path(recipe.deepspeed).read_text())
        assert config["zero_optimization"]["stage"] == 2
    if "8b" in path.stem:
        assert launch.startswith("deepspeed") and recipe.deepspeed and recipe.precision == "bf16"
        assert recipe.device == "cuda" and not recipe.train_on_inputs
    else:
        assert recipe.device == "cpu" and recipe.precision == "fp32" and recipe.deepspeed is None


def test_released_settings_in_the_8b_recipes():
    cpt, sft = load_recipe("cpt_llama31_8b"), load_recipe("sft_llama31_8b")
    # ictnlp/CSLM cslm/train/pretrain.sh and sft.sh
    assert (cpt.learning_rate, cpt.max_length, cpt.per_device_train_batch_size, cpt.gradient_accumulation_steps,
            cpt.eval_size) == (6e-5, 1024, 2, 6, 2000)
    assert (sft.learning_rate, sft.max_length, sft.per_device_train_batch_size, sft.gradient_accumulation_steps,
            sft.eval_size) == (1e-5, 4096, 1, 4, 1000)
    for r in (cpt, sft):
        assert (r.warmup_ratio, r.lr_scheduler_type, r.weight_decay, r.num_train_epochs, r.save_steps) == (
            0.03, "cosine", 0.0, 1.0, 10000)
    assert "--num_nodes 3 --num_gpus 8" in launch_command(RECIPES_DIR / "cpt_llama31_8b.yaml")


# ictnlp/CSLM cslm/train/pretrain.sh / sft.sh (+ the TrainingArguments defaults of pretrain.py / sft.py)
RELEASED = {
    "cpt_llama31_8b_released": dict(learning_rate=6e-5, max_length=1024, per_device_train_batch_size=2,
                                    gradient_accumulation_steps=6, eval_size=2000),
    "sft_llama31_8b_released": dict(learning_rate=1e-5, max_length=4096, per_device_train_batch_size=1,
                                    gradient_accumulation_steps=4, eval_size=1000),
}
COMMON = dict(warmup_ratio=0.03, lr_scheduler_type="cosine", weight_decay=0.0, num_train_epochs=1.0, save_steps=10000,
              eval_steps=100, logging_steps=100, save_total_limit=3, max_grad_norm=1.0, seed=42, precision="bf16",
              gradient_checkpointing=False, train_on_inputs=False, loss_mask="released", encoding="released",
              truncate=True, packing=False, pad_token_id=128002, num_proc=8)


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_released_recipes_reproduce_the_release(name):
    recipe = load_recipe(name)
    for key, value in {**RELEASED[name], **COMMON}.items():
        assert getattr(recipe, key) == value, key
    assert json.loads(Path(recipe.deepspeed).read_text()) == json.loads((TRAINING_DIR / "ds_zero2.json").read_text())
    nodes = "--num_nodes 3 --num_gpus 8" if name.startswith("cpt") else "--num_gpus 8 "
    assert nodes in launch_command(RECIPES_DIR / f"{name}.yaml")


@pytest.mark.parametrize("stage", ["cpt", "sft"])
def test_project_recipes_list_every_difference_from_the_release(stage):
    ours, released = load_recipe(f"{stage}_llama31_8b"), load_recipe(f"{stage}_llama31_8b_released")
    header = "".join(line for line in (RECIPES_DIR / f"{stage}_llama31_8b.yaml").read_text().splitlines(True)
                     if line.startswith("#"))
    differ = {k for k, v in ours.to_dict().items() if v != released.to_dict()[k]} - {"model", "output_dir"}
    assert differ >= {"packing", "loss_mask", "encoding", "truncate", "eval_steps", "pad_token_id"}
    assert differ - {"data"} == {k for k in differ - {"data"} if k in header}, differ


def test_overrides_are_typed_yaml():
    r = load_recipe("tiny_cpu_cpt", ["max_steps=7", "learning_rate=1e-4", "packing=false",
                                     "data=[a.jsonl, {path: b.jsonl, ratio: 3}]", "mix_size=null"])
    assert r.max_steps == 7 and r.learning_rate == 1e-4 and r.packing is False and r.mix_size is None
    assert [(Path(d.path).name, d.ratio) for d in r.data] == [("a.jsonl", 1.0), ("b.jsonl", 3.0)]
    assert load_recipe("tiny_cpu_cpt", ["deepspeed=ds_zero2.json"]).deepspeed == str(TRAINING_DIR / "ds_zero2.json")


@pytest.mark.parametrize("override,match", [
    (["learning_rat=1e-4"], "unknown recipe key 'learning_rat'.*learning_rate"),
    (["max_steps=ten"], "max_steps: expected int"),
    (["packing=yes please"], "packing: expected bool"),
    (["stage=pretrain"], "stage must be 'cpt' or 'sft'"),
    (["data=[{path: a.jsonl, weight: 2}]"], "unknown key 'weight'"),
    (["packing=false", "pack_length=2048"], "pack_length is set but packing is false"),
    (["pack_length=100"], "pack_length 100 < max_length"),
    (["precision=bf16"], "precision=bf16 with device=cpu"),
    (["warmup_ratio=1.5"], "warmup_ratio must be in"),
    (["max_steps"], "not key=value"),
    (["loss_mask=everything"], "loss_mask must be assistant or released"),
    (["encoding=llama"], "encoding must be template or released"),
    (["loss_mask=released", "train_on_inputs=true"], "train_on_inputs=true .* loss_mask=released"),
    (["eval_steps=5"], "eval_steps=5 but eval_size=0"),
])
def test_bad_recipes_fail_fast_naming_the_key(override, match):
    with pytest.raises(RecipeError, match=match):
        load_recipe("tiny_cpu_cpt", override)


def test_unknown_recipe_lists_the_shipped_ones():
    with pytest.raises(RecipeError, match="tiny_cpu_cpt"):
        load_recipe("no_such_recipe")


def test_cli_train_fails_fast_on_a_bad_key(capsys):
    from training.cli import main

    assert main(["train", "tiny_cpu_cpt", "learning_rat=1"]) == 2
    assert "learning_rat" in capsys.readouterr().err
