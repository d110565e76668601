"""The ONNX speech-tokenizer stage on a test-built model with the released CosyVoice v1 signature."""
import numpy as np
import onnxruntime as ort
import pytest

from harness.model import ModelConfigError
from models.cslm.speech_tokenizer import SpeechTokenizer, SpeechTokenizerError


def test_onnx_model_has_released_signature(speech_tokenizer_onnx):
    session = ort.InferenceSession(str(speech_tokenizer_onnx), providers=["CPUExecutionProvider"])
    (feats, lengths), (out,) = session.get_inputs(), session.get_outputs()
    assert (feats.type, feats.shape[:2], lengths.type) == ("tensor(float)", [1, 128], "tensor(int32)")
    assert out.type == "tensor(int64)"


def test_units_shape_range_and_cache(speech_tokenizer_onnx, tmp_path, speechlike):
    tok = SpeechTokenizer(speech_tokenizer_onnx, cache_dir=tmp_path)
    units = tok.tokenize(speechlike)
    assert units.dtype == np.int64 and units.shape == (len(speechlike) // 160 // 4,)  # 25 units per second
    assert units.min() >= 0 and units.max() < 4096
    assert tok.stats == {"onnx_runs": 1, "cache_hits": 0, "cache_misses": 1}
    again = tok.tokenize(speechlike.copy())
    assert np.array_equal(again, units)
    assert tok.stats == {"onnx_runs": 1, "cache_hits": 1, "cache_misses": 1}  # no second ONNX run
    other = tok.tokenize(speechlike * 0.5)
    assert tok.stats["onnx_runs"] == 2 and not np.array_equal(other, units)
    files = list(tmp_path.rglob("*.npy"))
    assert len(files) == 2 and all(f.parent.parent.name == tok.sha256[:16] for f in files)
    fresh = SpeechTokenizer(speech_tokenizer_onnx, cache_dir=tmp_path)  # another process / rank
    assert np.array_equal(fresh.tokenize(speechlike), units) and fresh.stats["onnx_runs"] == 0


def test_no_cache_always_runs(speech_tokenizer_onnx, speechlike):
    tok = SpeechTokenizer(speech_tokenizer_onnx, cache_dir=None)
    tok.tokenize(speechlike)
    tok.tokenize(speechlike)
    assert tok.stats["onnx_runs"] == 2


def test_long_audio_policies(speech_tokenizer_onnx, tmp_path):
    long = (0.1 * np.sin(np.arange(16000 * 31) / 7.0)).astype(np.float32)
    with pytest.raises(SpeechTokenizerError, match="at most 30 s") as err:
        SpeechTokenizer(speech_tokenizer_onnx).tokenize(long)
    assert err.value.code == "too_long"
    chunked = SpeechTokenizer(speech_tokenizer_onnx, long_audio="chunk", cache_dir=tmp_path)
    units = chunked.tokenize(long)
    assert chunked.stats["onnx_runs"] == 2 and len(units) == 30 * 25 + 25  # 30 s window + 1 s window
    with pytest.raises(ModelConfigError, match="long_audio"):
        SpeechTokenizer(speech_tokenizer_onnx, long_audio="truncate")
    with pytest.raises(ModelConfigError, match="does not exist"):
        SpeechTokenizer(tmp_path / "missing.onnx")
