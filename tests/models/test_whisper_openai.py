"""WhisperOpenAI on a tiny random openai-whisper checkpoint (real loading and decoding paths)."""
import hashlib

import numpy as np
import pytest

from harness.model import ModelConfigError
from models.whisper_openai import WhisperOpenAI


def _audio(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def test_tiny_checkpoint_transcribes_deterministically(tiny_whisper_pt):
    model = WhisperOpenAI(name="whisper-tiny", path=str(tiny_whisper_pt), sample_len="8")
    audios = [_audio(1.0, 0), _audio(2.0, 1)]
    first = model.transcribe(audios, "zh")
    assert len(first) == 2 and all(isinstance(t, str) for t in first)
    assert any(first)  # the fixture's random model writes text, not only special tokens
    assert model.transcribe(audios, "zh") == first
    assert model.transcribe(audios[:1], "zh") == first[:1]  # batching does not change a result


def test_beam_search_decodes_one_window_at_a_time(tiny_whisper_pt):
    model = WhisperOpenAI(name="whisper-tiny", path=str(tiny_whisper_pt), sample_len="6", beam_size="2")
    out = model.transcribe([_audio(1.0, 0), _audio(1.5, 2)], "en")
    assert len(out) == 2 and all(isinstance(t, str) for t in out)


def test_describe_carries_the_checkpoint_hash(tiny_whisper_pt):
    info = WhisperOpenAI(name="whisper-tiny", path=str(tiny_whisper_pt), sample_len="8").describe()
    assert info["revision"] == "sha256:" + hashlib.sha256(tiny_whisper_pt.read_bytes()).hexdigest()
    assert info["backend"] == "openai-whisper" and info["size"] == "tiny"
    assert info["versions"]["openai-whisper"]
    assert info["options"] == {"path": str(tiny_whisper_pt), "device": "cpu", "fp16": False, "beam_size": None,
                               "language_forced": True, "sample_len": 8}


def test_official_checkpoint_revision_comes_from_whisper_url():
    assert WhisperOpenAI(name="whisper-large-v3").describe()["revision"] == (
        "sha256:e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb")


@pytest.mark.parametrize("name, options, message", [
    ("whisper-tiny", {"temperature": "0.2"}, "unknown option.*accepted: beam_size, device, fp16"),
    ("whisper-huge", {}, "unknown size 'huge'.*large-v3.*path=MODEL.pt"),
    ("whisper-tiny", {"path": "/nonexistent/model.pt"}, "does not exist"),
    ("whisper-tiny", {"fp16": "true"}, "fp16=true needs device=cuda"),
    ("whisper-tiny", {"fp16": "maybe"}, "fp16='maybe' is not a valid true/false"),
    ("whisper-tiny", {"sample_len": "x"}, "sample_len='x'"),
])
def test_bad_options(name, options, message):
    with pytest.raises(ModelConfigError, match=message):
        WhisperOpenAI(name=name, **options)


def test_english_only_models_refuse_other_languages():
    model = WhisperOpenAI(name="whisper-tiny.en")
    assert model.supports_language("en") and not model.supports_language("zh")
    assert WhisperOpenAI(name="whisper-large-v3").supports_language("zh")
    with pytest.raises(ModelConfigError, match="English-only"):
        model.transcribe([_audio(1.0, 0)], "zh")


def test_offline_without_path_says_how_to_pass_one(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no cached official checkpoint
    with pytest.raises(ModelConfigError, match="path=MODEL.pt"):
        WhisperOpenAI(name="whisper-tiny").ensure_loaded()
