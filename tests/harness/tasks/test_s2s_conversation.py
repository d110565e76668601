"""s2s_conversation on BELLE-eval-S2S end to end: a precomputed system and the cascade, judged over HTTP."""
import json

import pytest

from harness.options import RunOptions
from harness.runner import evaluate
from tests.fixtures.openai_server import running_openai
from tests.fixtures.s2s_data import belle_rows, judge_args, write_precomputed

N = 4
# Greedy Whisper judges: a test setting (the protocol keeps the adapter's beam search), for speed on 2 cores.
GREEDY = {"zh": {"beam_size": "1"}}


def metric(results, name, channel=None, aggregation=None):
    return next(m for m in results["metrics"] if m["name"] == name and (channel is None or m["channel"] == channel)
                and (aggregation is None or m["aggregation"] == aggregation))


def precomputed_belle(tmp_path, belle_dir):
    # Answers with real Chinese speech: answer i is question i+1's recording, its text channel that question's
    # text -- off-topic on purpose (the judge has something to mark), but text and speech agree.
    rows = belle_rows(belle_dir)
    answers = {rows[i][0]: (rows[i + 1][1], belle_dir / "wav" / f"{rows[i + 1][0]}.wav") for i in range(N)}
    return write_precomputed(tmp_path / "system", answers)


def run(tmp_path, belle_dir, system, server, **extra):
    return evaluate(RunOptions(
        task="s2s_conversation", model="precomputed", model_args={"path": str(system)}, dataset="belle-eval-s2s",
        dataset_args={"path": str(belle_dir)}, offline_judges=True, judge_args=GREEDY,
        llm_judge="openai:judge-model", llm_judge_args=judge_args(server, **extra), limit=N, output_dir=str(tmp_path / "run"), progress=False,
        bootstrap_resamples=200, overwrite=True))  # each loopback judge has its own port: another base_url


def test_precomputed_system_end_to_end_and_judge_faults(tmp_path, belle_dir, judge_server):
    system = precomputed_belle(tmp_path, belle_dir)
    clean = run(tmp_path, belle_dir, system, judge_server)
    assert clean["counts"]["failed"] == 0 and clean["counts"]["scored"] == N
    for channel in ("speech", "text"):
        row = metric(clean, "judge_score", channel)
        assert row["n"] == N and 1 <= row["value"] <= 5 and row["unit"] == "score 1-5" and row["headline"]
    cer = metric(clean, "text_speech_cer", "speech", "corpus")
    assert cer["n"] == N and cer["value"] < 0.35 and cer["reference"] == "the model's text channel"
    judge = clean["llm_judge"]
    assert judge["id"] == "openai:judge-model" and judge["prompt"]["name"] == "voicebench-open"
    assert (judge["temperature"], judge["n"], judge["top_p"]) == (0.5, 3, 0.95) and judge["prompt"]["sha256"]
    utmos = clean["quality_judges"]["utmos"]  # optional in the task YAML: skipped, and why (the download)
    assert utmos["status"] == "skipped" and "utmos22_strong_step7459_v1.pt" in utmos["reason"]
    assert clean["judges"]["zh"]["id"] == "whisper-base-bundled"
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert all(r["transcript"] and r["judge_score_speech"] and (tmp_path / "run" / r["audio"]).is_file() for r in rows)

    # Transient faults: retried; the results do not change. Only the judge stage re-runs (new server URL).
    def transient(body, attempt):
        return ["429", "500", "timeout", "bad_json"][len(body["messages"][-1]["content"]) % 4] if attempt == 1 else None

    with running_openai(fault=transient, delay=1.5) as flaky:
        retried = run(tmp_path, belle_dir, system, flaky)
        assert len(flaky.log) == 4 * N  # every request failed once, then passed
    assert [m["value"] for m in retried["metrics"]] == [m["value"] for m in clean["metrics"]]
    assert retried["stage_keys"]["transcribe"] == clean["stage_keys"]["transcribe"]
    assert retried["llm_judge"]["requests_this_run"]["retries"] == 2 * N

    # Persistent faults: the measurement's failures, counted per reason at the judge stages, never scored;
    # the result says it is incomplete and the headline covers the judged samples only.
    questions = [text for _, text in belle_rows(belle_dir)[:2]]

    def persistent(body, attempt):
        content = body["messages"][-1]["content"]
        return "500" if questions[0] in content else "429" if questions[1] in content else None

    with running_openai(fault=persistent) as broken:
        failed = run(tmp_path, belle_dir, system, broken)
    counts = failed["counts"]
    assert counts["failed"] == 2 and counts["measurement_failed"] == 2 and counts["system_failed"] == 0
    assert counts["failed_by_stage"] == {"judge_text": 2, "judge_speech": 2}
    assert counts["failed_by_reason"] == {"judge_http_500": 2, "judge_http_429": 2}
    assert failed["status"] == "incomplete"
    for channel in ("speech", "text"):
        row = metric(failed, "judge_score", channel)
        assert row["n"] == N - 2 and row["coverage"] == {"scored": N - 2, "total": N, "system_failed": 0,
                                                          "measurement_failed": 2}


def test_cascade_end_to_end(tmp_path, belle_dir, judge_server, tiny_llm):
    # ASR (Whisper base) -> tiny random LLM (arbitrary text) -> TTS; no Chinese TTS installs offline, so the
    # Chinese answers are spoken by dummy-tts (a tone): this checks the pipeline's records, not quality.
    results = evaluate(RunOptions(
        task="s2s_conversation", model="cascade",
        model_args={"asr": "whisper-base-bundled", "llm": f"hf:{tiny_llm}", "tts": "piper-en_US-joe-medium",
                    "tts_zh": "dummy-tts", "max_new_tokens": "12"},
        dataset="belle-eval-s2s", dataset_args={"path": str(belle_dir)}, offline_judges=True, judge_args=GREEDY,
        llm_judge="openai:judge-model", llm_judge_args=judge_args(judge_server), limit=2,
        output_dir=str(tmp_path / "cascade"), progress=False, bootstrap_resamples=50))
    assert results["counts"]["samples"] == 2 and results["model"]["parts"]["tts_zh"]["id"] == "dummy-tts"
    respond = [json.loads(x) for x in next((tmp_path / "cascade" / "cache").glob("respond-*/rank0.jsonl"))
               .read_text().splitlines()]
    for record in respond:
        out = record["output"]
        events = out["events"]
        assert out["text"] and out["audio"] and events["question_transcript"]
        assert 0 < events["asr_end"] <= events["first_text_token"] <= events["llm_end"] <= events["first_audio"]
    assert metric(results, "judge_score", "text")["coverage"]["total"] == 2


def test_one_channel_failing_keeps_the_other_and_counts_at_the_minimum(tmp_path, belle_dir, judge_server):
    """Answer 0 has no speech, answer 1 no text: each failed channel scores the scale's minimum (the system's
    failure), and the other channel of the same answer is still judged."""
    system = precomputed_belle(tmp_path, belle_dir)
    lines = [json.loads(x) for x in (system / "responses.jsonl").read_text(encoding="utf-8").splitlines()]
    (system / lines[0]["audio"]).unlink()
    lines[0]["audio"] = None
    lines[1]["text"] = ""
    (system / "responses.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines),
                                            encoding="utf-8")
    results = run(tmp_path, belle_dir, system, judge_server)
    counts = results["counts"]
    assert counts["system_failed"] == 2 and counts["measurement_failed"] == 0 and results["status"] == "complete"
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "run" / "samples.jsonl").read_text().splitlines())}
    no_speech, no_text = rows[lines[0]["id"]], rows[lines[1]["id"]]
    assert no_speech["channels"]["speech"]["status"] == "system_failure" and "judge_score_text" in no_speech
    assert no_text["channels"]["text"]["status"] == "system_failure" and "judge_score_speech" in no_text
    assert no_text["channels"]["text"]["error"]["code"] == "empty_text"
    for channel, failed_id in (("speech", lines[0]["id"]), ("text", lines[1]["id"])):
        row = metric(results, "judge_score", channel)
        scored = [r[f"judge_score_{channel}"] for r in rows.values() if f"judge_score_{channel}" in r]
        assert len(scored) == N - 1 and failed_id not in [r["id"] for r in rows.values()
                                                           if f"judge_score_{channel}" in r]
        assert row["value"] == pytest.approx((sum(scored) + 1.0) / N)  # the failure counts as 1 on the 1-5 scale
        assert row["scored_only"]["value"] == pytest.approx(sum(scored) / (N - 1))
        assert row["coverage"] == {"scored": N - 1, "total": N, "system_failed": 1, "measurement_failed": 0}
    cer = metric(results, "text_speech_cer", "speech", "corpus")
    assert cer["coverage"]["system_failed"] == 1  # no speech: every token of the text channel deleted
