"""The cascade baseline: ASR -> text LLM -> TTS from registered models (records, not quality)."""
import pytest

from harness.model import ModelConfigError
from models.cascade import SYSTEM_PROMPTS, Cascade
from tests.fixtures.openai_server import running_openai

QUESTION = "What is the capital city of France?"


@pytest.fixture(scope="module")
def question_audio():
    import soxr

    from harness.registry import MODELS

    tts = MODELS.get("piper-en_US-joe-medium")(name="piper-en_US-joe-medium", noise_scale="0", noise_w_scale="0")
    audio = tts.synthesize([QUESTION], "en")[0]
    return soxr.resample(audio.samples, audio.sample_rate, 16000).astype("float32")


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory):
    from models.cslm.tiny import build_tiny_cslm

    return build_tiny_cslm(tmp_path_factory.mktemp("cascade_llm"))


def test_local_llm_pipeline_records(question_audio, tiny_llm):
    model = Cascade("cascade", asr="whisper-tiny.en-bundled", llm=f"hf:{tiny_llm}", tts="piper-en_US-joe-medium",
                    max_new_tokens="10")
    out = model.respond(question_audio, None, "en", in_lang="en")
    events = out.events
    assert "capital" in events["question_transcript"].lower()
    assert out.text and out.audio is not None and out.audio.sample_rate == 22050 and out.audio.seconds > 0.1
    assert 0 < events["asr_end"] <= events["first_text_token"] <= events["llm_end"] <= events["first_audio"]
    info = model.describe()
    assert info["parts"]["asr"]["id"] == "whisper-tiny.en-bundled" and info["llm"] == f"hf:{tiny_llm}"
    assert model.supports_language("en") and not model.supports_language("zh")  # Piper speaks English only


def test_openai_llm_over_http(question_audio, monkeypatch):
    reply = "Paris is the capital of France."
    with running_openai(reply=lambda body: reply) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        model = Cascade("cascade", asr="whisper-tiny.en-bundled", llm="openai:answer-model",
                        tts="piper-en_US-joe-medium")
        out = model.respond(question_audio, None, "en", in_lang="en")
    assert out.text == reply and out.audio.seconds > 0.5
    messages = server.log[0]["body"]["messages"]
    assert messages[0]["content"] == SYSTEM_PROMPTS["en"] and "capital" in messages[1]["content"].lower()
    assert server.log[0]["body"]["temperature"] == 0.0


def test_configuration_errors():
    with pytest.raises(ModelConfigError, match="asr="):
        Cascade("cascade", llm="hf:x", tts="piper-en_US-joe-medium")
    with pytest.raises(ModelConfigError, match="cannot transcribe"):
        Cascade("cascade", asr="piper-en_US-joe-medium", llm="hf:x", tts="piper-en_US-joe-medium")
    with pytest.raises(ModelConfigError, match="unknown model"):
        Cascade("cascade", asr="whisper-tiny.en-bundled", llm="hf:x", tts="piper-en_US-joe-medium", tts_zh="nope")
    with pytest.raises(ModelConfigError, match="hf:DIR or openai:MODEL"):
        Cascade("cascade", asr="whisper-tiny.en-bundled", llm="gpt-4o", tts="piper-en_US-joe-medium")
    with pytest.raises(ModelConfigError, match="unknown option"):
        Cascade("cascade", asr="whisper-tiny.en-bundled", llm="hf:x", tts="piper-en_US-joe-medium", beam="1")
