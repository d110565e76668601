"""The precomputed model: another system's outputs served by sample id, to respond, transcribe and synthesize."""
import json

import numpy as np
import pytest

from harness.audio import AudioError, write_wav
from harness.options import RunOptions
from harness.runner import evaluate
from harness.model import ModelConfigError
from models.precomputed import Precomputed


def tone(seconds=0.5, sr=16000):
    t = np.arange(int(seconds * sr), dtype=np.float32) / sr
    return (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.fixture
def outputs(tmp_path):
    write_wav(tmp_path / "wav" / "a.wav", tone(), 16000)
    write_wav(tmp_path / "wav" / "b.wav", tone(1.0), 22050)
    rows = [{"id": "a", "text": "hello there", "units": [5, 6, 7], "events": {"first_audio": 0.3}},
            {"id": "b", "text": "second answer", "audio": "wav/b.wav"},
            "not json", {"id": "dup", "text": "x"}, {"id": "dup", "text": "y"}, {"id": "c", "text": "text only"}]
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    (tmp_path / "responses.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_respond_by_id(outputs):
    model = Precomputed("precomputed", path=str(outputs))
    a = model.respond(None, None, "en", item_id="a")
    assert a.text == "hello there" and a.units == [5, 6, 7] and a.events == {"first_audio": 0.3}
    assert a.audio.sample_rate == 16000 and a.audio.seconds == pytest.approx(0.5)
    assert model.respond(None, None, "en", item_id="b").audio.sample_rate == 22050
    assert model.respond(None, None, "en", item_id="c").audio is None  # text only: the task decides
    for missing, match in (("zzz", "no output for sample"), ("dup", "appears twice")):
        with pytest.raises(LookupError, match=match) as err:
            model.respond(None, None, "en", item_id=missing)
        assert err.value.code == "precomputed_missing"
    assert model.transcribe([np.zeros(10), np.zeros(10)], "en", ids=["b", "a"]) == ["second answer", "hello there"]
    assert model.synthesize(["", ""], "en", ids=["a", "b"])[1].sample_rate == 22050
    with pytest.raises(ModelConfigError, match="by sample id"):
        model.transcribe([np.zeros(10)], "en")


def test_describe_tracks_the_outputs(outputs):
    before = Precomputed("precomputed", path=str(outputs)).describe()
    write_wav(outputs / "wav" / "a.wav", tone(0.7), 16000)
    after = Precomputed("precomputed", path=str(outputs)).describe()
    assert before["revision"] != after["revision"] and before["options"]["path"] == str(outputs)


def test_glm_4_voice_layout(tmp_path):
    # What GLM-4-Voice batch scripts write: text_output.jsonl {"utt", "output"} + audio_output/<utt>_answer.wav
    write_wav(tmp_path / "audio_output" / "7_answer.wav", tone(), 22050)
    (tmp_path / "text_output.jsonl").write_text(json.dumps({"utt": "7", "output": "你好，我是助手。"},
                                                           ensure_ascii=False) + "\n")
    model = Precomputed("precomputed", path=str(tmp_path), layout="glm-4-voice")
    out = model.respond(None, None, "zh", item_id="7")
    assert out.text == "你好，我是助手。" and out.audio.sample_rate == 22050


def test_configuration_errors(tmp_path):
    with pytest.raises(ModelConfigError, match="path=DIR"):
        Precomputed("precomputed")
    with pytest.raises(ModelConfigError, match="responses.jsonl"):
        Precomputed("precomputed", path=str(tmp_path))
    (tmp_path / "responses.jsonl").write_text("")
    with pytest.raises(ModelConfigError, match="layout"):
        Precomputed("precomputed", path=str(tmp_path), layout="glm4")
    with pytest.raises(ModelConfigError, match="unknown option"):
        Precomputed("precomputed", path=str(tmp_path), beam="2")


def test_bad_wav_fails_that_sample(tmp_path):
    (tmp_path / "wav").mkdir()
    (tmp_path / "wav" / "x.wav").write_bytes(b"RIFF....garbage")
    (tmp_path / "responses.jsonl").write_text(json.dumps({"id": "x", "text": "t", "audio": "wav/x.wav"}) + "\n")
    with pytest.raises(AudioError) as err:
        Precomputed("precomputed", path=str(tmp_path)).respond(None, None, "en", item_id="x")
    assert err.value.code == "corrupt"


def test_serves_asr_wer_by_id(tmp_path, belle_dir):
    belle_dir = belle_dir
    rows = [line.split("\t", 1) for line in (belle_dir / "test.tsv").read_text(encoding="utf-8").splitlines()[1:4]]
    system = tmp_path / "system"
    system.mkdir()
    lines = [{"id": rows[0][0], "text": rows[0][1]}, {"id": rows[1][0], "text": rows[1][1][:-3]}]  # row 2 missing
    (system / "responses.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines))
    results = evaluate(RunOptions(task="asr_wer", model="precomputed", model_args={"path": str(system)},
                                  dataset="belle-eval-s2s", dataset_args={"path": str(belle_dir)}, limit=3,
                                  output_dir=str(tmp_path / "run"), progress=False, bootstrap_resamples=0))
    assert results["counts"]["failed_by_reason"] == {"precomputed_missing": 1}
    cer = next(m for m in results["metrics"] if m["headline"])
    assert cer["n"] == 2 and 0 < cer["value"] < 0.2
