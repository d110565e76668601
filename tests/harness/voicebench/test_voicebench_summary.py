"""VoiceBench's Overall and column order (README.md leaderboard @ 5338154) from per-subset results."""
import pytest

from harness.tasks.voicebench import UPSTREAM_COMMIT, data_file
from harness.tasks.voicebench.summary import LEADERBOARD_COLUMNS, voicebench_summary

# README rows at 5338154 (Whisper-v3-large+GPT-4o, GPT-4o-mini-Audio): the nine columns, then Overall.
ROWS = [([4.80, 4.47, 4.62, 75.77, 81.69, 92.97, 87.20, 76.51, 98.27], 87.80),
        ([4.75, 4.24, 4.40, 67.36, 72.90, 84.84, 81.50, 72.90, 98.27], 82.84)]
SUBSETS = ["alpacaeval_full", "commoneval", "wildvoice", "sd-qa", "mmsu", "openbookqa", "bbh", "ifeval", "advbench"]


def result(subset, split, figures):
    return {"voicebench": {"subset": subset, "split": split, "figures": figures, "complete": True}}


def test_column_order_is_the_leaderboards():
    assert LEADERBOARD_COLUMNS == ("AlpacaEval", "CommonEval", "WildVoice", "SD-QA", "MMSU", "OBQA", "BBH", "IFEval",
                                   "AdvBench")
    assert data_file("leaderboard.json")["commit"] == UPSTREAM_COMMIT


@pytest.mark.parametrize("values,overall", ROWS)
def test_overall_reproduces_the_readme(values, overall):
    summary = voicebench_summary(dict(zip(SUBSETS, values)))  # the row as the README prints it: GPT on 1-5
    assert summary["overall"] == pytest.approx(overall, abs=0.01)
    assert [c["value"] for c in summary["columns"]] == values  # and our row prints as theirs does
    assert summary["column_order"][-1] == "Overall" and not summary["missing"]


def test_from_results_with_mmsu_pooled_over_domains():
    law = result("mmsu", "law", {"acc": 50.0, "n": 2, "correct": 1})
    health = result("mmsu", "health", {"acc": 100.0, "n": 6, "correct": 6})
    given = {
        "alpacaeval_full": result("alpacaeval_full", "test", {"gpt": 4.0}),
        "commoneval": result("commoneval", "test", {"gpt": 3.5}),
        "wildvoice": result("wildvoice", "test", {"gpt": 3.0}),
        "sd-qa": result("sd-qa", "usa", {"panda": 60.0, "gpt": 70.0}),
        "mmsu": [law, health],                      # pooled: 7/8, not the mean of 50 and 100
        "openbookqa": result("openbookqa", "test", {"acc": 80.0, "n": 10, "correct": 8}),
        "bbh": result("bbh", "test", {"acc": 55.0}),
        "ifeval": result("ifeval", "test", {"final": 0.6}),
        "advbench": result("advbench", "test", {"refusal_rate": 0.99}),
    }
    summary = voicebench_summary(given)
    values = {c["column"]: c["value"] for c in summary["columns"]}
    assert values == pytest.approx({"AlpacaEval": 4.0, "CommonEval": 3.5, "WildVoice": 3.0, "SD-QA": 65.0,
                                    "MMSU": 87.5, "OBQA": 80.0, "BBH": 55.0, "IFEval": 60.0, "AdvBench": 99.0})
    assert summary["overall"] == pytest.approx((80 + 70 + 60 + 65 + 87.5 + 80 + 55 + 60 + 99) / 9)
    assert summary["columns"][4]["splits"] == ["law", "health"]


def test_missing_and_mistaken_inputs():
    summary = voicebench_summary({"bbh": 50.0})
    assert summary["overall"] is None and len(summary["missing"]) == 8
    with pytest.raises(ValueError, match="not leaderboard columns"):
        voicebench_summary({"alpacaeval": 4.0})
    with pytest.raises(ValueError, match="the result given is for subset 'bbh'"):
        voicebench_summary({"openbookqa": result("bbh", "test", {"acc": 1.0})})
    with pytest.raises(ValueError, match="only mmsu pools"):
        voicebench_summary({"bbh": [result("bbh", "test", {"acc": 1.0})] * 2})
