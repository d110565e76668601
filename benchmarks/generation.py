"""CSLM local generation: one left-padded batch of 16 requests vs the same 16 requests one by one.

The tiny CSLM checkpoint (models.cslm.tiny: random Llama, hidden 64, 2 layers, the real 4096-unit vocabulary)
decodes 16 released-mode prompts of realistic length (the general prompt around 150-300 merged speech units,
about 6-12 s of 25 Hz speech) for 128 new tokens each (end tokens ignored, so every request does the same
work), with the decode loop the adapter uses (models.cslm.decode):
1. greedy, one by one vs batched: tokens/s side by side and the ratio (target >= 3x on CPU); the outputs must
   be identical (checked);
2. sampled with the released settings (temperature 1.0, top_p 0.7, top_k 50), each request seeded from its
   prompt: how often the batch changes a sample vs batch size 1 (float rounding in padded kernels) --
   sequences identical, and tokens generated before the first divergence.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def agreement(one: list[list[int]], many: list[list[int]]) -> tuple[int, float]:
    """(sequences identical, share of tokens before the first divergence)."""
    same = sum(a == b for a, b in zip(one, many))
    prefix = total = 0
    for a, b in zip(one, many):
        total += len(a)
        k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        prefix += k
    return same, prefix / max(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--min-units", type=int, default=150)
    parser.add_argument("--max-units", type=int, default=300)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from models.cslm.decode import DecodeSettings, decode, length_groups
    from models.cslm.options import CSLMGenerationOptions
    from models.cslm.prompts import PromptBuilder, load_prompt_table
    from models.cslm.tiny import build_tiny_cslm
    from models.cslm.units import detect_units

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = build_tiny_cslm(tempfile.mkdtemp(prefix="tiny_cslm_bench_"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    vocab = detect_units(tokenizer)
    builder = PromptBuilder(tokenizer, vocab, load_prompt_table(), "released")
    rng = np.random.default_rng(0)
    prompts = [builder.units_prompt("general", "zh" if i % 2 else "en",
                                    rng.integers(0, vocab.n_units, size=int(rng.integers(args.min_units,
                                                                                         args.max_units + 1)))).ids
               for i in range(args.prompts)]
    gen = CSLMGenerationOptions()
    seeds = [gen.sample_seed(p) for p in prompts]
    greedy = DecodeSettings(max_new_tokens=args.new_tokens, end_ids=frozenset(), pad_id=tokenizer.pad_token_id)
    sampled = DecodeSettings(**{**greedy.__dict__, "do_sample": True, "temperature": gen.temperature,
                                "top_k": gen.top_k, "top_p": gen.top_p})

    def one_by_one(settings):
        return [decode(model, [p], settings, [s])[0] for p, s in zip(prompts, seeds)]

    def batched(settings):
        out: list = [None] * len(prompts)
        for group in length_groups([len(p) for p in prompts], args.batch_size):
            for i, ids in zip(group, decode(model, [prompts[i] for i in group], settings, [seeds[i] for i in group])):
                out[i] = ids
        return out

    decode(model, prompts[:2], greedy, seeds[:2])  # warm-up
    lengths = [len(p) for p in prompts]
    print(f"tiny CSLM, {len(prompts)} prompts of {min(lengths)}-{max(lengths)} tokens (mean {np.mean(lengths):.0f}), "
          f"{args.new_tokens} new tokens each, batch size {args.batch_size}, torch threads {torch.get_num_threads()}")
    for name, settings in (("greedy", greedy), ("sampled (T=1.0, top_p=0.7, top_k=50)", sampled)):
        single, t_single = timed(lambda s=settings: one_by_one(s))
        many, t_many = timed(lambda s=settings: batched(s))
        tokens = sum(len(x) for x in single)
        print(f"{name}:")
        print(f"  one by one: {tokens / t_single:8.1f} tokens/s ({t_single:.2f} s)")
        print(f"  batched:    {sum(len(x) for x in many) / t_many:8.1f} tokens/s ({t_many:.2f} s)")
        ratio = t_single / t_many
        print(f"  speed-up: {ratio:.1f}x (target >= 3x: {'met' if ratio >= 3 else 'NOT met'})")
        same, prefix = agreement(single, many)
        if settings.do_sample:
            print(f"  batch vs one by one: {same}/{len(single)} sequences identical; {prefix:.1%} of tokens "
                  f"generated before the first divergence")
        else:
            assert single == many, "greedy batched outputs differ from one-by-one outputs"
            print(f"  outputs identical: {same}/{len(single)} sequences")


if __name__ == "__main__":
    main()
