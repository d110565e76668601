"""URO-Bench scorers: a battery of tricky replies and answers derived from URO's rules, and the judge over a
loopback OpenAI-compatible server (URO's mean of "Yes", its x20 scaling, its empty-answer rule, and a reply that
cannot be parsed: URO's int() crashes, ours records a measurement failure)."""
import hashlib

import pytest
import yaml

from harness.errors import SystemFailure
from harness.judges import build_llm_judge
from harness.judges.errors import JudgeError
from harness.tasks import uro_scoring as scoring
from tests.fixtures.openai_server import running_openai
from tests.fixtures.s2s_data import judge_args


@pytest.mark.parametrize("reply,value", [("4", 4), (" 5\n", 5), ("+3", 3), ("1", 1)])
def test_rating_reads_what_int_reads(reply, value):
    assert scoring.parse_rating(reply) == value


@pytest.mark.parametrize("reply", ["4.", "4.5", "Score: 4", "four", "", "[[4]]", "0", "6", "-1", "4/5"])
def test_rating_refuses_what_int_refuses_or_off_scale(reply):
    with pytest.raises(JudgeError) as exc:
        scoring.parse_rating(reply)
    assert exc.value.code == "judge_malformed" and not exc.value.retryable


def test_qa_is_the_mean_of_three_exact_yes_not_a_majority():
    assert scoring.score_replies("qa", ["Yes", "No", "No"], 3)["score"] == pytest.approx(100 / 3)
    assert scoring.score_replies("qa", ["Yes", "Yes", "No"], 3)["score"] == pytest.approx(200 / 3)
    # Case-sensitive, unstripped, as URO compares: only the exact string "Yes" counts.
    odd = scoring.score_replies("qa", ["Yes.", "yes", " Yes"], 3)
    assert odd["score"] == 0 and odd["values"] == [0, 0, 0] and odd["nonstandard_replies"] == 3
    assert scoring.score_replies("qa", ["Yes"] * 3, 3)["score"] == 100


def test_one_to_five_modes_scale_by_twenty_and_refuse_a_short_completion():
    assert scoring.score_replies("open", ["4", "5", "3"], 3)["score"] == pytest.approx(80.0)
    assert scoring.score_replies("semi-open", ["1", "1", "1"], 3)["score"] == 20.0  # the rubric's floor
    with pytest.raises(JudgeError) as exc:
        scoring.score_replies("open", ["4", "5"], 3)
    assert exc.value.code == "judge_invalid_json"
    with pytest.raises(JudgeError):
        scoring.score_replies("open", ["4", "5", "The answer deserves 4"], 3)  # one bad reply fails the item


def test_repeat_wer_uses_the_answer_as_reference_and_urOs_formula():
    # The answer is jiwer's reference: 2 words answered against 4 reference words -> 2 insertions / 2 = 1.0.
    assert scoring.uro_wer("en", "hello world", "hello world how are") == 1.0
    assert scoring.uro_wer("en", "hello world how are", "hello world") == 0.5
    assert scoring.uro_wer("en", "Hello, World!", "hello world") == 0.0  # Whisper's normalizer
    assert scoring.uro_wer("en", " ", "anything") == 1.0                # URO: jiwer raises -> 1
    item = scoring.repeat_item("en", "the cat sat on a mat", "the cat sat on the mat")
    assert item == {"wer": pytest.approx(1 / 6), "ok": True}
    assert scoring.repeat_item("en", "x y", "a b")["ok"] is False
    with pytest.raises(SystemFailure):
        scoring.repeat_item("en", "  ", "the cat")
    # ok <= 0.5 (boundary included); the ok rate's denominator is every item; failed items enter as 1.0.
    figure = scoring.repeat_score([0.0, 0.5, 0.6, 1.0])
    assert figure == {"ok_rate": 0.5, "final_WER_for_ok_case": 0.25, "score": pytest.approx(37.5)}
    assert scoring.repeat_score([0.9, 1.0])["score"] == 0.0


def test_repeat_zh_cer_as_mark_wer_normalizes():
    # zhon + ASCII punctuation gone, numbers to Chinese (cn2an an2cn), spaces count as characters.
    assert scoring.uro_wer("zh", "我有3个苹果。", "我有三个苹果") == 0.0
    assert scoring.uro_wer("zh", "你好，世界！", "你好世界") == 0.0
    assert scoring.uro_wer("zh", "你好 世界", "你好世界") == pytest.approx(1 / 5)  # the space is a character


def test_prompts_are_urOs_text():
    table = yaml.safe_load(open(scoring.resources.files("harness.judges") / "uro_prompts.yaml", encoding="utf-8"))
    for mode in scoring.JUDGE_MODES:
        entry = table["prompts"][mode]
        assert hashlib.sha256(entry["template"].encode()).hexdigest() == entry["sha256"]
        assert "9e74bc0" in entry["source"]
    assert "{reference}" not in table["prompts"]["open"]["template"]
    assert 'Please only output a single "Yes" or "No"' in table["prompts"]["qa"]["template"]


def _judge(server, mode):
    judge, settings = build_llm_judge("openai:judge-model", judge_args(server), "voicebench-open",
                                      prompt_overrides=scoring.uro_prompt(mode).defaults)
    return judge, scoring.uro_settings(settings, mode)


def test_loopback_judge_qa_mean_of_yes_and_empty_answers():
    replies = {"Paris": ["Yes", "No", "Yes"], "Lyon": ["No", "No", "No"], "paris.": ["Yes.", "yes", "Yes"]}

    def reply(body):
        content = body["messages"][-1]["content"]
        return next(v for k, v in replies.items() if f"### [Response]\n    {k}\n" in content)

    with running_openai(reply=reply) as server:
        judge, settings = _judge(server, "qa")
        jobs = [("Capital of France?", "Paris", "Paris"), ("Capital of France?", "Lyon", "Paris"),
                ("Capital of France?", "paris.", "Paris"), ("Capital of France?", " ", "Paris")]
        out = scoring.judge_answers(judge, settings, "qa", jobs)
        bodies = [entry["body"] for entry in server.log]
    assert out[0]["score"] == pytest.approx(200 / 3) and out[1]["score"] == 0
    assert out[2]["score"] == pytest.approx(100 / 3) and out[2]["nonstandard_replies"] == 2
    assert isinstance(out[3], SystemFailure) and out[3].code == "empty_answer"  # scored 0, no judge call
    assert len(bodies) == 3
    body = bodies[0]
    assert body["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
    assert (body["temperature"], body["top_p"], body["n"], body["max_tokens"]) == (0.5, 0.95, 3, 1024)
    assert "### [Question]\n    Capital of France?\n" in body["messages"][1]["content"]
    assert "### [Reference]\n    Paris\n" in body["messages"][1]["content"]


def test_loopback_judge_open_scales_by_twenty_and_a_bad_reply_is_a_measurement_failure():
    def reply(body):
        content = body["messages"][-1]["content"]
        return ["4", "5", " 3\n"] if "good answer" in content else ["4", "Score: 4", "5"]

    with running_openai(reply=reply) as server:
        judge, settings = _judge(server, "open")
        out = scoring.judge_answers(judge, settings, "open", [("q", "good answer", "q"), ("q", "odd answer", "q")])
    assert out[0]["score"] == pytest.approx(80.0) and out[0]["values"] == [4, 5, 3]
    assert isinstance(out[1], JudgeError) and out[1].code == "judge_malformed" and "Score: 4" in str(out[1])
    assert judge.stats["failed"] == 1


def test_semi_open_prompt_carries_the_reference():
    with running_openai(reply=lambda body: "5") as server:
        judge, settings = _judge(server, "semi-open")
        out = scoring.judge_answers(judge, settings, "semi-open", [("Summarize.", "A fox.", "A quick fox / A fox")])
        content = server.log[0]["body"]["messages"][1]["content"]
    assert out[0]["score"] == 100.0
    assert "### [Reference]\n    A quick fox / A fox\n" in content and "{reference}" not in content
