"""Judge prompts as data: rendering, hashing, and reading scores back (a table, as for normalizers)."""
import pytest

from harness.judges import JudgeError, load_prompt, prompt_names

PARSE = [
    ("voicebench-open", "4", 4.0),
    ("voicebench-open", " 5\n", 5.0),
    ("voicebench-open", "3.5", 3.5),
    ("voicebench-open", "4.", 4.0),
    ("voicebench-open", "Rating: [[2]]", 2.0),        # VoiceBench's fallback pattern
    ("voicebench-open", "Score: 4", None),             # VoiceBench would fail to read this too
    ("voicebench-open", "7", None),                    # off the 1-5 scale
    ("voicebench-open", "", None),
    ("mt-bench-single", "Good answer.\n\nRating: [[7]]", 7.0),
    ("mt-bench-single", "Rating: [[8.5]]", 8.5),
    ("mt-bench-single", "Rating: [6]", 6.0),           # FastChat's backup pattern
    ("mt-bench-single", "Rating: 6", None),
    ("mt-bench-single", "Rating: [[11]]", None),
    ("mt-bench-single", "Rating: [[0]]", None),
]


@pytest.mark.parametrize("name,reply,score", PARSE)
def test_parse_table(name, reply, score):
    prompt = load_prompt(name)
    if score is None:
        with pytest.raises(JudgeError) as err:
            prompt.parse_score(reply)
        assert err.value.code == "judge_malformed" and not err.value.retryable
    else:
        assert prompt.parse_score(reply) == score


def test_prompts_render_and_describe():
    assert prompt_names() == ["mt-bench-single", "voicebench-open"]
    open_ = load_prompt("voicebench-open")
    messages = open_.messages("什么是机器学习？", "An answer with {braces} and {question}.")
    assert messages[0] == {"role": "system",
                           "content": "You are a helpful assistant who tries to help answer the user's question."}
    user = messages[1]["content"]
    assert "### [Instruction]: 什么是机器学习？\n### [Response]: An answer with {braces} and {question}." in user
    assert user.startswith("\nI need your help") and user.endswith("You don’t need to provide any explanations.\n")
    info = open_.describe()
    assert info["scale"] == [1.0, 5.0] and info["version"] == "1" and len(info["sha256"]) == 16
    mt = load_prompt("mt-bench-single")
    assert mt.messages("Q", "A")[1]["content"].endswith(
        "[Question]\nQ\n\n[The Start of Assistant's Answer]\nA\n[The End of Assistant's Answer]")
    assert mt.defaults["temperature"] == 0.0 and mt.scale == (1.0, 10.0)
    # VoiceBench api_judge.py asks gpt-4o-mini for three replies and averages them.
    assert open_.defaults == {"temperature": 0.5, "top_p": 0.95, "n": 3, "max_tokens": 1024}
    assert open_.text_sha256 != mt.text_sha256
