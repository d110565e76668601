"""The mini-CSLM's evaluation plan: the cascade and the stage-0 text ceiling beside the CSLM checkpoints, the
limit per run kind, bootstrap intervals in every evaluation and on the board's cells (no model runs here)."""
import json
import re
import shutil
from pathlib import Path

import pytest

from training.mini_cslm.evals import (
    BOOTSTRAP_RESAMPLES,
    CASCADES,
    CHECKPOINTS,
    MADE_BY,
    PLAN,
    cascade_args,
    limit_for,
    plan,
    run_one,
)
from training.mini_cslm.recipe import RecipeError, load_mini_recipe

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "training" / "recipes" / "mini_cslm"
BOARD_RUNS = REPO / "leaderboards" / "mini-cslm" / "results"  # the last full run's committed results


@pytest.fixture()
def fake_codec(tmp_path):
    (tmp_path / "codec").mkdir()
    (tmp_path / "codec" / "codec.json").write_text(json.dumps({"codes": 8}))
    return tmp_path / "codec"


def test_the_cascade_runs_every_speech_in_task_of_the_interleaved_cslm():
    runs = {f"{r.checkpoint}/{r.name}": r for r in PLAN}
    for name in ("qa-en", "qa-zh", "cross-zh2en", "long-en", "latency"):
        cascade, cslm = runs[f"cascade/{name}"], runs[f"sft/{name}"]
        assert (cascade.task, cascade.data, cascade.lang) == (cslm.task, cslm.data, cslm.lang)
    assert dict(runs["cascade/latency"].args) == dict(runs["sft/latency"].args) == {"max_new_tokens": "400"}
    assert {n for n in runs if n.startswith("stage0/")} == {"stage0/qa-en", "stage0/qa-zh", "stage0/long-en"}
    # the cascades wait for the stage-0 model, as pipeline.py reads it (CHECKPOINTS + its merges = MADE_BY)
    assert all(CHECKPOINTS[key] == MADE_BY[key] == "stage0-text" for key in CASCADES)
    assert {r.checkpoint for r in PLAN} <= set(MADE_BY)
    assert [f"{r.checkpoint}/{r.name}" for r in plan(False) if r.checkpoint in CASCADES] == [
        n for n in runs if n.split("/")[0] in CASCADES]  # not an ablation: runs without ablations too


def test_cascade_args_name_whisper_the_stage0_model_and_the_worlds_voices(tmp_path):
    (tmp_path / "world").mkdir()
    (tmp_path / "world" / "world.json").write_text(json.dumps({"recipe": {
        "piper_voice": "piper-en_US-joe-medium", "length_scale": 1.2, "espeak_voice": "cmn-latn-pinyin",
        "espeak_rate": 110}}))
    args = cascade_args(tmp_path, "cascade", 200)
    assert args == {"asr": "whisper-tiny.en-bundled", "asr_zh": "whisper-base-bundled", "llm": f"hf:{tmp_path / 'base'}",
                    "max_new_tokens": "200", "system_prompt": "cross-lingual",
                    "label": "cascade: whisper + stage-0 LLM + piper/espeak", "tts": "piper-en_US-joe-medium",
                    "tts.length_scale": "1.2", "tts.noise_scale": "0", "tts.noise_w_scale": "0",
                    "tts_zh": "espeak-ng-zh", "tts_zh.voice": "cmn-latn-pinyin", "tts_zh.rate": "110"}
    ceiling = cascade_args(tmp_path, "stage0", 200)
    assert ceiling["asr"] == "reference" and "asr_zh" not in ceiling and ceiling["llm"] == args["llm"]
    from models.cascade import Cascade

    for key in CASCADES:  # the adapter accepts them as they are (nothing loads)
        assert Cascade("cascade", **cascade_args(tmp_path, key, 200)).describe()["id"] == CASCADES[key].label


def test_run_one_picks_the_model_the_limit_per_kind_and_bootstrap(tmp_path, monkeypatch):
    import harness.runner

    seen = {}
    monkeypatch.setattr(harness.runner, "evaluate", lambda options: seen.setdefault(options.output_dir, options))
    runs = {f"{r.checkpoint}/{r.name}": r for r in PLAN}
    limit = {"default": 100, "latency": 20}
    for name in ("cascade/latency", "sft/latency", "stage0/qa-en", "sft/qa-en"):
        run_one(runs[name], tmp_path, "CODEC", limit, 200, False)
    opts = {name: seen[str(tmp_path / "results" / name)] for name in ("cascade/latency", "sft/latency", "stage0/qa-en",
                                                                      "sft/qa-en")}
    assert {n: o.limit for n, o in opts.items()} == {"cascade/latency": 20, "sft/latency": 20, "stage0/qa-en": 100,
                                                     "sft/qa-en": 100}
    assert all(o.bootstrap_resamples == BOOTSTRAP_RESAMPLES == 1000 for o in opts.values())
    assert opts["cascade/latency"].model == "cascade" and opts["cascade/latency"].model_args["max_new_tokens"] == "400"
    assert opts["stage0/qa-en"].model_args["asr"] == "reference"
    assert opts["sft/qa-en"].model == "cslm" and opts["sft/qa-en"].model_args["path"] == str(tmp_path / "sft-interleaved")
    # timed requests encode the question afresh, as the cascade's Whisper does; other runs share the unit cache
    assert opts["sft/latency"].model_args["unit_cache"] == "none"
    assert opts["sft/qa-en"].model_args["unit_cache"] == str(tmp_path / "units-cache")
    assert limit_for(40, "latency") == 40 and limit_for(limit, "tts") == 100


def test_eval_limit_is_a_number_or_a_default_with_kinds(fake_codec):
    recipe = load_mini_recipe(RECIPES / "mini_ci.yaml", [f"codec={fake_codec}", "eval_limit={default: 8, latency: 4}"])
    assert recipe.eval_limit == {"default": 8, "latency": 4}
    for override, message in (("eval_limit={latency: 4}", "eval_limit needs a default"),
                              ("eval_limit={default: 8, speed: 4}", "eval_limit: unknown kind(s) or run(s) speed"),
                              ("eval_limit={default: 8, qa: 0}", "eval_limit.qa must be >= 1"),
                              ("eval_limit=x", "eval_limit must be int")):
        with pytest.raises(RecipeError, match=re.escape(message)):
            load_mini_recipe(RECIPES / "mini_ci.yaml", [f"codec={fake_codec}", override])
    # a run's own name before its kind, the kind before the default; curves name a held-out set the same way
    named = load_mini_recipe(RECIPES / "mini_ci.yaml", [f"codec={fake_codec}", "eval_limit={default: 8, qa: 6, qa-zh: 3}"])
    assert [limit_for(named.eval_limit, n) for n in ("qa-zh", "qa-en", "asr-en", "cross-zh2en")] == [3, 6, 8, 8]
    # the headline English sets keep at least 100 items in the full recipe
    full = load_mini_recipe(RECIPES / "mini_full.yaml", [f"codec={fake_codec}"])
    assert min(limit_for(full.eval_limit, name) for name in ("asr-en", "tts-en", "qa-en")) >= 100


def _copy_run(src: str, dest: Path, **model) -> None:
    """A committed results.json (and its samples) as results/<checkpoint>/<run>/, the model's fields replaced."""
    dest.mkdir(parents=True)
    data = json.loads((BOARD_RUNS / src / "results.json").read_text(encoding="utf-8"))
    data["model"].update(model)
    for m in data["metrics"]:  # what an evaluation with bootstrap writes
        if m["value"] is not None:
            m["ci95"] = [m["value"] * 0.5, m["value"] * 1.5 + 0.01]
    (dest / "results.json").write_text(json.dumps(data), encoding="utf-8")
    shutil.copy2(BOARD_RUNS / src / "samples.jsonl", dest / "samples.jsonl")


def test_the_board_shows_intervals_the_cascade_row_and_the_text_ceiling(tmp_path):
    from training.mini_cslm.report import build_board

    results = tmp_path / "out" / "results"
    _copy_run("sft--qa-en", results / "sft" / "qa-en")
    _copy_run("sft--latency", results / "sft" / "latency")
    label = CASCADES["cascade"].label
    cascade = {"id": label, "class": "models.cascade:Cascade", "checkpoint": None, "revision": None}
    _copy_run("sft--qa-en", results / "cascade" / "qa-en", **cascade)
    _copy_run("sft--latency", results / "cascade" / "latency", **cascade)
    _copy_run("sft--qa-en", results / "stage0" / "qa-en", **{**cascade, "id": CASCADES["stage0"].label})
    board = tmp_path / "board"
    build_board(tmp_path / "out", board, {"seconds_all_runs": 60, "step_seconds_sum": 60})
    page = (board / "README.md").read_text(encoding="utf-8")
    rows = [line for line in page.splitlines() if line.startswith("| ")]
    # every table cell with a value carries its interval
    assert any(line.startswith(f"| {label} |") for line in rows), rows
    latency = page.split("## Latency\n", 1)[1].split("\n## ", 1)[0]
    run_folder = Path(json.loads((BOARD_RUNS / "sft--latency" / "results.json").read_text())["model"]["checkpoint"])
    cslm = f"cslm[{run_folder.parent.name}/{run_folder.name}]"  # the committed run's folder names the row
    lat = next(line for line in latency.splitlines() if line.startswith(f"| {cslm} |"))
    cells = lat.split("|")[2:-1]
    assert len(cells) >= 10 and all(re.fullmatch(r" [\d.]+ \[[\d.]+, [\d.]+\] ", c) for c in cells), lat
    assert "## Spoken QA against the cascade and the text ceiling" in page
    assert "## Latency: cascade against the CSLM" in page and "not streamed" in page
    ceiling = next(line for line in rows if line.startswith(f"| {CASCADES['stage0'].label}: the text ceiling |"))
    assert re.search(r"\| \d+\.\d \[\d+\.\d, \d+\.\d\] \|", ceiling) and re.search(r"\| qa-en \(\d+\) text \|", page), ceiling
    # the headline summary, two task tables, two comparisons
    assert sum(line.startswith(f"| {label} |") for line in rows) == 5
