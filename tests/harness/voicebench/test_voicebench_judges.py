"""VoiceBench's judged figures against a loopback OpenAI-compatible judge: SD-QA's yes/no majority (qa.py) and the
open evaluator's n=3 mean (open.py, through the existing voicebench-open prompt); unparseable replies and short
completions are measurement failures with their reason (VoiceBench would crash or average what came back)."""
import hashlib

import pytest

from harness.judges import JudgeError, build_llm_judge
from harness.tasks.voicebench import data_file
from harness.tasks.voicebench import qa as qa_scorer
from tests.fixtures.openai_server import running_openai
from tests.fixtures.s2s_data import judge_args

# The judge's three replies, chosen by a marker in the candidate answer.
SCRIPT = {"ANS-1": ["Yes", "yes", "No"],          # 2 of 3 'yes' (case-insensitive): correct
          "ANS-2": ["Yes.", "yes.", "Yes"],       # majority 'yes.' is not exactly 'yes': not correct
          "ANS-3": ["Yes", "No", "Maybe"],        # three-way tie: not correct here, counted
          "ANS-4": [" YES ", "no", "yes\n"],      # stripped (api_judge.py) then lower-cased: correct
          "ANS-5": ["No", "No", "Yes"],
          "ANS-6": ["Yes", "Yes"],                # two replies for n=3: the measurement failed
          "OPEN-1": ["4", "5", "3"],              # open: mean 4
          "OPEN-2": ["[[2]]", "3.0", " 1 "],      # '[[n]]' fallback and float() forms
          "OPEN-3": ["Great answer!", "4", "4"]}  # no number: VoiceBench's open.py raises; here judge_malformed


def reply(body):
    content = body["messages"][-1]["content"]
    return next(r for marker, r in SCRIPT.items() if marker in content)


def test_qa_prompt_is_voicebench_verbatim():
    table = data_file("qa_judge.yaml")
    assert hashlib.sha256(table["template"].encode()).hexdigest() == table["sha256"]
    messages = qa_scorer.render(qa_scorer.qa_prompt(), "who wrote {reference}?", "Orwell", "ANS {prompt}")
    assert messages[0] == {"role": "system",
                           "content": "You are a helpful assistant who tries to help answer the user's question."}
    # str.replace in api_judge's order: a '{reference}' inside the question is filled, one in the answer is not
    assert messages[1]["content"].startswith("### Question\nwho wrote Orwell?\n\n### Reference answer\nOrwell\n")
    assert "### Candidate answer\nANS {prompt}\n\nIs the candidate answer correct" in messages[1]["content"]


def test_yes_no_majority_against_the_loopback_judge():
    with running_openai(reply=reply) as server:
        judge, settings = build_llm_judge("openai:gpt-4o-mini", judge_args(server), "voicebench-open",
                                          prompt_overrides=data_file("qa_judge.yaml")["defaults"])
        settings = qa_scorer.qa_settings(settings)
        jobs = [("q", "ref", f"ANS-{i}") for i in range(1, 7)]
        out = qa_scorer.judge_items(judge, settings, jobs)
        body = server.log[0]["body"]
    assert (body["model"], body["n"], body["temperature"], body["top_p"], body["max_tokens"]) == \
        ("gpt-4o-mini", 3, 0.5, 0.95, 1024)
    assert [o["correct"] for o in out[:5]] == [True, False, False, True, False]
    assert out[1]["votes"] == ["yes.", "yes.", "yes"] and out[1]["nonstandard_replies"] == 2
    assert out[2]["tie"] is True and not any(o["tie"] for o in out[:5] if o is not out[2])
    assert isinstance(out[5], JudgeError) and out[5].code == "judge_invalid_json"


def test_open_mean_of_three_and_an_unparseable_reply():
    with running_openai(reply=reply) as server:
        judge, settings = build_llm_judge("openai:gpt-4o-mini", judge_args(server), "voicebench-open")
        out = judge.score_many(settings, [("q", "OPEN-1"), ("q", "OPEN-2"), ("q", "OPEN-3")])
        body = server.log[0]["body"]
    assert (body["n"], body["temperature"], body["top_p"]) == (3, 0.5, 0.95)
    assert out[0]["score"] == pytest.approx(4.0) and out[0]["scores"] == [4.0, 5.0, 3.0]
    assert out[1]["score"] == pytest.approx(2.0)
    assert isinstance(out[2], JudgeError) and out[2].code == "judge_malformed" and "Great answer" in str(out[2])
