"""The precomputed model: another system's outputs served by sample id, to respond, transcribe and synthesize."""
import json

import numpy as np
import pytest

from harness.audio import AudioError, write_wav
from harness.errors import MeasurementFailure, SystemFailure
from harness.model import ModelConfigError
from harness.options import ConfigError, RunOptions
from harness.runner import evaluate
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
        with pytest.raises(SystemFailure, match=match) as err:
            model.respond(None, None, "en", item_id=missing)
        assert err.value.code == "missing_output" and err.value.kind == "system"
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
    assert results["counts"]["failed_by_reason"] == {"missing_output": 1}
    cer = next(m for m in results["metrics"] if m["headline"])
    assert cer["n"] == 3 and cer["coverage"]["system_failed"] == 1  # the missing one counts, all deleted
    assert cer["scored_only"]["n"] == 2 and 0 < cer["scored_only"]["value"] < 0.2


# -- the layouts published benchmarks write, through the real task path ------------------------------------

def belle_questions(belle_dir, n):
    lines = (belle_dir / "test.tsv").read_text(encoding="utf-8").splitlines()[1:n + 1]
    return [line.split("\t", 1) for line in lines]


def asr_run(tmp_path, belle_dir, model_args, limit, name="run"):
    results = evaluate(RunOptions(task="asr_wer", model="precomputed", model_args=model_args,
                                  dataset="belle-eval-s2s", dataset_args={"path": str(belle_dir)}, limit=limit,
                                  output_dir=str(tmp_path / name), progress=False, bootstrap_resamples=0))
    samples = {r["id"]: r for r in map(json.loads, (tmp_path / name / "samples.jsonl").read_text().splitlines())}
    return results, samples


def test_uro_bench_layout_by_row_position(tmp_path, belle_dir):
    # URO-Bench inference_for_eval.py: pred_text.jsonl {"0000": text} + audio/0000.wav, keyed by
    # str(step).zfill(4) over the rows it read. Row 2 is missing (the script died on it).
    rows = belle_questions(belle_dir, 4)
    system = tmp_path / "uro"
    answers = {i: f"答案{i}：{text}" for i, (_, text) in enumerate(rows) if i != 2}
    (system / "audio").mkdir(parents=True)
    (system / "pred_text.jsonl").write_text("".join(json.dumps({str(i).zfill(4): t}, ensure_ascii=False) + "\n"
                                                    for i, t in answers.items()), encoding="utf-8")
    for i in answers:
        write_wav(system / "audio" / f"{i:04d}.wav", tone(0.5 + 0.1 * i, 22050), 22050)
    results, samples = asr_run(tmp_path, belle_dir, {"path": str(system), "layout": "uro-bench"}, limit=4)
    assert [samples[rows[i][0]]["hypothesis"] for i in answers] == list(answers.values())
    assert results["counts"]["failed_by_reason"] == {"missing_output": 1}
    error = samples[rows[2][0]]["error"]
    assert error["code"] == "missing_output" and error["kind"] == "system"
    assert "pred_text.jsonl" in error["message"] and "'0002'" in error["message"]
    model = Precomputed("precomputed", path=str(system), layout="uro-bench")
    out = model.respond(None, None, "zh", item_id=rows[3][0])  # the wav of the same row
    assert out.text == answers[3] and out.audio.sample_rate == 22050 and out.audio.seconds == pytest.approx(0.8)
    (system / "audio" / "0001.wav").unlink()  # text without speech (as its multilingual_test row 107)
    model = Precomputed("precomputed", path=str(system), layout="uro-bench")
    assert model.respond(None, None, "zh", item_id=rows[1][0]).audio is None  # the task decides
    with pytest.raises(SystemFailure, match=r"no wav .*'0001'.*audio/0001.wav") as err:
        model.synthesize([""], "zh", ids=[rows[1][0]])
    assert err.value.code == "missing_output"


def test_uro_bench_layout_with_an_order_file(tmp_path, belle_dir):
    # The other system read our rows in reverse: order= lists our ids in its order.
    rows = belle_questions(belle_dir, 3)
    system = tmp_path / "uro"
    system.mkdir()
    order = [item_id for item_id, _ in reversed(rows)]
    (system / "order.txt").write_text("\n".join(order) + "\n")
    (system / "pred_text.jsonl").write_text("".join(json.dumps({f"{k:04d}": f"reply to {item_id}"}) + "\n"
                                                    for k, item_id in enumerate(order)))
    _, samples = asr_run(tmp_path, belle_dir, {"path": str(system), "layout": "uro-bench",
                                               "order": str(system / "order.txt")}, limit=3)
    assert {i: s["hypothesis"] for i, s in samples.items()} == {i: f"reply to {i}" for i, _ in rows}
    # An output past the end of the order file: not the same manifest -- the run stops, naming both files.
    (system / "pred_text.jsonl").write_text((system / "pred_text.jsonl").read_text() + '{"0003": "extra"}\n')
    with pytest.raises(ConfigError, match="order file"):
        asr_run(tmp_path, belle_dir, {"path": str(system), "layout": "uro-bench",
                                      "order": str(system / "order.txt")}, limit=3, name="again")
    model = Precomputed("precomputed", path=str(system), layout="uro-bench")  # no order=: ids are positions
    with pytest.raises(MeasurementFailure, match="order=FILE") as err:
        model.respond(None, None, "en", item_id="q-7")
    assert err.value.code == "unplaced_id"


def test_voicebench_layout(tmp_path, belle_dir):
    # VoiceBench main.py: <model>-<data>-<split>-<modality>.jsonl, the dataset's fields + "response", in row
    # order. This file stops after two rows (a run cut short): the third sample has no output.
    rows = belle_questions(belle_dir, 3)
    system = tmp_path / "vb"
    system.mkdir()
    name = "naive-belle-test-audio.jsonl"
    (system / name).write_text("".join(json.dumps({"prompt": text, "response": f"{text}！"}, ensure_ascii=False)
                                       + "\n" for _, text in rows[:2]), encoding="utf-8")
    results, samples = asr_run(tmp_path, belle_dir, {"path": str(system), "layout": "voicebench", "manifest": name},
                               limit=3)
    assert [samples[i]["hypothesis"] for i, _ in rows[:2]] == [f"{text}！" for _, text in rows[:2]]
    error = samples[rows[2][0]]["error"]
    assert error["code"] == "missing_output" and name in error["message"] and "(key '2')" in error["message"]
    assert results["counts"]["failed_by_reason"] == {"missing_output": 1}
    model = Precomputed("precomputed", path=str(system), layout="voicebench", manifest=name)
    assert model.respond(None, None, "zh", item_id="1").audio is None  # text only
    with pytest.raises(ModelConfigError, match="manifest=FILE"):
        Precomputed("precomputed", path=str(system), layout="voicebench")


def test_order_file_mistakes_fail_fast(tmp_path):
    (tmp_path / "pred_text.jsonl").write_text("")
    for body, match in (("a\nb\na\n", "appears twice"), ("a\n\nb\n", "row 1 has no id")):
        (tmp_path / "order.txt").write_text(body)
        with pytest.raises(ModelConfigError, match=match):
            Precomputed("precomputed", path=str(tmp_path), layout="uro-bench", order=str(tmp_path / "order.txt"))
    (tmp_path / "order.jsonl").write_text('{"id": "x"}\n{"id": "y"}\n')
    (tmp_path / "order.tsv").write_text("id\ttext\nx\tq\ny\tr\n")
    for order in ("order.jsonl", "order.tsv"):
        model = Precomputed("precomputed", path=str(tmp_path), layout="uro-bench", order=str(tmp_path / order))
        with pytest.raises(SystemFailure, match="key '0001'"):
            model.respond(None, None, "en", item_id="y")
    (tmp_path / "responses.jsonl").write_text("")
    with pytest.raises(ModelConfigError, match="by row position"):
        Precomputed("precomputed", path=str(tmp_path), order=str(tmp_path / "order.tsv"))


@pytest.mark.slow
def test_uro_bench_layout_answers_a_spoken_conversation(tmp_path, belle_dir):
    # The S2S task on URO-Bench-layout outputs with real Chinese speech (answer k is question k+1's recording),
    # judged by a loopback judge that scores its three choices 2, 3 and 5: each channel scores their mean.
    import shutil

    from tests.fixtures.openai_server import running_openai
    from tests.fixtures.s2s_data import judge_args

    rows = belle_questions(belle_dir, 3)
    system = tmp_path / "uro"
    (system / "audio").mkdir(parents=True)
    answers = {k: rows[k + 1][1] for k in range(2)}  # row 2 has no output
    (system / "pred_text.jsonl").write_text("".join(json.dumps({f"{k:04d}": t}, ensure_ascii=False) + "\n"
                                                    for k, t in answers.items()), encoding="utf-8")
    for k in answers:
        shutil.copyfile(belle_dir / "wav" / f"{rows[k + 1][0]}.wav", system / "audio" / f"{k:04d}.wav")
    with running_openai(reply=lambda body: ["2", "3", "5"]) as server:
        results = evaluate(RunOptions(
            task="s2s_conversation", model="precomputed", model_args={"path": str(system), "layout": "uro-bench"},
            dataset="belle-eval-s2s", dataset_args={"path": str(belle_dir)}, offline_judges=True,
            judge_args={"zh": {"beam_size": "1"}}, llm_judge="openai:judge-model",
            llm_judge_args=judge_args(server), limit=3, output_dir=str(tmp_path / "run"), progress=False,
            bootstrap_resamples=0))
    samples = {r["id"]: r for r in map(json.loads, (tmp_path / "run" / "samples.jsonl").read_text().splitlines())}
    for k, text in answers.items():
        sample = samples[rows[k][0]]
        assert sample["text"] == text and sample["transcript"]  # both channels reached the sample
        assert sample["judge_score_text"] == pytest.approx(10 / 3)
        assert sample["judge_score_speech"] == pytest.approx(10 / 3)
    error = samples[rows[2][0]]["error"]
    assert (error["stage"], error["code"], error["kind"]) == ("respond", "missing_output", "system")
    assert "'0002'" in error["message"] and results["counts"]["failed_by_reason"] == {"missing_output": 1}
    assert results["llm_judge"]["n"] == 3 and all(e["body"]["n"] == 3 for e in server.log)
