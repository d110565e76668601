"""The resynthesis task through harness.runner.evaluate with a real (tiny) codec and the real offline judge."""
import json
import math

import pytest

from harness.options import RunOptions
from harness.runner import evaluate
from tests.fixtures.codec import tiny_codec

pytestmark = pytest.mark.slow  # builds the tiny codec, runs Piper, the codec and Whisper tiny.en


def test_resynthesis_reports_wer_bit_rate_and_rtf_and_resumes(tmp_path_factory, tmp_path):
    codec = tiny_codec(tmp_path_factory)
    opts = RunOptions(task="resynthesis", model="codec", model_args={"path": str(codec), "chunk_units": "20"},
                      limit=2, output_dir=str(tmp_path / "run"), progress=False, bootstrap_resamples=50)
    results = evaluate(opts)
    rows = {(m["name"], m["aggregation"]): m for m in results["metrics"]}
    wer = rows[("wer", "corpus")]
    assert wer["coverage"]["total"] == 2 and 0.0 <= wer["value"] <= 2.0 and wer["ci95"] is not None
    ups, bps = rows[("units_per_second", "mean")]["value"], rows[("bits_per_second", "mean")]["value"]
    assert 24.0 < ups < 26.5 and bps == pytest.approx(ups * math.log2(64))
    assert rows[("units_per_second_merged", "mean")]["value"] <= ups
    assert rows[("tokenizer_rtf", "mean")]["value"] > 0 and rows[("vocoder_rtf", "mean")]["value"] > 0
    assert ("duration_mae", "mean") not in rows and results["model"]["options"]["merge"] == "none"
    assert results["resynthesis"]["codes"] == 64 and results["model"]["codec_sha256"]
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert all(s["status"] == "ok" and s["units"] >= s["merged_units"] > 0 for s in samples)

    again = evaluate(opts)  # every stage cached: the same numbers, nothing recomputed
    assert again["metrics"] == results["metrics"]


def test_unreadable_input_is_a_measurement_failure(tmp_path_factory, tmp_path):
    codec = tiny_codec(tmp_path_factory)
    manifest = tmp_path / "m.tsv"
    (tmp_path / "bad.wav").write_bytes(b"not a wav")
    manifest.write_text("id\taudio\ttext\nbad\tbad.wav\thello there\n")
    results = evaluate(RunOptions(task="resynthesis", model="codec", model_args={"path": str(codec)},
                                  dataset="local", dataset_args={"path": str(manifest), "lang": "en"},
                                  output_dir=str(tmp_path / "run"), progress=False, bootstrap_resamples=10))
    assert results["status"] == "incomplete"
    wer = next(m for m in results["metrics"] if m["name"] == "wer")
    assert wer["coverage"]["measurement_failed"] == 1 and wer["coverage"]["system_failed"] == 0


def test_merged_units_one_frame_per_run_and_with_predicted_durations(tmp_path_factory, tmp_path):
    """merge=one-frame (a speech LM's merged units, one frame per run) and merge=durations (expanded by the codec's
    duration model, streamed here): each is its own system; both report how long the rendering came out and how
    far its run lengths are from the true ones."""
    codec = tiny_codec(tmp_path_factory)
    rows, models = {}, {}
    for merge, extra in (("one-frame", {}), ("durations", {"chunk_units": "7"})):
        results = evaluate(RunOptions(task="resynthesis", model="codec",
                                      model_args={"path": str(codec), "merge": merge, **extra}, limit=2,
                                      output_dir=str(tmp_path / merge), progress=False, bootstrap_resamples=20))
        assert results["counts"]["failed"] == 0
        rows[merge] = {m["name"]: m["value"] for m in results["metrics"] if m["aggregation"] != "corpus"}
        models[merge] = results["model"]
        samples = [json.loads(line) for line in (tmp_path / merge / "samples.jsonl").read_text().splitlines()]
        assert all(s["rendered_units"] >= s["merged_units"] for s in samples)
    one, dur = rows["one-frame"], rows["durations"]
    assert one["rendered_length_ratio"] < 1 and one["duration_exact"] < 1
    # (how good the tiny codec's durations are is test_codec_roundtrip's business: here, that they are used)
    assert dur["rendered_length_ratio"] > one["rendered_length_ratio"] and 0 <= dur["duration_exact"] <= 1
    assert dur["duration_mae"] >= 0
    assert models["one-frame"]["options"]["merge"] == "one-frame"
    assert models["durations"]["units_rendered"]["run-merged, durations"]["durations"] == "predicted"
