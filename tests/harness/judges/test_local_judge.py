"""The local transformers judge on a tiny random Llama: it runs for real, and its replies (which hold no
score) are counted as judge_malformed, never scored."""
import pytest

from harness.judges import JudgeError, build_llm_judge
from harness.options import ConfigError


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory):
    from models.cslm.tiny import build_tiny_cslm

    return build_tiny_cslm(tmp_path_factory.mktemp("tiny_llm"))


def test_tiny_local_judge_replies_are_counted_malformed(tiny_llm):
    judge, settings = build_llm_judge(f"hf:{tiny_llm}", {"max_tokens": "12"}, "voicebench-open")
    assert settings.temperature == 0.5  # the prompt's protocol default ...
    judge, settings = build_llm_judge(f"hf:{tiny_llm}", {"max_tokens": "12", "temperature": "0", "n": "2"},
                                      "mt-bench-single")
    results = judge.score_many(settings, [("What is AI?", "A field of computer science."), ("Q?", "A.")])
    assert all(isinstance(r, JudgeError) and r.code == "judge_malformed" for r in results)
    assert judge.stats == {"requests": 2, "retries": 0, "failed": 2}
    # Greedy: the same prompt gives the same reply.
    messages = settings.prompt.messages("What is AI?", "A field.")
    first, second = judge.complete(messages, settings)
    assert first == second and first == judge.complete(messages, settings)[0]
    info = judge.describe()
    assert info["id"] == f"hf:{tiny_llm.name}" and info["revision"].startswith("sha256:")


def test_local_judge_refuses_a_folder_without_a_model(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        build_llm_judge(f"hf:{tmp_path}", {}, "voicebench-open")


def test_local_judge_samples_with_the_prompts_settings_seeded(tiny_llm):
    # The prompt's protocol (VoiceBench: n=3, temperature 0.5, top_p 0.95) is sampled, not decoded greedily, and
    # each request is seeded from --seed and the prompt: a rerun (a fresh judge) draws the same replies, hence
    # the same scores; another seed draws others.
    def replies(seed):
        judge, settings = build_llm_judge(f"hf:{tiny_llm}", {"max_tokens": "8"}, "voicebench-open", seed=seed)
        assert (settings.n, settings.temperature, settings.top_p) == (3, 0.5, 0.95)
        return judge.complete(settings.prompt.messages("What is AI?", "A field of computer science."), settings)

    first = replies(seed=0)
    assert len(first) == 3 and len(set(first)) > 1  # three draws, not one greedy answer repeated
    assert replies(seed=0) == first
    assert replies(seed=1) != first
