"""The OpenAI-compatible judge over real HTTP to a loopback server, with injected faults."""
import json
import logging

import pytest

from harness.judges import JudgeError, JudgeSettings, build_llm_judge, load_prompt
from harness.judges.openai_compat import OpenAICompatibleJudge
from harness.options import ConfigError
from tests.fixtures.openai_server import judge_reply, running_openai

JOBS = [(f"Question {i}?", f"Answer number {i}.") for i in range(8)]
SECRET = "sk-test-DO-NOT-LEAK-1234"


def make(server, delays=None, **kw):
    kw.setdefault("max_retries", 3)
    return OpenAICompatibleJudge("judge-model", base_url=server.url, backoff=0.01, max_backoff=0.05,
                                 sleep=(delays.append if delays is not None else (lambda s: None)), **kw)


def settings(name="voicebench-open", **kw):
    prompt = load_prompt(name)
    return JudgeSettings(prompt=prompt, temperature=kw.get("temperature", 0.0), n=kw.get("n", 1), max_tokens=64)


def expected(setting, question, answer):
    return setting.prompt.parse_score(judge_reply({"messages": setting.prompt.messages(question, answer)}))


def test_transient_faults_are_retried_and_results_unchanged():
    script = ["429", "500", "503", "timeout", "bad_json", None, "429", None]

    def fault(body, attempt):
        index = int(body["messages"][-1]["content"].split("Answer number ")[1][0])
        return script[index] if attempt == 1 else ("500" if index == 1 and attempt == 2 else None)

    s = settings()
    with running_openai() as clean:
        baseline = make(clean).score_many(s, JOBS)
    with running_openai(fault=fault, delay=0.6) as faulty:
        judge = make(faulty, timeout=0.3, concurrency=3)
        results = judge.score_many(s, JOBS)
    assert [r["score"] for r in results] == [r["score"] for r in baseline]
    assert [r["score"] for r in results] == [expected(s, *job) for job in JOBS]
    assert judge.stats["retries"] == 7 and judge.stats["failed"] == 0
    assert judge.stats["requests"] == len(JOBS) + 7
    assert sorted(a for a in faulty.actions() if a) == sorted(["429", "429", "500", "500", "503", "timeout",
                                                                "bad_json"])


@pytest.mark.parametrize("action,code,attempts", [
    ("429", "judge_http_429", 3), ("500", "judge_http_500", 3), ("timeout", "judge_timeout", 3),
    ("bad_json", "judge_invalid_json", 3), ("400", "judge_http_400", 1)])
def test_persistent_faults_are_counted_with_their_code(action, code, attempts):
    with running_openai(fault=lambda body, attempt: action, delay=0.5) as server:
        judge = make(server, max_retries=2, timeout=0.2)
        [result] = judge.score_many(settings(), JOBS[:1])
    assert isinstance(result, JudgeError) and result.code == code and result.attempts == attempts
    assert len(server.log) == attempts and judge.stats["failed"] == 1


def test_backoff_is_exponential_with_jitter_and_capped():
    delays = []
    with running_openai(fault=lambda body, attempt: "500") as server:
        judge = OpenAICompatibleJudge("m", base_url=server.url, backoff=1.0, max_backoff=4.0, max_retries=4,
                                      sleep=delays.append, jitter_seed=7)
        with pytest.raises(JudgeError):
            judge.score(settings(), "q", "a")
    assert len(delays) == 4
    for attempt, delay in enumerate(delays):
        cap = min(4.0, 2.0 ** attempt)
        assert cap / 2 <= delay <= cap


def test_key_is_sent_but_never_leaks(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with running_openai(fault=lambda body, attempt: "401") as server:
        judge = make(server)
        with pytest.raises(JudgeError) as err:
            judge.score(settings(), "q", "a")
    assert server.log[0]["auth"] == f"Bearer {SECRET}"  # the server did get it
    assert err.value.code == "judge_http_401" and err.value.attempts == 1
    assert SECRET not in str(err.value) and "***" in str(err.value)
    assert SECRET not in repr(judge) and SECRET not in str(judge.describe())
    with pytest.raises(ConfigError, match="never pass the judge's key"):
        build_llm_judge("openai:m", {"api_key": SECRET}, "voicebench-open")


def test_concurrency_limit_holds():
    with running_openai(fault=lambda body, attempt: "sleep", delay=0.15) as server:
        judge = make(server, concurrency=3)
        results = judge.score_many(settings(), JOBS)
    assert all(not isinstance(r, JudgeError) for r in results)
    assert 2 <= server.max_in_flight <= 3


def test_n_replies_and_mt_bench_scale():
    s = settings("mt-bench-single", n=3, temperature=0.7)
    with running_openai() as server:
        out = make(server).score(s, "What is AI?", "Artificial intelligence is ...")
    assert len(out["scores"]) == 3 and out["score"] == out["scores"][0] and 1 <= out["score"] <= 10
    body = server.log[0]["body"]
    assert body["n"] == 3 and body["temperature"] == 0.7 and body["model"] == "judge-model"
    assert "Rating: [[5]]" in body["messages"][1]["content"] and body["messages"][0]["role"] == "system"


def test_configuration_mistakes_fail_fast(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="needs a key"):
        build_llm_judge("openai:gpt-4o-mini", {}, "voicebench-open")
    with pytest.raises(ConfigError, match="openai:MODEL"):
        build_llm_judge("gpt-4o", {}, "voicebench-open")
    with pytest.raises(ConfigError, match="not understood"):
        build_llm_judge("openai:m", {"base_url": "http://127.0.0.1:9/v1", "beam": "2"}, "voicebench-open")
    with pytest.raises(ConfigError, match="unknown judge prompt"):
        build_llm_judge("openai:m", {"base_url": "http://127.0.0.1:9/v1", "prompt": "nope"}, "voicebench-open")
    with pytest.raises(ConfigError, match="credentials"):
        build_llm_judge("openai:m", {"base_url": "http://user:pw@127.0.0.1:9/v1"}, "voicebench-open")
    judge, s = build_llm_judge("openai:m", {"base_url": "http://127.0.0.1:9/v1", "n": "2"}, "voicebench-open")
    # The protocol's defaults (VoiceBench: temperature 0.5, top_p 0.95), the given n on top.
    assert (s.temperature, s.top_p, s.n) == (0.5, 0.95, 2) and judge.describe()["id"] == "openai:m"


def test_connection_refused_is_retried_then_counted():
    import socket

    with socket.socket() as sock:  # a free loopback port with nothing listening once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    delays = []
    judge = OpenAICompatibleJudge("m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=2, sleep=delays.append)
    [result] = judge.score_many(settings(), JOBS[:1])
    assert isinstance(result, JudgeError) and result.code == "judge_connection" and result.attempts == 3
    assert len(delays) == 2


def test_voicebench_protocol_scores_the_mean_of_three_replies(monkeypatch, caplog):
    # VoiceBench api_judge.py: gpt-4o-mini, n=3, temperature 0.5, top_p 0.95, max_tokens 1024; every reply's
    # score is averaged. The loopback judge gives each of the three choices a different score.
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    choices = {"A careful answer.": ["2", "3", "5"], "A short answer.": ["4", " 5\n", "Rating: [[4]]"]}

    def reply(body):
        return next(texts for answer, texts in choices.items() if answer in body["messages"][-1]["content"])

    caplog.set_level(logging.DEBUG)
    with running_openai(reply=reply) as server:
        judge, s = build_llm_judge("openai:gpt-4o-mini", {"base_url": server.url}, "voicebench-open")
        results = judge.score_many(s, [("What is AI?", "A careful answer."), ("Why?", "A short answer.")])
    assert (s.n, s.temperature, s.top_p, s.max_tokens) == (3, 0.5, 0.95, 1024)  # the protocol's defaults
    assert results[0]["scores"] == [2.0, 3.0, 5.0] and results[0]["score"] == pytest.approx(10 / 3)
    assert results[1]["scores"] == [4.0, 5.0, 4.0] and results[1]["score"] == pytest.approx(13 / 3)
    assert len(server.log) == 2
    for entry in server.log:
        body = entry["body"]
        assert (body["n"], body["temperature"], body["top_p"], body["max_tokens"]) == (3, 0.5, 0.95, 1024)
        assert body["model"] == "gpt-4o-mini" and entry["auth"] == f"Bearer {SECRET}"
    recorded = json.dumps([results, judge.describe(), s.describe(), judge.stats]) + repr(judge) + caplog.text
    assert SECRET not in recorded


@pytest.mark.parametrize("texts,code", [
    (["4"], "judge_invalid_json"),                     # fewer choices than n: the mean of 3 is not defined
    (["4", "4", "5", "3"], "judge_invalid_json"),      # more than asked for, likewise
    (["4", "Score: 4", "5"], "judge_malformed"),      # VoiceBench's evaluator would stop on this reply
])
def test_voicebench_short_or_unreadable_completion_fails_the_sample(texts, code):
    with running_openai(reply=lambda body: texts) as server:
        judge, s = build_llm_judge("openai:judge-model", {"base_url": server.url}, "voicebench-open")
        [result] = judge.score_many(s, [("q", "a")])
    assert isinstance(result, JudgeError) and result.code == code and judge.stats["failed"] == 1
    assert len(server.log) == 1  # not retried: the endpoint answered, and it would answer the same
