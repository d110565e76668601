"""Latency on tiny CSLM-format models: interleaved vs full chain-of-modality, tokens before first audio."""
import json

import pytest

from harness.options import RunOptions
from harness.runner import evaluate
from harness.tasks.latency import compare, main
from tests.fixtures.scripted_cslm import build_scripted_cslm, expected_tokens_before_first_audio


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    from models.cslm.adapter import CSLM
    from models.cslm.tiny import build_tiny_cslm, build_tiny_speech_tokenizer

    root = tmp_path_factory.mktemp("scripted_cslm")
    base = build_tiny_cslm(root / "base")
    onnx = build_tiny_speech_tokenizer(root / "speech_tokenizer_v1.onnx")
    probe = CSLM("cslm", path=str(base), speech_tokenizer=str(onnx), unit_cache="none")
    probe.ensure_loaded()
    last = [int(probe.prompts.units_prompt("general", lang, [1, 2, 3]).ids[-1]) for lang in ("en", "zh")]
    ckpts = {layout: build_scripted_cslm(base, root / layout, layout, last) for layout in ("interleaved", "full")}
    return ckpts, onnx, root


def run_latency(tmp_path, belle_dir, scripted, layout):
    ckpts, onnx, root = scripted
    args = {"path": str(ckpts[layout]), "speech_tokenizer": str(onnx), "vocoder": "unit-sine", "do_sample": "false",
            "max_new_tokens": "80", "chain": layout, "unit_cache": str(root / "units")}
    return evaluate(RunOptions(task="latency", model="cslm", model_args=args, dataset="belle-eval-s2s",
                               dataset_args={"path": str(belle_dir)}, limit=4, batch_size=1,
                               output_dir=str(tmp_path / layout), progress=False))


def value(results, name, how="p50"):
    return next(m["value"] for m in results["metrics"] if m["name"] == name and m["aggregation"] == how)


def test_interleaved_vs_full_chain_of_modality(tmp_path, belle_dir, scripted):
    inter = run_latency(tmp_path, belle_dir, scripted, "interleaved")
    full = run_latency(tmp_path, belle_dir, scripted, "full")
    for results, layout in ((inter, "interleaved"), (full, "full")):
        assert results["counts"]["failed"] == 0 and results["latency"]["chain"] == layout
        assert value(results, "tokens_before_first_audio") == expected_tokens_before_first_audio(layout)
        assert value(results, "tokens_before_first_audio", "p95") == expected_tokens_before_first_audio(layout)
        assert 0 < value(results, "first_text_token_s") <= value(results, "first_unit_s") <= value(results, "first_audio_s")
        assert value(results, "rtf") > 0 and results["latency"]["warmup"] == 2
        assert results["latency"]["first_audio_sources"] == ["first_chunk_end+vocoder(first chunk)"]
        assert results["latency"]["hardware"]["cpu_count"] and "p95" in {m["aggregation"] for m in results["metrics"]}
    assert value(inter, "tokens_before_first_unit") == 7 and value(full, "tokens_before_first_unit") == 21
    report = compare(inter, full)
    assert report["ratios"]["tokens_before_first_audio.p50"]["ratio"] == pytest.approx(3.0)
    assert report["base"]["chain"] == "interleaved" and report["other"]["chain"] == "full"
    assert main(["compare", str(tmp_path / "interleaved"), str(tmp_path / "full"), "--out",
                 str(tmp_path / "cmp.json")]) == 0
    saved = json.loads((tmp_path / "cmp.json").read_text())
    assert saved["ratios"]["tokens_before_first_audio.mean"]["ratio"] == pytest.approx(3.0)


def test_failed_requests_count_as_never_producing_audio(tmp_path, belle_dir, scripted):
    """A request that fails is +inf in the percentiles (null when one falls on it), never left out."""
    ckpts, onnx, root = scripted
    ids = [line.split("\t")[0] for line in (belle_dir / "test.tsv").read_text(encoding="utf-8").splitlines()[1:5]]
    args = {"inner": "cslm", "fault": "raise", "ids": f"{ids[1]},{ids[3]}", "path": str(ckpts["interleaved"]),
            "speech_tokenizer": str(onnx), "vocoder": "unit-sine", "do_sample": "false", "max_new_tokens": "80",
            "chain": "interleaved", "unit_cache": str(root / "units")}
    results = evaluate(RunOptions(task="latency", model="faulty", model_args=args, dataset="belle-eval-s2s",
                                  dataset_args={"path": str(belle_dir)}, limit=4, batch_size=1,
                                  output_dir=str(tmp_path / "faulty"), progress=False))
    counts = results["counts"]
    assert counts["system_failed"] == 2 and counts["measurement_failed"] == 0 and results["status"] == "complete"
    row = next(m for m in results["metrics"] if m["name"] == "tokens_before_first_audio" and m["aggregation"] == "p50")
    expected = expected_tokens_before_first_audio("interleaved")
    assert row["value"] is None and row["n"] == 4  # half the requests never produced audio: no median exists
    assert row["scored_only"]["value"] == expected and row["coverage"]["system_failed"] == 2
    assert value(results, "tokens_before_first_audio", "mean") == expected  # the mean is over completed requests


def test_a_streaming_vocoder_stamps_first_audio_during_generation(tmp_path, tmp_path_factory, belle_dir, scripted):
    """vocoder=codec: the tiny codec (real Piper speech, k-means units) renders each speech chunk while the
    scripted model is still generating: first audio comes after the first chunk ends and before generation ends,
    and the answer's audio is what was streamed (one 40 ms unit = 640 samples)."""
    from models.cslm.adapter import CSLM
    from models.cslm.tiny import build_tiny_cslm
    from tests.fixtures.codec import tiny_codec

    codec = tiny_codec(tmp_path_factory)  # 64 codes: the script speaks units 0..44
    _, onnx, root = scripted
    base = build_tiny_cslm(root / "base-codec")
    probe = CSLM("cslm", path=str(base), speech_tokenizer=str(onnx), unit_cache="none")
    probe.ensure_loaded()
    last = [int(probe.prompts.units_prompt("general", lang, [1, 2, 3]).ids[-1]) for lang in ("en", "zh")]
    ckpt = build_scripted_cslm(base, root / "interleaved-codec", "interleaved", last, first_unit=0)
    args = {"path": str(ckpt), "speech_tokenizer": str(onnx), "vocoder": f"codec:{codec}", "do_sample": "false",
            "max_new_tokens": "80", "chain": "interleaved", "unit_cache": str(root / "units")}
    results = evaluate(RunOptions(task="latency", model="cslm", model_args=args, dataset="belle-eval-s2s",
                                  dataset_args={"path": str(belle_dir)}, limit=2, batch_size=1,
                                  output_dir=str(tmp_path / "codec"), progress=False))
    assert results["counts"]["failed"] == 0 and results["latency"]["first_audio_sources"] == ["model"]
    cache = [json.loads(line) for p in sorted((tmp_path / "codec" / "cache").rglob("*.jsonl"))
             for line in p.read_text().splitlines()]
    events = [r["output"]["events"] for r in cache if r.get("output")]
    assert len(events) == 2
    for ev in events:  # stamped in order, the first audio while tokens were still coming
        assert ev["first_chunk_end"] <= ev["first_audio"] < ev["end"] <= ev["audio_end"]
        assert "stream" not in ev and "stream_units_differ" not in ev
    # the generated units are run-merged: each run lasts the frames the codec's duration model gives it
    from models.codec.bundle import load_codec

    frames = int(load_codec(codec).load_durations().durations(list(range(45))).sum())
    assert frames >= 45 and results["model"]["unit_durations"]["durations"] == "predicted"
    assert all(r["output"]["audio_seconds"] == pytest.approx(frames * 0.04) for r in cache if r.get("output"))


def test_a_cascade_speaks_after_its_whole_answer_and_every_p50_has_an_interval(tmp_path, belle_dir, scripted):
    """The cascade (here: the item's transcript for its ASR, a tiny chat LLM, a tone for TTS) is timed by the same
    task: its first audio after its whole text answer, whose tokens are its tokens before first audio; every
    percentile carries a 95 % bootstrap interval around it (none without resamples)."""
    _, _, root = scripted
    args = {"asr": "reference", "llm": f"hf:{root / 'base'}", "tts": "dummy-tts", "max_new_tokens": "6",
            "label": "tiny cascade"}
    runs = {n: evaluate(RunOptions(task="latency", model="cascade", model_args=args, dataset="belle-eval-s2s",
                                   dataset_args={"path": str(belle_dir)}, limit=4, batch_size=1,
                                   output_dir=str(tmp_path / str(n)), bootstrap_resamples=n, progress=False))
            for n in (200, 0)}
    results = runs[200]
    assert results["counts"]["failed"] == 0 and results["model"]["id"] == "tiny cascade"
    rows = [json.loads(line) for line in (tmp_path / "200" / "samples.jsonl").read_text().splitlines()]
    for row in rows:
        assert 0 < row["tokens_before_first_audio"] <= 6 and row["tokens_before_first_unit"] is None
        assert 0 < row["first_text_token_s"] <= row["first_audio_s"] and row["first_audio_source"] == "model"
    for m in results["metrics"]:
        if m["value"] is not None and m["name"] != "tokens_before_first_unit":
            assert m["ci95"][0] <= m["value"] <= m["ci95"][1], m
    assert all(m["ci95"] is None for m in runs[0]["metrics"])
