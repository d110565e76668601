"""The served backend against a loopback OpenAI-compatible completions server (tests/fixtures/
completions_server.py) over the tiny CSLM: same parsed outputs as local greedy decoding, streamed timing,
faults retried or counted -- never lost -- and configuration mistakes refused before any sample."""
import json

import numpy as np
import pytest

from harness.errors import MEASUREMENT, SYSTEM
from harness.model import ModelConfigError
from harness.options import RunOptions
from harness.runner import evaluate
from models.cslm.adapter import CSLM
from models.cslm.served import ServerError
from tests.fixtures.completions_server import running_completions

FAST = {"backoff": "0", "max_backoff": "0"}


@pytest.fixture(scope="module")
def questions(speechlike_module):
    return [speechlike_module[: 8000 + 2500 * i] for i in range(5)]


@pytest.fixture(scope="module")
def speechlike_module():
    t = np.arange(24000) / 16000.0
    return (0.3 * np.sin(2 * np.pi * 220 * t) * np.hanning(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def local_greedy(model_args, questions):
    model = CSLM("cslm", **model_args, do_sample="false", gen_batch_size="4")
    return model, model.respond_batch(questions, None, ["en", "zh", "en", "zh", "en"])


def served(model_args, url, **extra):
    return CSLM("cslm", **model_args, do_sample="false", server=url, **{**FAST, **extra})


def parsed(r):
    return r.raw, r.text, r.units, r.malformed, r.segments


@pytest.mark.parametrize("ids_field", ["token_ids", "logprobs"])
def test_served_greedy_equals_local_greedy(tiny_ckpt, model_args, questions, local_greedy, ids_field):
    local, expected = local_greedy
    with running_completions(tiny_ckpt, ids_field=ids_field) as server:
        model = served(model_args, server.url, concurrency="3")
        got = model.respond_batch(questions, None, ["en", "zh", "en", "zh", "en"])
        assert [parsed(r) for r in got] == [parsed(r) for r in expected]
        for a, b in zip(got, expected):  # timing from the stream; token counts as local
            assert a.events["tokens_before_first_unit"] == b.events["tokens_before_first_unit"]
            assert a.events["server_attempts"] == 1 and a.events["end"] >= (a.events["first_text_token"] or 0)
            assert (a.events["first_unit"] is None) == (b.events["first_unit"] is None)
        assert model.transcribe(questions[:3], "en") == local.transcribe(questions[:3], "en")
        body = server.log[0]["body"]
        assert body["temperature"] == 0.0 and body["top_k"] == -1 and body["stream"] is True
        assert body["return_token_ids"] is True and body["skip_special_tokens"] is False
        assert set(body["stop_token_ids"]) == model.end_ids and isinstance(body["seed"], int)
        assert body["max_tokens"] == 16 and body["prompt"][:1] == [model.tokenizer.bos_token_id]
        assert 1 < server.max_in_flight <= 3
        desc = model.describe()
        assert desc["backend"] == {"kind": "openai-completions-server", "base_url": server.url,
                                   "served_model": None, "concurrency": 3}
        assert desc["device"] == "server" and desc["dtype"] == "server"


def test_sampling_fields_and_seeds(tiny_ckpt, model_args, questions):
    """Sampling: the released values are sent explicitly, each request with its own prompt-derived seed."""
    with running_completions(tiny_ckpt) as server:
        model = CSLM("cslm", **model_args, server=server.url, **FAST)
        first = model.respond_batch(questions[:2], None, ["en", "en"])
        again = model.respond_batch(questions[:2], None, ["en", "en"])
        assert [r.raw for r in first] == [r.raw for r in again]  # same seed, same sample
        bodies = [e["body"] for e in server.log]
        assert {(b["temperature"], b["top_p"], b["top_k"]) for b in bodies} == {(1.0, 0.7, 50)}
        assert bodies[0]["seed"] == model.gen.sample_seed(np.asarray(bodies[0]["prompt"]))
        assert bodies[0]["seed"] != bodies[1]["seed"]


def test_transient_faults_are_retried(tiny_ckpt, model_args, questions, local_greedy):
    _, expected = local_greedy
    kinds = ["429", "500", "drop", "error_event", "503"]

    def fault(body, attempt):  # every question fails its first try, each in its own way
        return kinds[len(body["prompt"]) % len(kinds)] if attempt == 1 else None

    with running_completions(tiny_ckpt, fault=fault) as server:
        model = served(model_args, server.url)
        got = model.respond_batch(questions, None, ["en", "zh", "en", "zh", "en"])
        assert [parsed(r) for r in got] == [parsed(r) for r in expected]
        assert all(r.events["server_attempts"] == 2 for r in got)
        assert model.generator.client.stats == {"requests": 10, "retries": 5}


def by_first_sight(actions):
    """A fault function giving the k-th distinct prompt the server sees ``actions[k]`` on every try (None after)."""
    seen: dict[str, str | None] = {}

    def fault(body, attempt):  # the server calls this under its lock
        key = json.dumps(body["prompt"])
        if key not in seen:
            seen[key] = actions[len(seen)] if len(seen) < len(actions) else None
        action = seen[key]
        return action(attempt) if callable(action) else action
    return fault


def test_persistent_faults_are_coded_and_classified(tiny_ckpt, model_args, questions):
    with running_completions(tiny_ckpt, fault=by_first_sight(["500", "429", "drop"])) as server:
        model = served(model_args, server.url, max_retries="1")
        got = model.respond_batch(questions, None, ["en"] * 5)
    assert len(got) == 5  # never lost: an answer or a coded error for each question
    errors = {r.code: (r.kind, r.attempts) for r in got if isinstance(r, ServerError)}
    assert errors == {"server_http_500": (SYSTEM, 2), "server_http_429": (MEASUREMENT, 2),
                      "server_stream_dropped": (SYSTEM, 2)}
    assert sum(not isinstance(r, ServerError) for r in got) == 2


def test_asr_run_counts_server_failures(tiny_ckpt, model_args, belle_dir, tmp_path):
    """Through the harness: a sample whose requests keep failing is counted with its code; the rest score."""
    once_429 = lambda attempt: "429" if attempt == 1 else None  # noqa: E731
    fault = by_first_sight(["500", once_429, once_429, once_429])
    with running_completions(tiny_ckpt, fault=fault) as server:
        results = evaluate(RunOptions(
            task="asr_wer", model="cslm", model_args={**model_args, **FAST, "server": server.url,
                                                        "max_retries": "1", "do_sample": "false"},
            dataset="belle-eval-s2s", dataset_args={"path": str(belle_dir)}, limit=4,
            output_dir=str(tmp_path / "run"), bootstrap_resamples=0, progress=False))
    counts = results["counts"]
    assert counts["samples"] == 4 and counts["scored"] + counts["failed"] == 4
    assert counts["failed"] == counts["system_failed"] == 1
    assert counts["failed_by_reason"] == {"server_http_500": 1}
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and results["model"]["backend"]["kind"] == "openai-completions-server"


def test_configuration_mistakes_fail_fast(tiny_ckpt, model_args):
    with pytest.raises(ModelConfigError, match="gen_batch_size"):
        CSLM("cslm", **model_args, server="http://127.0.0.1:9/v1", gen_batch_size="4")
    with pytest.raises(ModelConfigError, match="concurrency"):
        CSLM("cslm", **model_args, concurrency="4")
    with pytest.raises(ModelConfigError, match="base URL"):
        CSLM("cslm", **model_args, server="127.0.0.1:8000")
    with pytest.raises(ModelConfigError, match="vllm serve"):  # nothing listens there
        CSLM("cslm", **model_args, server="http://127.0.0.1:9/v1", timeout="2").ensure_loaded()
    with running_completions(tiny_ckpt, max_model_len=1024) as server:
        with pytest.raises(ModelConfigError, match="max-model-len 4112"):
            CSLM("cslm", **model_args, server=server.url).ensure_loaded()
        with pytest.raises(ModelConfigError, match="not served"):
            CSLM("cslm", **model_args, server=server.url, served_model="other").ensure_loaded()
