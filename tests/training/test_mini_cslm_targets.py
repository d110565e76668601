"""A recipe's targets on its board: the figure read from the run's results.json (a ratio of two runs for
latency), met or missed with the gap in the bound's unit, and a run that never happened shown as not measured."""
import json

from training.mini_cslm.targets import Target, assess, markdown, parse_targets, tally

RUNS = ["cpt/asr-en", "sft/qa-en", "sft/latency", "sft-full/latency", "cpt/tts-en"]


def _results(root, run, metrics):
    folder = root / run
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({"metrics": [{"headline": True, **m} for m in metrics]}))


def test_targets_are_met_or_missed_with_their_gap(tmp_path):
    _results(tmp_path, "cpt/asr-en", [{"name": "wer", "lang": "en", "value": 0.459}])
    _results(tmp_path, "sft/qa-en", [{"name": "ref_exact_match", "channel": "text", "lang": "en", "value": 0.025},
                                     {"name": "ref_exact_match", "channel": "speech", "lang": "en", "value": 0.5}])
    _results(tmp_path, "sft/latency", [{"name": "tokens_before_first_audio", "lang": "en", "value": 25}])
    _results(tmp_path, "sft-full/latency", [{"name": "tokens_before_first_audio", "lang": "en", "value": 78}])
    targets = parse_targets([
        {"name": "ASR en", "run": "cpt/asr-en", "metric": "wer_en", "max": 0.2, "why": "ASR exposure"},
        {"name": "QA en", "run": "sft/qa-en", "metric": "text/ref_exact_match_en", "min": 0.8, "why": "stage 0"},
        {"name": "latency", "run": "sft-full/latency", "over": "sft/latency",
         "metric": "tokens_before_first_audio_en", "min": 2.5, "why": "never shown when met"},
        {"name": "TTS en", "run": "cpt/tts-en", "metric": "wer_en", "max": 0.3},
    ], "recipe", RUNS)
    rows = assess(targets, tmp_path)
    assert [r["met"] for r in rows] == [False, False, True, None]
    assert abs(rows[0]["gap"] - 0.259) < 1e-9 and abs(rows[1]["gap"] + 0.775) < 1e-9
    assert abs(rows[2]["value"] - 78 / 25) < 1e-9 and rows[3]["value"] is None
    assert tally(rows) == "1 of 4 targets met, 1 not measured"

    table = markdown(targets, rows)
    assert table[2] == "| ASR en (`cpt/asr-en wer_en`) | ≤ 20.0 % | 45.9 % | missed by 25.9 points | ASR exposure |"
    assert table[3].startswith("| QA en (`sft/qa-en text/ref_exact_match_en`) | ≥ 80.0 % | 2.5 % | missed by 77.5 points")
    assert table[4] == ("| latency (`sft-full/latency tokens_before_first_audio_en / sft/latency`) | ≥ 2.50x | "
                        "3.12x | met |  |")
    assert "| not measured | not measured |" in table[5]


def test_a_ratio_over_a_zero_figure_is_not_measured(tmp_path):
    _results(tmp_path, "sft/latency", [{"name": "tokens_before_first_audio", "lang": "en", "value": 0}])
    _results(tmp_path, "sft-full/latency", [{"name": "tokens_before_first_audio", "lang": "en", "value": 78}])
    target = Target("latency", "sft-full/latency", "tokens_before_first_audio_en", min=2.5, over="sft/latency")
    assert assess((target,), tmp_path)[0]["met"] is None


def test_a_missed_ratio_gives_its_gap_in_x(tmp_path):
    _results(tmp_path, "sft/latency", [{"name": "tokens_before_first_audio", "lang": "en", "value": 24}])
    _results(tmp_path, "sft-full/latency", [{"name": "tokens_before_first_audio", "lang": "en", "value": 54}])
    target = Target("latency", "sft-full/latency", "tokens_before_first_audio_en", min=2.5, over="sft/latency",
                    why="the full model's answers are short")
    row = assess((target,), tmp_path)
    assert markdown((target,), row)[2].endswith("| ≥ 2.50x | 2.25x | missed by 0.25x | the full model's answers are short |")


def test_two_seeds_show_each_figure_the_spread_and_a_verdict_over_the_runs(tmp_path):
    from training.mini_cslm.report import seed_runs
    from training.mini_cslm.targets import markdown_runs

    latency = Target("latency", "sft-full/latency", "tokens_before_first_audio_en", min=2.5, over="sft/latency",
                     why="short full answers")
    asr = Target("ASR en", "cpt/asr-en", "wer_en", max=0.2, why="exposure")
    runs = {}
    for seed, (inter, full, wer) in enumerate(((25, 78, 0.30), (24, 54, 0.25))):
        folder = tmp_path / f"mini-seed{seed}"
        _results(folder / "results", "sft/latency", [{"name": "tokens_before_first_audio", "lang": "en", "value": inter}])
        _results(folder / "results", "sft-full/latency", [{"name": "tokens_before_first_audio", "lang": "en", "value": full}])
        _results(folder / "results", "cpt/asr-en", [{"name": "wer", "lang": "en", "value": wer}])
        (folder / "mini_recipe.json").write_text(json.dumps({"seed": seed}))
        runs[f"seed {seed}"] = assess((latency, asr), folder / "results")
    table = markdown_runs((latency, asr), runs)
    assert table[0].startswith("| target | bound | seed 0 | seed 1 | spread | verdict |")
    assert table[2].endswith("| 3.12x | 2.25x | 0.87x | met in 1 of 2 runs | short full answers |")
    assert table[3].endswith("| 30.0 % | 25.0 % | 5.0 points | missed in every run (by up to 10.0 points) | exposure |")
    # the board's runs: this one and the others that hold results (a seed not run yet is left out), by seed
    assert seed_runs(tmp_path / "mini-seed1", [tmp_path / "mini-seed0", tmp_path / "mini-seed7"]) == [
        (tmp_path / "mini-seed0").resolve(), (tmp_path / "mini-seed1").resolve()]
