"""The codec's promises on a real (tiny) build: determinism, chunked = whole rendering, the CSLM plug-ins."""
import numpy as np
import pytest

from tests.fixtures.codec import tiny_codec

pytestmark = pytest.mark.slow  # builds the tiny codec (Piper + Whisper base + k-means + vocoder), ~1 min


@pytest.fixture(scope="module")
def codec(tmp_path_factory):
    return tiny_codec(tmp_path_factory)


@pytest.fixture(scope="module")
def speech(codec):
    return np.load(codec / "work" / "en" / "00003.npy")


def test_same_audio_gives_the_same_units_across_instances(codec, speech):
    from models.codec.bundle import CodecTokenizer

    first = CodecTokenizer(codec).tokenize(speech)
    again = CodecTokenizer(codec).tokenize(speech)
    assert first.dtype == np.int64 and len(first) == -(-len(speech) // 640)  # 25 Hz, last partial unit counts
    np.testing.assert_array_equal(first, again)
    assert first.min() >= 0 and first.max() < 64


def test_units_are_nearest_centroids_of_standardized_features(codec, speech):
    from models.codec.bundle import CodecTokenizer
    from models.codec.features import WhisperBaseFeatures

    tok = CodecTokenizer(codec)
    assert tok.describe()["standardized"] and tok.norm.shape == (2, 512) and (tok.norm[1] > 0).all()
    x = (WhisperBaseFeatures().features(speech) - tok.norm[0]) / tok.norm[1]
    by_hand = ((x[:, None, :] - tok.centroids[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(tok.tokenize(speech), by_hand)


def test_same_units_give_the_same_waveform(codec, speech):
    from models.codec.bundle import CodecTokenizer
    from models.codec.vocoder import CodecVocoder

    units = CodecTokenizer(codec).tokenize(speech).tolist()
    a = CodecVocoder(str(codec)).render(units)
    b = CodecVocoder(str(codec)).render(units)
    assert a.sample_rate == 16000 and len(a.samples) == len(units) * 640
    np.testing.assert_array_equal(a.samples, b.samples)


def _log_mel(mel, wav):
    return mel.log_mel(wav)


@pytest.mark.parametrize("chunk", [7, 25])
def test_chunked_rendering_matches_whole_rendering(codec, speech, chunk):
    """Mel frames: equal to 1e-4 (float rounding only). Waveform: Griffin-Lim runs per chunk, so samples differ;
    the log-mel of the streamed waveform stays within 0.35 (mean absolute, natural log) of the whole one's."""
    from models.codec.bundle import CodecTokenizer
    from models.codec.vocoder import CodecVocoder

    voc = CodecVocoder(str(codec))
    units = CodecTokenizer(codec).tokenize(speech).tolist()
    whole_mel = voc.mel_of(units)
    ctx = voc.net_config.context_units
    pieces = [voc._frames(np.asarray(units), s, min(s + chunk, len(units))) for s in range(0, len(units), chunk)]
    np.testing.assert_allclose(np.concatenate(pieces), whole_mel, atol=1e-4)
    assert ctx == sum(voc.net_config.dilations) + 1

    whole = voc.render(units).samples
    streamed = np.concatenate(list(voc.stream([units[i:i + chunk] for i in range(0, len(units), chunk)])))
    assert len(streamed) == len(whole)
    diff = np.abs(_log_mel(voc.mel, streamed) - _log_mel(voc.mel, whole)).mean()
    assert diff < 0.35, diff


def test_cslm_speech_tokenizer_stage_takes_the_codec_folder(codec, speech, tmp_path):
    from models.codec.bundle import CodecTokenizer
    from models.cslm.speech_tokenizer import SpeechTokenizer, file_sha256

    stage = SpeechTokenizer(codec, cache_dir=tmp_path)
    units = stage.tokenize(speech)
    np.testing.assert_array_equal(units, CodecTokenizer(codec).tokenize(speech))
    np.testing.assert_array_equal(stage.tokenize(speech), units)
    assert stage.stats == {"onnx_runs": 1, "cache_hits": 1, "cache_misses": 1}
    assert stage.sha256 == file_sha256(codec / "codec.json") == file_sha256(codec)
    info = stage.describe()
    assert info["id"] == "cslm-codec-kmeans" and info["codes"] == 64 and info["sha256"] == stage.sha256


def test_make_vocoder_builds_the_codec_vocoder(codec):
    from models.cslm.vocoder import make_vocoder

    voc = make_vocoder(f"codec:{codec}")
    voc.load()
    audio = voc.render([1, 2, 3], runs=[2, 1, 3])  # merged units expand with their run lengths first
    assert len(audio.samples) == 6 * 640 and voc.describe()["sha256"]


def test_a_tampered_codec_fails_fast(codec, tmp_path):
    import shutil

    from harness.model import ModelConfigError
    from models.codec.vocoder import CodecVocoder

    copy = tmp_path / "codec"
    shutil.copytree(codec, copy, ignore=shutil.ignore_patterns("work"))
    np.save(copy / "centroids.npy", np.zeros((64, 512), np.float32))
    from models.codec.bundle import CodecTokenizer

    with pytest.raises(ModelConfigError, match="centroids.npy does not match"):
        CodecTokenizer(copy)
    np.save(copy / "centroids.npy", np.load(codec / "centroids.npy"))
    np.save(copy / "feature_norm.npy", np.ones((2, 512), np.float32))
    with pytest.raises(ModelConfigError, match="feature_norm.npy does not match"):
        CodecTokenizer(copy)
    (copy / "vocoder.pt").unlink()
    with pytest.raises(ModelConfigError, match="vocoder.pt is missing"):
        CodecVocoder(str(copy)).load()
