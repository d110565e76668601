"""uro_pro offline end to end: a URO-layout multi-round set (MtBenchEval-en, user turns spoken by Piper), answered by
`precomputed` reading URO's multi-round output layout and ours, and by the cascade (tiny local LLM) holding a text
history; the offline ASR judge; a loopback LLM judge scoring whole dialogues with URO's multi-round prompts."""
import copy
import json
import shutil

import pytest

from harness.audio import write_wav
from harness.options import ConfigError, RunOptions
from harness.registry import MODELS
from harness.runner import evaluate
from harness.tasks import uro_scoring as scoring
from tests.fixtures.openai_server import running_openai
from tests.fixtures.s2s_data import judge_args

# Two dialogues: d1 has two rounds, d2 three. (question, reference, the system's answer)
DIALOGUES = {
    "d1": [("My name is Alice.", "Nice to meet you, Alice.", "Hello Alice, nice to meet you."),
           ("What is my name?", "Your name is Alice.", "Your name is Alice.")],
    "d2": [("I have two apples.", "Okay.", "Two apples, got it."),
           ("I buy three more.", "Now you have five.", "Then you have five apples."),
           ("How many apples now?", "Five apples.", "You have five apples.")],
}


@pytest.fixture(scope="module")
def uro(tmp_path_factory):
    base = tmp_path_factory.mktemp("uro_pro")
    tts = MODELS.get("piper-en_US-joe-medium")(name="piper-en_US-joe-medium", noise_scale="0", noise_w_scale="0")
    texts = sorted({s for turns in DIALOGUES.values() for q, _, a in turns for s in (q, a)})
    wavs = {}
    for i, audio in enumerate(tts.synthesize(texts, "en")):
        wavs[texts[i]] = base / "tts" / f"{i}.wav"
        write_wav(wavs[texts[i]], audio.samples, audio.sample_rate)
    folder = base / "data" / "pro" / "MtBenchEval-en"
    uro_out, ours = base / "systems" / "uro", base / "systems" / "ours"
    for path in (folder, uro_out, ours / "wav"):
        path.mkdir(parents=True)
    with open(folder / "test.jsonl", "w") as data, open(uro_out / "output_with_text.jsonl", "w") as out, \
            open(ours / "responses.jsonl", "w") as mine:
        for did, turns in DIALOGUES.items():
            (folder / did).mkdir()
            dialogue = []
            for r, (q, ref, _a) in enumerate(turns):
                shutil.copyfile(wavs[q], folder / did / f"{r}.wav")
                dialogue.append({"round": r, "source_wav": f"{did}/{r}.wav", "source_text": q, "target_text": ref})
            data.write(json.dumps({"id": did, "num_round": len(turns), "dialogue": dialogue}) + "\n")
            # URO's inference_multi.py layout: output_with_text.jsonl + <id>/chat_<round>.wav
            out.write(json.dumps({"id": did, "num_round": len(turns), "dialogue": [
                {**d, "output_text": a} for d, (_, _, a) in zip(dialogue, turns)]}) + "\n")
            (uro_out / did).mkdir()
            for r, (_, _, a) in enumerate(turns):
                shutil.copyfile(wavs[a], uro_out / did / f"chat_{r}.wav")
            # ours: d1 as one row with a turns list, d2 as one row per round
            (ours / "wav" / did).mkdir()
            for r, (_, _, a) in enumerate(turns):
                shutil.copyfile(wavs[a], ours / "wav" / did / f"chat_{r}.wav")
            if did == "d1":
                mine.write(json.dumps({"id": did, "turns": [{"text": a} for _, _, a in turns]}) + "\n")
            else:
                for r, (_, _, a) in reversed(list(enumerate(turns))):
                    mine.write(json.dumps({"id": did, "turn": r, "text": a}) + "\n")
    return {"data": base / "data", "uro": uro_out, "ours": ours}


def run(uro, out, model="precomputed", model_args=None, **extra):
    return evaluate(RunOptions(task="uro_pro", model=model, model_args=model_args or {}, dataset="uro-bench",
                               dataset_args={"path": str(uro["data"]), "set": "MtBenchEval-en"},
                               offline_judges=True, output_dir=str(out), progress=False, bootstrap_resamples=0,
                               **extra))


def metric(results, name, channel):
    return next(m for m in results["metrics"] if m["name"] == name and m.get("channel") == channel)


def lines(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def reply(body):
    """4 for a two-round dialogue, 5 for three rounds (the prompt names its rounds)."""
    return ["5", "5", "5"] if "[Round_3]" in body["messages"][-1]["content"] else ["4", "4", "3"]


@pytest.mark.parametrize("layout", ["uro", "ours"])
def test_two_and_three_round_dialogues_through_precomputed(uro, tmp_path, layout):
    args = {"path": str(uro[layout]), **({"layout": "uro-bench"} if layout == "uro" else {})}
    with running_openai(reply=reply) as server:
        res = run(uro, tmp_path / "run", model_args=args, llm_judge="openai:judge", llm_judge_args=judge_args(server))
    assert res["model"]["options"]["layout"] == ("uro-bench-multi" if layout == "uro" else "default")
    speech, text = metric(res, "uro_score", "speech"), metric(res, "uro_score", "text")
    assert speech["headline"] and text["value"] == pytest.approx((20 * 11 / 3 + 100) / 2)
    assert speech["coverage"]["scored"] == 2 and res["status"] == "complete"
    assert res["uro_bench"]["mode"] == "multi" and res["llm_judge"]["n"] == 3
    # one judge call per dialogue and channel, each carrying every round: question, the system's answer, reference
    bodies = [entry["body"]["messages"][-1]["content"] for entry in server.log]
    assert len(bodies) == 4
    d1 = next(b for b in bodies if "My name is Alice." in b and "Hello Alice, nice to meet you." in b)
    assert "### [Round_2]\n    ### [Instruction]\n    What is my name?\n    ### [Response]\n    Your name is Alice." in d1
    assert "### [Reference]\n    Your name is Alice." in d1 and "[Round_3]" not in d1
    assert "{question" not in d1 and "{answer" not in d1
    samples = {r["id"]: r for r in lines(tmp_path / "run" / "samples.jsonl")}
    assert samples["d2"]["prompt_speech"] == "uro-bench-multi-3" and samples["d1"]["values_text"] == [4, 4, 3]
    assert "alice" in samples["d1"]["turns"][1]["transcript"].lower()
    assert 0 <= metric(res, "uro_asr_wer", "speech")["value"] < 0.5
    # URO's multi-round layout, for its evaluate.py
    folder = tmp_path / "run" / res["uro_layout"]
    assert folder.parts[-3:] == ("eval", "pro", "MtBenchEval-en")
    written = lines(folder / "output_with_text.jsonl")
    assert written[0]["dialogue"][1]["output_text"] == "Your name is Alice." and written[1]["num_round"] == 3
    assert (folder / "d2" / "chat_2.wav").is_file()
    result = lines(folder / "eval" / "result_multi.jsonl")
    assert result[0]["answer1"] == "Your name is Alice." and result[0]["question4"] == ""
    assert result[-1] == {"final_score": pytest.approx(text["value"])}
    assert lines(folder / "eval_with_asr" / "result_multi.jsonl")[-1]["final_score"] == pytest.approx(speech["value"])


def test_an_unparseable_reply_is_a_measurement_failure(uro, tmp_path):
    def bad(body):
        return ["Score: 4", "4", "4"] if "Alice" in body["messages"][-1]["content"] else ["5", "5", "5"]

    with running_openai(reply=bad) as server:
        res = run(uro, tmp_path / "run", model_args={"path": str(uro["ours"])}, llm_judge="openai:judge",
                  llm_judge_args=judge_args(server))
    text = metric(res, "uro_score", "text")
    assert text["value"] == pytest.approx(100.0) and text["coverage"]["measurement_failed"] == 1
    assert res["status"] == "incomplete"


def test_missing_round_is_the_systems_failure_at_the_rubric_minimum(uro, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(uro["ours"], partial)
    rows = [r for r in lines(partial / "responses.jsonl") if r.get("turn") != 2]  # d2 lacks its last round
    (partial / "responses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with running_openai(reply=reply) as server:
        res = run(uro, tmp_path / "run", model_args={"path": str(partial)}, llm_judge="openai:judge",
                  llm_judge_args=judge_args(server))
    text = metric(res, "uro_score", "text")
    assert text["coverage"]["system_failed"] == 1 and text["value"] == pytest.approx((20 * 11 / 3 + 20) / 2)
    row = {r["id"]: r for r in lines(tmp_path / "run" / "samples.jsonl")}["d2"]
    assert row["error"]["code"] == "missing_output" and "round 2" in row["error"]["message"]


def test_cascade_keeps_a_text_history(uro, tmp_path, monkeypatch):
    """The cascade with the tiny local LLM: round 2's LLM call carries round 1's transcript and its own answer."""
    from transformers import PreTrainedTokenizerBase

    from models.cslm.tiny import build_tiny_cslm

    llm = build_tiny_cslm(tmp_path / "llm")
    calls = []
    real = PreTrainedTokenizerBase.apply_chat_template

    def spy(self, conversation, *args, **kwargs):  # records what the LLM is given, then renders it for real
        calls.append(copy.deepcopy(conversation))
        return real(self, conversation, *args, **kwargs)

    monkeypatch.setattr(PreTrainedTokenizerBase, "apply_chat_template", spy)
    args = {"asr": "whisper-tiny.en-bundled", "llm": f"hf:{llm}", "tts": "piper-en_US-joe-medium",
            "max_new_tokens": "8", "system_prompt": "none"}
    with running_openai(reply=lambda body: "3") as server:
        res = run(uro, tmp_path / "run", model="cascade", model_args=args, llm_judge="openai:judge",
                  llm_judge_args=judge_args(server), limit=1)
    row = lines(tmp_path / "run" / "samples.jsonl")[0]
    assert row["id"] == "d1" and row["channels"]["text"]["status"] == "ok", row
    respond = json.loads(next((tmp_path / "run" / "cache").glob("respond-*/rank0.jsonl")).read_text().splitlines()[0])
    first = respond["output"]["turns"][0]
    heard = first["events"]["question_transcript"]
    assert "alice" in heard.lower()
    assert calls[1][:2] == [{"role": "user", "content": heard}, {"role": "assistant", "content": first["text"]}]
    assert calls[1][2]["role"] == "user" and "name" in calls[1][2]["content"].lower() and len(calls[1]) == 3
    assert metric(res, "uro_score", "text")["value"] == pytest.approx(60.0)


def test_a_model_without_history_is_refused_before_anything_runs(uro, tmp_path):
    with pytest.raises(ConfigError, match="takes no conversation history"):
        run(uro, tmp_path / "a", model="faulty", model_args={"inner": "precomputed", "path": str(uro["ours"])},
            llm_judge="openai:m", llm_judge_args={"base_url": "http://127.0.0.1:9/v1"})
    assert not (tmp_path / "a" / "cache").exists()
    basic = tmp_path / "data" / "basic" / "Repeat"
    basic.mkdir(parents=True)
    shutil.copyfile(uro["data"] / "pro" / "MtBenchEval-en" / "d1" / "0.wav", basic / "0.wav")
    (basic / "test.jsonl").write_text(json.dumps({"source_wav": "0.wav", "source_text": "Hi."}) + "\n")
    with pytest.raises(ConfigError, match="not a multi-round set"):
        evaluate(RunOptions(task="uro_pro", model="precomputed", model_args={"path": str(uro["ours"])},
                            dataset="uro-bench", dataset_args={"path": str(tmp_path / "data"), "set": "Repeat"},
                            output_dir=str(tmp_path / "b"), progress=False))


def test_dialogue_prompts_are_urOs_and_fill_in_getprompt_order():
    import hashlib

    import yaml

    table = yaml.safe_load(open(scoring.resources.files("harness.judges") / "uro_prompts.yaml", encoding="utf-8"))
    for name in ("multi-2", "multi-3", "multi-4", "multi-5", "sa"):
        entry = table["prompts"][name]
        assert hashlib.sha256(entry["template"].encode()).hexdigest() == entry["sha256"] and "9e74bc0" in entry["source"]
    assert scoring.dialogue_prompt("sa", 5).name == "uro-bench-sa"
    with pytest.raises(Exception, match="2-5 rounds"):
        scoring.dialogue_prompt("multi", 6)
    rounds = [("q1 {answer1}", "a1", "r1"), ("q2", "a2", "r2")]
    user = scoring.render_dialogue(scoring.dialogue_prompt("sa", 2), rounds)[1]["content"]
    # questions are filled first, so a question holding "{answer1}" gets answer 1 as URO's chain of replace()s does
    assert "q1 a1" in user and "### [Round_3]\n    ### [Instruction]\n    \n" in user
