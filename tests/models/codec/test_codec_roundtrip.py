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


def _training_units(codec):
    """Un-merged units of the codec's first training utterances, exactly as the build saw them."""
    from models.codec.bundle import nearest

    centroids, norm = np.load(codec / "centroids.npy"), np.load(codec / "feature_norm.npy")
    with np.load(codec / "work" / "features" / "en-0000.npz") as data:
        return [nearest(data[k].astype(np.float32), centroids, norm) for k in data.files]


def test_the_duration_model_beats_one_frame_per_run_on_its_training_units(codec):
    from models.codec.bundle import load_codec
    from models.unit_vocoder import merge_repeats

    manifest = load_codec(codec)
    assert manifest.has_durations and "durations.pt" in manifest.data["files"]
    model = manifest.load_durations()
    pred, ones, true = [], [], []
    for units in _training_units(codec):
        merged, runs = merge_repeats(units)
        d = model.durations(merged)
        assert d.min() >= 1 and np.array_equal(np.repeat(merged, d), model.expand(merged))
        pred.append(d), ones.append(np.ones_like(runs)), true.append(runs)
    mae = {name: np.abs(np.concatenate(p) - np.concatenate(true)).mean() for name, p in (("model", pred), ("ones", ones))}
    drift = {name: np.mean([np.abs(np.cumsum(a) - np.cumsum(t)).mean() for a, t in zip(p, true)])
             for name, p in (("model", pred), ("ones", ones))}
    assert np.concatenate(true).mean() > 1.1  # runs do repeat: one frame per run drops frames
    assert mae["model"] < mae["ones"] and drift["model"] < 0.5 * drift["ones"], (mae, drift)
    fit = manifest.data["durations"]["fit"]["training"]
    assert fit["model"]["mae"] < fit["ones"]["mae"] and fit["ones"]["length_ratio"] < 1


def test_merged_units_are_expanded_by_predicted_durations(codec, speech):
    from models.codec.bundle import CodecTokenizer
    from models.cslm.vocoder import make_vocoder
    from models.unit_vocoder import ONE_FRAME, merge_repeats

    merged = merge_repeats(CodecTokenizer(codec).tokenize(speech))[0].tolist()
    voc = make_vocoder(f"codec:{codec}")
    voc.load()
    frames = voc.durations.durations(merged)
    audio = voc.render_merged(merged)
    assert len(audio.samples) == frames.sum() * 640 > len(merged) * 640 and not audio.warnings
    assert voc.describe()["merged_units"]["durations"] == "predicted"
    np.testing.assert_array_equal(audio.samples, voc.render(merged, runs=frames).samples)
    off = make_vocoder(f"codec:{codec}", durations="none")  # the path before the duration model, on request
    old = off.render_merged(merged)
    assert len(old.samples) == len(merged) * 640 and ONE_FRAME in old.warnings[0]
    assert off.merged_rendering() == {"durations": ONE_FRAME, "why": "durations=none"}


@pytest.mark.parametrize("chunk", [5, 16])
def test_a_merged_stream_renders_the_whole_utterance_frames(codec, speech, chunk):
    """Streamed merged units get the same frames as the whole utterance (the duration model decides a run once its
    look-ahead has arrived); the waveform then differs only by chunked Griffin-Lim, as for un-merged units."""
    from models.codec.bundle import CodecTokenizer
    from models.codec.vocoder import CodecVocoder
    from models.unit_vocoder import merge_repeats

    voc = CodecVocoder(str(codec))
    merged = merge_repeats(CodecTokenizer(codec).tokenize(speech))[0].tolist()
    whole = voc.render_merged(merged).samples
    session = voc.open_stream(merged=True)
    pieces = [session.push(merged[i:i + chunk]) for i in range(0, len(merged), chunk)] + [session.finish()]
    np.testing.assert_array_equal(session.units, voc.durations.expand(merged))
    streamed = np.concatenate(pieces)
    assert len(streamed) == len(whole)
    assert np.abs(_log_mel(voc.mel, streamed) - _log_mel(voc.mel, whole)).mean() < 0.35


def test_a_codec_without_a_duration_model_still_loads_and_says_so(codec, tmp_path, caplog):
    import json
    import logging
    import shutil

    from harness.model import ModelConfigError
    from models.codec.adapter import Codec
    from models.codec.bundle import write_manifest
    from models.codec.vocoder import CodecVocoder

    old = tmp_path / "old"
    shutil.copytree(codec, old, ignore=shutil.ignore_patterns("work", "durations.pt"))
    data = json.loads((old / "codec.json").read_text())
    for key in ("durations", "files", "format"):
        data.pop(key)
    write_manifest(old, data)
    voc = CodecVocoder(str(old))
    with caplog.at_level(logging.WARNING):
        voc.load()
    assert "no duration model" in caplog.text and voc.durations is None
    assert voc.describe()["merged_units"]["durations"] == "one frame per run"
    audio = voc.render_merged([1, 2, 3])
    assert len(audio.samples) == 3 * 640 and "one frame per run" in audio.warnings[0]
    Codec("codec", path=str(old), merge="one-frame")  # measuring the old path needs no model
    with pytest.raises(ModelConfigError, match="merge=durations needs a codec with a duration model"):
        Codec("codec", path=str(old), merge="durations")
