"""The WER tasks end to end on real models that install offline (Piper, Whisper tiny.en / base)."""
import json

from harness.options import RunOptions
from harness.runner import evaluate


def headline(results, lang):
    return next(m for m in results["metrics"] if m["headline"] and m["lang"] == lang)


def test_tts_wer_piper_judged_by_tiny_en(tmp_path):
    results = evaluate(RunOptions(task="tts_wer", model="piper-en_US-joe-medium", offline_judges=True, limit=12,
                                  output_dir=str(tmp_path), progress=False))
    wer = headline(results, "en")
    assert wer["n"] == 12 and results["counts"]["failed"] == 0
    assert wer["aggregation"] == "mean-utterance" and wer["value"] < 0.10
    assert results["judges"]["en"]["id"] == "whisper-tiny.en-bundled"
    assert results["normalizer"] == {"name": "seed-tts-eval", "version": "1"}
    prov = results["provenance"]
    assert prov["versions"]["piper-tts"] and prov["versions"]["faster-whisper"] and "commit" in prov["git"]
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert all((tmp_path / r["audio"]).is_file() for r in rows)


def test_asr_cer_whisper_base_on_belle(tmp_path, belle_dir):
    results = evaluate(RunOptions(task="asr_wer", model="whisper-base-bundled", dataset="belle-eval-s2s",
                                  dataset_args={"path": str(belle_dir)}, limit=24, output_dir=str(tmp_path),
                                  progress=False))
    cer = headline(results, "zh")
    assert cer["name"] == "cer" and cer["aggregation"] == "corpus" and cer["n"] == 24
    assert cer["value"] < 0.25
    lo, hi = cer["ci95"]
    assert lo <= cer["value"] <= hi


def test_changing_the_judge_never_reruns_generation(tmp_path):
    base = dict(task="tts_wer", model="piper-en_US-joe-medium", limit=3, output_dir=str(tmp_path), progress=False)
    first = evaluate(RunOptions(**base, offline_judges=True))
    synth = next((tmp_path / "cache").glob("synthesize-*/rank0.jsonl"))
    before = synth.read_bytes()
    second = evaluate(RunOptions(**base, judges={"en": "whisper-base-bundled"}, overwrite=True))  # another judge
    assert synth.read_bytes() == before  # same generation records, none re-made
    assert len(list((tmp_path / "cache").glob("synthesize-*"))) == 1
    assert len(list((tmp_path / "cache").glob("transcribe-*"))) == 2
    assert first["judges"]["en"]["id"] != second["judges"]["en"]["id"]
