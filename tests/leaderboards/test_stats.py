"""Honest statistics in the ablation reports: no verdict on a handful of items, p never printed as 0.000,
several metrics tested at once said so with a Bonferroni column."""
import json

from harness.cli import main as harness_main
from leaderboards import stats
from leaderboards.ablation import compare, load_side
from tests.leaderboards.helpers import copy_run


def _first_rows(run, dest, k):
    """A copy of the run whose samples.jsonl keeps its first k rows: the pairing sees k shared items."""
    out = copy_run(run, dest)
    rows = (out / "samples.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (out / "samples.jsonl").write_text("".join(rows[:k]), encoding="utf-8")
    return out


def test_below_the_minimum_of_paired_items_no_verdict_is_printed(asr_runs, tmp_path, capsys):
    a = _first_rows(asr_runs["hello"], tmp_path / "a" / "r", 4)
    b = _first_rows(asr_runs["province"], tmp_path / "b" / "r", 4)
    out = tmp_path / "out"
    assert harness_main(["leaderboard", "ablation", "--factor", "text", "--a", str(a), "--b", str(b),
                         "--out", str(out), "--resamples", "1000"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "ablation.json").read_text(encoding="utf-8"))
    assert report["min_items"] == stats.MIN_PAIRED_ITEMS == 10
    comparisons = report["pairs"][0]["comparisons"]
    assert comparisons and all(c["n"] == 4 for c in comparisons)
    assert all(c["verdict"] == "n=4: too few items for a verdict" for c in comparisons)
    md = (out / "ablation.md").read_text(encoding="utf-8")
    for text in (printed, md):
        assert "n=4: too few items for a verdict" in text
        assert "B better" not in text and "B worse" not in text
    # at the minimum the verdict comes back (the same two runs on all 10 items)
    full = compare("text", load_side("a", asr_runs["hello"]), load_side("b", asr_runs["province"]))
    assert {c["verdict"] for c in full["pairs"][0]["comparisons"]} == {"B better"}


def test_a_p_value_under_one_over_b_is_printed_as_a_bound(asr_runs, tmp_path, capsys):
    out = tmp_path / "out"  # 200 resamples (seed 0): every resampled delta of these 10 items is below 0
    assert harness_main(["leaderboard", "ablation", "--factor", "text", "--a", str(asr_runs["hello"]),
                         "--b", str(asr_runs["province"]), "--out", str(out), "--resamples", "200"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "ablation.json").read_text(encoding="utf-8"))
    corpus = next(c for c in report["pairs"][0]["comparisons"] if c["aggregation"] == "corpus")
    assert corpus["p_value"] == 0.0 and corpus["p_text"] == "< 0.005"  # 1/B
    assert corpus["p_bonferroni_text"] == "< 0.01"  # 2 metrics: under 2/B once adjusted
    md = (out / "ablation.md").read_text(encoding="utf-8")
    assert "| < 0.005 | < 0.01 |" in md and "0.000" not in md
    assert "p < 0.005 n=10 -> B better" in printed and "p=0.000" not in printed
    assert stats.format_p(0.0, 1000) == "< 0.001" and stats.format_p(0.0, 2000) == "< 0.0005"
    assert stats.format_p(0.0312, 1000) == "0.031" and stats.format_p(1.0, 1000) == "1.000"


def test_several_metrics_compared_at_once_are_said_so_with_a_bonferroni_column(asr_runs, tmp_path):
    out = tmp_path / "out"
    assert harness_main(["leaderboard", "ablation", "--factor", "text", "--a", str(asr_runs["hello"]),
                         "--b", str(asr_runs["province"]), "--out", str(out), "--resamples", "1000"]) == 0
    report = json.loads((out / "ablation.json").read_text(encoding="utf-8"))
    comparisons = report["pairs"][0]["comparisons"]
    assert report["compared"] == len(comparisons) == 2  # corpus and mean-utterance CER
    md = (out / "ablation.md").read_text(encoding="utf-8")
    assert "2 metrics compared at once: about 0.1 of them expected to pass p < 0.05 by chance alone" in md
    assert "| p | p Bonf. |" in md
    for c in comparisons:  # Bonferroni: min(1, m p); a p under 1/B is under m/B
        assert c["p_bonferroni"] == min(1.0, 2 * c["p_value"])
        assert f"| {c['p_text']} | {c['p_bonferroni_text']} |" in md
    assert stats.multiple_comparisons(12).startswith("12 metrics compared at once: about 0.6 of them")
    assert stats.multiple_comparisons(1) == ""
    # one metric alone: no such line, no Bonferroni column
    single = tmp_path / "single"
    one = copy_run(asr_runs["hello"], tmp_path / "one" / "r")
    data = json.loads((one / "results.json").read_text(encoding="utf-8"))
    data["metrics"] = [m for m in data["metrics"] if m["aggregation"] == "corpus"]
    (one / "results.json").write_text(json.dumps(data), encoding="utf-8")
    assert harness_main(["leaderboard", "ablation", "--factor", "text", "--a", str(one),
                         "--b", str(asr_runs["province"]), "--out", str(single), "--resamples", "200"]) == 0
    md = (single / "ablation.md").read_text(encoding="utf-8")
    assert "compared at once" not in md and "p Bonf." not in md
