"""The cascade baseline: ASR -> text LLM -> TTS from registered models (records, not quality)."""
from types import SimpleNamespace

import numpy as np
import pytest

from harness.model import ModelConfigError, respond_kwargs
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
    # the TTS speaks the whole answer: every text token comes before the first audio (the end token is no text)
    assert 0 < events["text_tokens"] == events["tokens_before_first_chunk_end"] <= 10
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


def test_reference_transcript_replaces_the_asr_and_system_prompt_modes(monkeypatch):
    """asr=reference: the task passes the item's transcript (wants "text") and the LLM reads it; the system turn
    is there by default, never with system_prompt=none, and with cross-lingual only across languages."""
    item = SimpleNamespace(id="q1", lang="zh", text=QUESTION)
    silence = np.zeros(1600, dtype=np.float32)
    cases = (("default", "en", "en", True), ("none", "zh", "en", False), ("cross-lingual", "en", "en", False),
             ("cross-lingual", "zh", "en", True))
    with running_openai(reply=lambda body: "Paris.") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        for mode, in_lang, out_lang, system in cases:
            model = Cascade("cascade", asr="reference", llm="openai:m", tts="dummy-tts", system_prompt=mode,
                            label="text ceiling")
            assert respond_kwargs(model, item) == {"in_lang": "zh", "question_text": QUESTION}
            out = model.respond(silence, None, out_lang, in_lang=in_lang, question_text=QUESTION)
            messages = server.log[-1]["body"]["messages"]
            assert messages[-1] == {"role": "user", "content": QUESTION} and out.text == "Paris."
            assert (messages[0] == {"role": "system", "content": SYSTEM_PROMPTS[out_lang]}) is system, (mode, messages)
            assert out.events["question_transcript"] == QUESTION and "text_tokens" not in out.events  # HTTP: no count
        with pytest.raises(ModelConfigError, match="needs the item's transcript"):
            model.respond(silence, None, "en", in_lang="en")
    info = model.describe()
    assert info["id"] == "text ceiling" and info["parts"]["asr"]["id"] == "reference"
    assert info["system_prompt"] == "cross-lingual"
    assert Cascade("cascade", asr="whisper-tiny.en-bundled", llm="hf:x", tts="dummy-tts").wants == {"in_lang", "history"}


def test_part_options_reach_their_part():
    model = Cascade("cascade", asr="whisper-tiny.en-bundled", llm="hf:x", tts="piper-en_US-joe-medium",
                    tts_zh="espeak-ng-zh", **{"tts.noise_scale": "0", "tts_zh.rate": "110", "asr.beam_size": "1"})
    parts = model.describe()["parts"]
    assert parts["tts_zh"]["options"]["rate"] == 110 and model.parts["tts"].noise_scale == 0.0
    assert model.parts["asr"].beam_size == 1


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
    with pytest.raises(ModelConfigError, match="system_prompt='sometimes'"):
        Cascade("cascade", asr="reference", llm="hf:x", tts="dummy-tts", system_prompt="sometimes")
    with pytest.raises(ModelConfigError, match="tts_zh.rate sets an option of tts_zh, which is not given"):
        Cascade("cascade", asr="reference", llm="hf:x", tts="dummy-tts", **{"tts_zh.rate": "110"})
    with pytest.raises(ModelConfigError, match="asr=reference is no model"):
        Cascade("cascade", asr="reference", llm="hf:x", tts="dummy-tts", **{"asr.beam_size": "1"})
    with pytest.raises(ModelConfigError, match="unknown option"):  # the part's own check
        Cascade("cascade", asr="reference", llm="hf:x", tts="dummy-tts", **{"tts.rate": "1"})
