"""uro_basic offline end to end: a URO-layout fixture (jsonl + wavs spoken by Piper) answered by `precomputed`
reading URO's own output layout, the offline ASR judge, a loopback LLM judge; then URO's layout written back and
URO's aggregation over the two sets."""
import json
import shutil

import pytest

from harness.audio import write_wav
from harness.options import RunOptions
from harness.registry import MODELS
from harness.runner import evaluate
from harness.tasks.uro_layout import uro_summary, write_evaluation
from harness.tasks.uro_scoring import repeat_score
from tests.fixtures.openai_server import running_openai
from tests.fixtures.s2s_data import judge_args

REPEAT = ["The weather is nice today.", "I like to read books.", "Please close the door."]
OTHER = "Seven purple elephants danced quietly."
GAOKAO = [("What is the capital of France?", "Paris", "The capital of France is Paris."),
          ("How many legs does a spider have?", "Eight", "A spider has eight legs.")]


@pytest.fixture(scope="module")
def uro(tmp_path_factory):
    """root/basic/{Repeat,GaokaoEval}/test.jsonl + audio, and each set's answers in URO's output layout."""
    base = tmp_path_factory.mktemp("uro")
    tts = MODELS.get("piper-en_US-joe-medium")(name="piper-en_US-joe-medium", noise_scale="0", noise_w_scale="0")
    texts = REPEAT + [OTHER] + [q for q, _, _ in GAOKAO] + [a for _, _, a in GAOKAO]
    wavs = {}
    for i, audio in enumerate(tts.synthesize(texts, "en")):
        wavs[texts[i]] = base / "tts" / f"{i}.wav"
        write_wav(wavs[texts[i]], audio.samples, audio.sample_rate)

    def dataset(name, rows):
        folder = base / "data" / "URO-Bench-data" / "basic" / name
        (folder / "audio").mkdir(parents=True)
        with open(folder / "test.jsonl", "w", encoding="utf-8") as fh:
            for i, (question, target) in enumerate(rows):
                shutil.copyfile(wavs[question], folder / "audio" / f"{i}.wav")
                row = {"source_wav": f"audio/{i}.wav", "source_text": question}
                fh.write(json.dumps(row | ({"target_text": target} if target else {})) + "\n")

    def answers(name, rows):  # inference_for_eval.py's layout: pred_text.jsonl {"0000": text} + audio/0000.wav
        folder = base / "systems" / name
        (folder / "audio").mkdir(parents=True)
        with open(folder / "pred_text.jsonl", "w", encoding="utf-8") as fh:
            for i, (text, spoken) in enumerate(rows):
                fh.write(json.dumps({str(i).zfill(4): text}) + "\n")
                if spoken:
                    shutil.copyfile(wavs[spoken], folder / "audio" / f"{i:04d}.wav")
        return folder

    dataset("Repeat", [(s, None) for s in REPEAT])
    dataset("GaokaoEval", [(q, ref) for q, ref, _ in GAOKAO])
    return {"data": base / "data", "Repeat": answers("Repeat", [(REPEAT[0], REPEAT[0]), (OTHER, OTHER),
                                                                 (REPEAT[2], None)]),  # 0002: text only
            "GaokaoEval": answers("GaokaoEval", [(GAOKAO[0][2], GAOKAO[0][2]), ("", GAOKAO[1][2])])}


def run(uro, name, out, **extra):
    return evaluate(RunOptions(task="uro_basic", model="precomputed",
                               model_args={"path": str(uro[name]), "layout": "uro-bench"}, dataset="uro-bench",
                               dataset_args={"path": str(uro["data"]), "set": name}, offline_judges=True,
                               output_dir=str(out), progress=False, bootstrap_resamples=50, **extra))


def metric(results, name, channel):
    return next(m for m in results["metrics"] if m["name"] == name and m.get("channel") == channel)


def lines(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_repeat_and_gaokao_through_precomputed_then_urOs_layout_and_aggregation(uro, tmp_path):
    # Repeat: no LLM judge is built (no key needed).
    rep = run(uro, "Repeat", tmp_path / "repeat")
    samples = {r["id"]: r for r in lines(tmp_path / "repeat" / "samples.jsonl")}
    assert rep["llm_judge"]["status"] == "not used" and rep["uro_bench"]["mode"] == "wer"
    assert samples["0002"]["channels"]["speech"]["status"] == "system_failure"  # no wav: URO's ASR writes " "
    wers = [samples["0000"]["wer_speech"], samples["0001"]["wer_speech"], 1.0]
    assert wers[0] <= 0.5 < wers[1]
    speech = metric(rep, "uro_score", "speech")
    assert speech["headline"] and speech["value"] == pytest.approx(repeat_score(wers)["score"])
    assert speech["coverage"] == {"scored": 2, "total": 3, "system_failed": 1, "measurement_failed": 0}
    text = metric(rep, "uro_score", "text")  # the text channel sits beside it: 0000 and 0002 exact, 0001 not
    assert text["value"] == pytest.approx(200 / 3) and not text["headline"]
    assert metric(rep, "uro_ok_rate", "speech")["value"] == pytest.approx(1 / 3)
    assert rep["status"] == "complete"

    # GaokaoEval (qa): the judge answers three samples; the item is the mean share of exact "Yes".
    def reply(body):
        content = body["messages"][-1]["content"]
        return ["Yes", "Yes", "No"] if "capital" in content else ["Yes", "No", "No"]

    with running_openai(reply=reply) as server:
        gk = run(uro, "GaokaoEval", tmp_path / "gaokao", llm_judge="openai:judge-model",
                 llm_judge_args=judge_args(server))
    assert metric(gk, "uro_score", "speech")["value"] == pytest.approx(50.0)  # (66.7 + 33.3) / 2
    text = metric(gk, "uro_score", "text")  # 0001 has no text: URO's empty-answer rule, 0
    assert text["value"] == pytest.approx(100 / 3) and text["coverage"]["system_failed"] == 1
    assert gk["llm_judge"]["prompt"]["name"] == "uro-bench-qa" and gk["llm_judge"]["n"] == 3
    gs = {r["id"]: r for r in lines(tmp_path / "gaokao" / "samples.jsonl")}
    assert gs["0001"]["channels"]["text"]["error"]["code"] == "empty_answer"

    # URO's layout: the files its scripts read, keyed 0000..
    folder = tmp_path / "repeat" / rep["uro_layout"]
    assert folder.parts[-3:] == ("eval", "basic", "Repeat")
    assert lines(folder / "pred_text.jsonl")[0] == {"0000": REPEAT[0]}
    assert lines(folder / "asr_text.jsonl")[2] == {"0002": " "}
    assert lines(folder / "gt_text.jsonl")[1] == {"0001": REPEAT[1]}
    assert (folder / "audio" / "0000.wav").is_file() and not (folder / "audio" / "0002.wav").exists()
    last = lines(folder / "eval_with_asr" / "result_repeat_wer.jsonl")[-1]  # what evaluate.py reads
    assert last["ok_rate"] * (1 - last["final_WER_for_ok_case"]) * 100 == pytest.approx(speech["value"])
    assert "final_WER" in lines(folder / "eval_with_asr" / "result_wer.jsonl")[-1]
    qa = tmp_path / "gaokao" / gk["uro_layout"]
    assert lines(qa / "eval_with_asr" / "result_qa.jsonl")[-1] == {"final_score": pytest.approx(50.0)}
    text_lines = lines(qa / "eval" / "result_qa.jsonl")
    assert text_lines[1]["score"] == [0, 0, 0] and text_lines[0]["score"] == ["Yes", "Yes", "No"]
    assert set(text_lines[0]) == {"question", "answer", "reference", "score"}

    # URO's aggregation over the sets found: equal weight per set; a set without a score is skipped.
    summary = uro_summary({"Repeat": rep, "GaokaoEval": gk, "AlpacaEval": None})
    mean = (speech["value"] + 50.0) / 2
    assert summary["categories"]["understanding_basic_en"] == pytest.approx(mean)
    assert summary["overall"] == {"basic_en": pytest.approx(mean)} and summary["final_score"] == pytest.approx(mean)
    assert summary["skipped"] == ["AlpacaEval"] and "oral_basic_en" not in summary["categories"]
    assert uro_summary({"Repeat": rep}, channel="text")["final_score"] == pytest.approx(200 / 3)
    evaluation = lines(write_evaluation(tmp_path / "evaluation.jsonl", summary, {"Repeat": 3, "GaokaoEval": 2}))
    assert evaluation[0] == {"samples": 3, "score on Repeat": pytest.approx(speech["value"])}
    assert {"final score on understanding": pytest.approx(mean)} in evaluation
    assert evaluation[-1] == {"final_score": pytest.approx(mean)}


def test_refusals(uro, tmp_path):
    from harness.options import ConfigError

    with pytest.raises(ConfigError, match="needs an LLM judge"):
        run(uro, "GaokaoEval", tmp_path / "a", llm_judge="none")
    with pytest.raises(ConfigError, match="own prompt"):
        run(uro, "GaokaoEval", tmp_path / "b", llm_judge="openai:m",
            llm_judge_args={"base_url": "http://127.0.0.1:9/v1", "prompt": "voicebench-open"})
    with pytest.raises(ConfigError, match="Did you mean Repeat"):
        evaluate(RunOptions(task="uro_basic", model="precomputed", model_args={"path": str(uro["Repeat"]),
                                                                             "layout": "uro-bench"},
                            dataset="uro-bench", dataset_args={"path": str(uro["data"]), "set": "Repeat-en"},
                            output_dir=str(tmp_path / "c"), progress=False))
