"""Ablations from real runs: identical runs -> exactly no difference; a real factor; confounders warned."""
import json

import numpy as np
import pytest

from harness.cli import main as harness_main
from leaderboards.ablation import compare, load_side, paired_bootstrap
from tests.leaderboards.helpers import copy_run, headline, make_latency_run, read_results


def test_identical_runs_report_exactly_no_difference(tts_runs, asr_runs, tmp_path):
    for name, run in (("tts", tts_runs["ls10"]), ("asr", asr_runs["province"])):
        twin = copy_run(run, tmp_path / name / "twin")
        report = compare("length_scale", load_side("1.0", run), load_side("1.0 again", twin))
        (pair,) = report["pairs"]
        assert len(pair["comparisons"]) == 2 and not pair["skipped"]  # headline and secondary aggregation
        for c in pair["comparisons"]:
            assert c["delta"] == 0.0 and c["ci95"] == [0.0, 0.0] and c["p_value"] == 1.0 and c["a"] == c["b"]
            # 10 ASR items: a verdict; 4 TTS sentences: under stats.MIN_PAIRED_ITEMS, none
            assert c["verdict"] == ("no difference" if name == "asr" else "n=4: too few items for a verdict")


def test_length_scale_ablation_through_the_cli(tts_runs, tmp_path, capsys):
    out = tmp_path / "ablation"
    rc = harness_main(["leaderboard", "ablation", "--factor", "length_scale", "--a", str(tts_runs["ls10"]),
                       "--b", str(tts_runs["ls13"]), "--out", str(out), "--resamples", "500"])
    assert rc == 0
    report = json.loads((out / "ablation.json").read_text(encoding="utf-8"))
    assert (report["a"], report["b"]) == ("1.0", "1.3")  # read from the differing option
    (pair,) = report["pairs"]
    assert "model.options.length_scale" in pair["factor_differences"]
    assert pair["other_differences"] == {} and pair["warnings"] == []  # nothing but the factor differs
    for side, run in (("a", tts_runs["ls10"]), ("b", tts_runs["ls13"])):
        # All 4 samples are scored on both sides, so the paired aggregate is the run's own figure.
        c = next(c for c in pair["comparisons"] if c["headline"])
        assert c[side] == pytest.approx(headline(read_results(run), "en")["value"], abs=1e-12)
    assert c["n"] == 4 and c["ci95"][0] <= c["delta"] <= c["ci95"][1]
    md = (out / "ablation.md").read_text(encoding="utf-8")
    assert "# Ablation: length_scale = 1.0 (A) vs 1.3 (B)" in md and "no option other than length_scale differs" in md
    assert (out / "ablation.png").read_bytes()[:4] == b"\x89PNG" and "![deltas" in md
    assert "delta" in capsys.readouterr().out


def test_an_ablation_that_also_changes_the_judge_is_warned(tts_runs):
    report = compare("length_scale", load_side("", tts_runs["ls10"]), load_side("", tts_runs["base"]))
    (pair,) = report["pairs"]
    assert any(k.startswith("judges.en.") for k in pair["other_differences"])
    assert any("more than length_scale differs" in w for w in pair["warnings"])
    assert any("do not differ in any option named like 'length_scale'" in w for w in pair["warnings"])


def test_a_real_difference_is_detected_on_shared_samples(asr_runs):
    report = compare("text", load_side("你好", asr_runs["hello"]), load_side("省", asr_runs["province"]))
    corpus = next(c for c in report["pairs"][0]["comparisons"] if c["aggregation"] == "corpus")
    assert corpus["delta"] < 0 and corpus["ci95"][1] < 0 and corpus["verdict"] == "B better"
    assert corpus["p_value"] < 0.05 and corpus["n"] == 10


def test_factor_values_tagged_on_folders_and_latency_percentiles(asr_runs, tmp_path, capsys):
    # Synthetic latency rows (the latency task is not implemented yet): interleaved vs full chain-of-modality.
    # 12 requests a side (each time twice): enough paired items for a verdict (stats.MIN_PAIRED_ITEMS)
    inter = make_latency_run(asr_runs["hello"], tmp_path / "inter" / "r", "cslm", [0.3, 0.32, 0.35, 0.31, 0.4, 0.33] * 2)
    full = make_latency_run(asr_runs["hello"], tmp_path / "full" / "r", "cslm", [0.9, 0.95, 1.1, 0.92, 1.3, 0.99] * 2)
    rc = harness_main(["leaderboard", "ablation", "--factor", f"chain=interleaved:{inter.parent}",
                       "--factor", f"chain=full:{full.parent}", "--out", str(tmp_path / "out")])
    assert rc == 0
    report = json.loads((tmp_path / "out" / "ablation.json").read_text(encoding="utf-8"))
    by = {(c["metric"], c["aggregation"]): c for c in report["pairs"][0]["comparisons"]}
    assert by[("first_audio_s", "p50")]["delta"] == pytest.approx(0.97 - 0.325)
    assert by[("first_audio_s", "p50")]["verdict"] == "B worse"
    assert by[("first_text_token_s", "p50")]["delta"] == 0.0
    assert by[("first_text_token_s", "p50")]["verdict"] == "no difference"


def test_paired_bootstrap_on_identical_arrays_is_exactly_zero():
    x = np.random.default_rng(1).random((50, 2)) + 0.1
    res = paired_bootstrap(x, x.copy(), resamples=300)
    assert res["delta"] == 0.0 and res["ci95"] == [0.0, 0.0] and res["p_value"] == 1.0


def test_a_side_may_hold_several_runs_one_per_task(tts_runs, asr_runs, tmp_path):
    """A quality run and another task's run side by side in one report (the mini-CSLM's interleaved vs full:
    QA and latency), each paired with the other side's run of the same task and dataset."""
    out = tmp_path / "two"
    rc = harness_main(["leaderboard", "ablation", "--factor", "variant", "--a", str(tts_runs["ls10"]),
                       str(asr_runs["hello"]), "--b", str(tts_runs["ls13"]), str(asr_runs["province"]),
                       "--a-label", "x", "--b-label", "y", "--out", str(out), "--copy-runs", "--resamples", "200"])
    assert rc == 0
    report = json.loads((out / "ablation.json").read_text(encoding="utf-8"))
    assert sorted(p["task"] for p in report["pairs"]) == ["asr_wer", "tts_wer"]
    assert (report["a"], report["b"]) == ("x", "y")
    assert sorted(p.name for p in (out / "results" / "a").iterdir()) == ["dummy-nihao", "piper-ls1.0"]


def test_s2s_reference_scores_pair_per_channel_in_the_answer_language():
    """Cross-lingual rows carry the question's lang and the answer's answer_lang: the metrics (answer language)
    pair on answer_lang; exact match per channel, answer WER as (errors, tokens), off-target from detected_lang."""
    from leaderboards.ablation import _per_sample
    from leaderboards.collect import MetricRow

    def metric(name, aggregation, channel):
        return MetricRow(run=None, name=name, lang="en", aggregation=aggregation, value=0.0, ci95=None, n=1,
                         headline=True, qualifiers=(("channel", channel),))

    row = {"id": "q1-zh2en", "lang": "zh", "answer_lang": "en", "status": "ok", "ref_exact_match_text": 1.0,
           "ref_exact_match_speech": 0.0, "ref_errors_text": 0, "ref_errors_speech": 3, "ref_tokens": 5,
           "detected_lang_text": "en", "detected_lang_speech": "zh"}
    assert _per_sample([row], metric("ref_exact_match", "mean", "text")) == {"q1-zh2en": 1.0}
    assert _per_sample([row], metric("ref_wer", "corpus", "speech")) == {"q1-zh2en": (3.0, 5.0)}
    assert _per_sample([row], metric("off_target_ratio", "mean", "speech")) == {"q1-zh2en": 1.0}
    assert _per_sample([row], metric("off_target_ratio", "mean", "text")) == {"q1-zh2en": 0.0}
    # as in the headline: an answer whose language cannot be told is left out; no answer ("none") is off target
    assert _per_sample([dict(row, detected_lang_speech="unknown")], metric("off_target_ratio", "mean", "speech")) == {}
    assert _per_sample([dict(row, detected_lang_speech="none")], metric("off_target_ratio", "mean", "speech")) \
        == {"q1-zh2en": 1.0}
    # a failed speech channel (no audio) is paired at its worst, as the headline counts it; its text channel as is
    failed = {"id": "q2", "lang": "zh", "answer_lang": "en", "status": "failed", "ref_tokens": 4,
              "ref_exact_match_text": 1.0, "ref_errors_text": 0, "detected_lang_text": "en",
              "channels": {"text": {"status": "ok"}, "speech": {"status": "system_failure"}}}
    assert _per_sample([failed], metric("ref_exact_match", "mean", "text")) == {"q2": 1.0}
    assert _per_sample([failed], metric("ref_exact_match", "mean", "speech")) == {"q2": 0.0}
    assert _per_sample([failed], metric("ref_wer", "corpus", "speech")) == {"q2": (4.0, 4.0)}
    assert _per_sample([failed], metric("off_target_ratio", "mean", "speech")) == {"q2": 1.0}
    assert _per_sample([failed], metric("text_speech_wer", "corpus", "speech")) == {}


def test_failed_latency_requests_pair_at_inf_in_the_percentiles():
    """A request that never produced audio is +inf in the latency percentiles (its headline's rule), so the
    ablation pairs it there instead of dropping it; the mean is over completed requests, as the headline's."""
    from leaderboards.ablation import STATISTICS, _fmt, _json_safe, _per_sample
    from leaderboards.collect import MetricRow

    def metric(aggregation):
        return MetricRow(run=None, name="tokens_before_first_audio", lang="en", aggregation=aggregation, value=0.0,
                         ci95=None, n=1, headline=True, qualifiers=())

    a_rows = [{"id": f"q{i}", "lang": "en", "status": "ok", "tokens_before_first_audio": 10 + i} for i in range(10)]
    b_rows = [{"id": f"q{i}", "lang": "en", "status": "ok", "tokens_before_first_audio": 20 + i} for i in range(9)]
    b_rows.append({"id": "q9", "lang": "en", "status": "failed", "tokens_before_first_audio": None,
                   "error": {"stage": "respond", "code": "no_speech", "kind": "system"}})
    pb = _per_sample(b_rows, metric("p50"))
    assert pb["q9"] == np.inf and len(pb) == 10
    assert "q9" not in _per_sample(b_rows, metric("mean"))
    pa = _per_sample(a_rows, metric("p50"))
    a, b = (np.array([p[f"q{i}"] for i in range(10)]) for p in (pa, pb))
    p50 = paired_bootstrap(a, b, STATISTICS["p50"], resamples=400)
    assert p50["b"] == pytest.approx(24.5) and p50["delta"] == pytest.approx(10.0)  # 9 values + inf: the 5th/6th
    assert np.isfinite(p50["ci95"]).all() and p50["ci95"][0] > 0
    p95 = paired_bootstrap(a, b, STATISTICS["p95"], resamples=400)  # interpolates towards the failure
    assert p95["b"] == np.inf and p95["delta"] == np.inf and p95["ci95"][1] == np.inf
    assert _fmt("tokens_before_first_audio", p95["b"]) == "inf (failures)"
    assert _json_safe({"b": p95["b"], "ci95": p95["ci95"]})["b"] == "inf"
    # 20 values, one failed: p95 sits 5 % of the way from the 19th value to the failure, still on it
    near = paired_bootstrap(np.append(a, a), np.append(b, np.arange(30.0, 40.0)), STATISTICS["p95"], resamples=100)
    assert near["b"] == np.inf
    both = paired_bootstrap(b, b.copy(), STATISTICS["p95"], resamples=100)  # both at inf: no difference
    assert both["delta"] == 0.0 and both["ci95"] == [0.0, 0.0]


def test_a_side_is_named_as_the_user_named_its_system(asr_runs, tmp_path):
    from leaderboards.ablation import write_report

    run = asr_runs["province"]
    twin = copy_run(run, tmp_path / "twin")
    data = read_results(twin)
    data["model"]["name"] = "my-asr"  # harness run --name my-asr
    (twin / "results.json").write_text(json.dumps(data), encoding="utf-8")
    md = write_report(compare("seed", load_side("0", run), load_side("1", twin)), tmp_path / "out")["markdown"]
    text = md.read_text(encoding="utf-8")
    assert "- B: [my-asr: " in text and "- A: [my-asr" not in text
