"""Batched local decoding on the tiny CSLM: the loop matches generate(), greedy batches match one-by-one
exactly, each row samples from its own stream, and the adapter's batched capabilities use it."""
import numpy as np
import pytest
import torch

from models.cslm.adapter import CSLM
from models.cslm.decode import DecodeSettings, decode, left_pad, length_groups


@pytest.fixture(scope="module")
def lm(tiny_ckpt):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_ckpt, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def settings(tiny_tokenizer):
    ends = frozenset(tiny_tokenizer.convert_tokens_to_ids(t) for t in ("<|eot_id|>", "<|end_of_text|>"))
    return DecodeSettings(max_new_tokens=16, end_ids=ends, pad_id=tiny_tokenizer.pad_token_id)


def prompts(lm, n: int = 12, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(10, lm.config.vocab_size, size=int(k)) for k in rng.integers(8, 90, size=n)]


def sampled(settings: DecodeSettings) -> DecodeSettings:
    return DecodeSettings(**{**settings.__dict__, "do_sample": True, "temperature": 1.0, "top_k": 50, "top_p": 0.7})


def test_one_row_matches_generate(lm, settings):
    """Batch of one: the same ids as transformers' generate(), greedy and sampled (global seed vs row stream)."""
    from transformers import GenerationConfig

    for s in (settings, sampled(settings)):
        cfg = GenerationConfig(do_sample=s.do_sample, max_new_tokens=s.max_new_tokens, eos_token_id=sorted(s.end_ids),
                               pad_token_id=s.pad_id, **({"temperature": s.temperature, "top_k": s.top_k,
                                                         "top_p": s.top_p} if s.do_sample else {}))
        for i, prompt in enumerate(prompts(lm, 4)):
            ids = torch.as_tensor(prompt)[None]
            torch.manual_seed(1000 + i)
            expected = lm.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=cfg)
            assert decode(lm, [prompt], s, [1000 + i])[0] == expected[0, len(prompt):].tolist()


def test_greedy_batch_equals_one_by_one(lm, settings):
    ps = prompts(lm, 10)
    one = [decode(lm, [p], settings)[0] for p in ps]
    assert decode(lm, ps, settings) == one


def test_sampling_rows_do_not_depend_on_neighbours(lm, settings):
    """Same seeds: each row's sample in a batch of 8 against batch size 1 (float rounding may rarely flip a
    token; the benchmark reports the rate) -- and exactly the same sample in two batches of equal shape."""
    s = sampled(settings)
    ps, seeds = prompts(lm, 8), list(range(8))
    one = [decode(lm, [p], s, [seed])[0] for p, seed in zip(ps, seeds)]
    many = decode(lm, ps, s, seeds)
    assert sum(a == b for a, b in zip(one, many)) >= 6
    # Swap the order of the batch: a row's draws follow its own seed, not its position.
    order = list(reversed(range(8)))
    swapped = decode(lm, [ps[i] for i in order], s, [seeds[i] for i in order])
    assert [swapped[order.index(i)] for i in range(8)] == many


def test_left_pad_and_groups():
    ids, mask, pos = left_pad([np.array([5, 6, 7]), np.array([9])], pad_id=0, device="cpu")
    assert ids.tolist() == [[5, 6, 7], [0, 0, 9]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert pos.tolist() == [[0, 1, 2], [0, 0, 0]]
    assert length_groups([5, 1, 3, 3, 9], 2) == [[1, 2], [3, 0], [4]]


def test_adapter_batches_and_records_batch_size(model_args, speechlike):
    base = {**model_args, "do_sample": "false"}
    batched = CSLM("cslm", **base, gen_batch_size="4")
    single = CSLM("cslm", **base, gen_batch_size="1")
    assert batched.describe()["backend"] == {"kind": "local-transformers", "gen_batch_size": 4}
    assert batched.describe() != single.describe()  # it keys the stage caches
    rng = np.random.default_rng(0)
    audios = [speechlike[: 8000 + 2000 * i] * float(rng.uniform(0.5, 1.0)) for i in range(6)]
    langs = ["en", "zh"] * 3
    many = batched.respond_batch(audios, None, langs)
    one = [single.respond(a, None, lang) for a, lang in zip(audios, langs)]
    assert [(r.raw, r.text, r.units) for r in many] == [(r.raw, r.text, r.units) for r in one]
    assert max(r.events["gen_batch"] for r in many) > 1 and all(r.events["gen_batch"] == 1 for r in one)
    for r in many:
        assert r.events["end"] >= r.events["speech_tokenizer_end"] > 0
    assert batched.transcribe(audios, "en") == single.transcribe(audios, "en")


def test_s2s_task_sends_batches_to_respond_batch(model_args, belle_dir, tmp_path):
    """s2s_conversation hands the CSLM its stage batch in one respond_batch call (records show gen_batch)."""
    import json

    from harness.options import RunOptions
    from harness.runner import evaluate
    from tests.fixtures.openai_server import running_openai
    from tests.fixtures.s2s_data import judge_args

    with running_openai() as judge:
        results = evaluate(RunOptions(
            task="s2s_conversation", model="cslm", model_args={**model_args, "gen_batch_size": "4"},
            dataset="belle-eval-s2s", dataset_args={"path": str(belle_dir)}, judges={"zh": "dummy-asr"},
            llm_judge="openai:judge-model", llm_judge_args=judge_args(judge), limit=4, batch_size=4,
            output_dir=str(tmp_path / "run"), bootstrap_resamples=0, progress=False))
    assert results["counts"]["samples"] == 4 and results["model"]["backend"]["gen_batch_size"] == 4
    records = [json.loads(line) for path in (tmp_path / "run" / "cache").glob("respond-*/*.jsonl")
               for line in path.read_text().splitlines()]
    batches = [r["output"]["events"]["gen_batch"] for r in records if r.get("output")]
    assert len(batches) == 4 and max(batches) > 1
