"""The loss at labelled positions only (training.labelled_loss) vs the model's own loss: training steps per second.

Today's path: ``model(**batch).loss`` -- the LM head projects every position (4 x 512 x vocab logits) and
the loss ignores the ~85 % labelled -100. Labelled path: ``labelled_loss(model, batch)`` -- the LM head
projects the labelled positions only. Both run forward + backward + AdamW step on the mini-CSLM's shape
(Llama 2 x 128 as models/cslm/tiny.py builds it: 4 heads, MLP 2 x hidden, untied head; 6150 tokens = 4000 text
+ 2048 codec units + specials; packed rows of 512, 4 rows a step, one torch thread), each on its own model and
optimizer from the same initial weights, one step of each in turn so that a change of machine load hits both.
The examples are random token ids, a masked prompt then a labelled answer, drawn so that about 15 % of the
positions are labelled (``--label-fraction``); the first step's losses of the two paths are compared.

It also prints the logits memory of the 8B recipes (training/recipes/{cpt,sft}_llama31_8b.yaml: rows per
device x row length x merged Llama-3.1 vocabulary), computed, not measured, at the same labelled fraction.

    python benchmarks/labelled_loss.py [--seconds 20 --hidden 128 --layers 2 --vocab 6150]
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import time


def make_examples(n: int, vocab: int, label_fraction: float, seed: int = 0) -> list[dict[str, list[int]]]:
    """Examples of 40-500 tokens whose last ``label_fraction`` (on average, 0.5x to 1.5x per example) is labelled."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = int(min(500, max(40, rng.lognormvariate(0, 0.5) * 160)))
        answer = max(1, round(length * label_fraction * rng.uniform(0.5, 1.5)))
        ids = [rng.randrange(vocab) for _ in range(length)]
        out.append({"input_ids": ids, "labels": [-100] * (length - answer) + ids[length - answer:]})
    return out


def build_model(vocab: int, hidden: int, layers: int, seed: int = 0):
    """A Llama configured as models/cslm/tiny.py's build_tiny_cslm (random weights, ``seed``)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                      num_key_value_heads=4, intermediate_size=2 * hidden, max_position_embeddings=4096,
                      tie_word_embeddings=False, attn_implementation="sdpa", use_cache=False)
    return LlamaForCausalLM(cfg)


def own_loss(model, batch):
    return model(**batch).loss


def labelled(model, batch):
    from training.labelled_loss import labelled_loss

    return labelled_loss(model, batch)[0]


def throughput(batches, args) -> dict[str, dict[str, float]]:
    import itertools

    import torch

    paths = {"own_loss": own_loss, "labelled_loss": labelled}
    state = {}
    for name in paths:
        model = build_model(args.vocab, args.hidden, args.layers).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        stream = itertools.cycle(batches)
        paths[name](model, next(stream)).backward()  # one step outside the clock (allocator warm-up)
        opt.zero_grad()
        state[name] = {"model": model, "opt": opt, "stream": stream, "time": 0.0, "steps": 0}
    while min(st["time"] for st in state.values()) < args.seconds:
        for name, st in state.items():
            batch = next(st["stream"])
            t0 = time.perf_counter()
            paths[name](st["model"], batch).backward()
            st["opt"].step()
            st["opt"].zero_grad()
            st["time"] += time.perf_counter() - t0
            st["steps"] += 1
    return {name: {"steps": st["steps"], "seconds": round(st["time"], 2),
                   "steps_per_s": round(st["steps"] / st["time"], 3)} for name, st in state.items()}


def memory_8b(label_fraction: float) -> dict[str, dict[str, object]]:
    """Logits bytes of the 8B recipes' micro-batch, full vs labelled, bf16 logits and the loss's float32 copy."""
    from models.cslm.units import DEFAULT_UNITS, SPAN_CLOSE, SPAN_OPEN
    from training.labelled_loss import logits_bytes
    from training.recipe import load_recipe
    from training.vocab import DEFAULT_EXTRA_TOKENS

    vocab = 128256 + len((SPAN_OPEN, SPAN_CLOSE, *DEFAULT_EXTRA_TOKENS)) + DEFAULT_UNITS  # merge-vocab of Llama-3.1
    out = {}
    for name in ("cpt_llama31_8b", "sft_llama31_8b"):
        r = load_recipe(name)
        shape = (r.per_device_train_batch_size, r.pack_length or r.max_length)
        bf16 = logits_bytes(*shape, vocab, label_fraction, 2)
        fp32 = logits_bytes(*shape, vocab, label_fraction, 4)
        gib = {path: round((bf16[path] + fp32[path]) / 2**30, 2) for path in bf16}
        out[name] = {"rows x length x vocab": f"{shape[0]} x {shape[1]} x {vocab}",
                     "bf16_logits_gib": {k: round(v / 2**30, 2) for k, v in bf16.items()},
                     "plus_fp32_copy_gib": gib, "saved_gib": round(gib["full"] - gib["labelled"], 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=6150, help="4000 text + 2048 codec units + specials")
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--length", type=int, default=512)
    ap.add_argument("--label-fraction", type=float, default=0.15)
    ap.add_argument("--seconds", type=float, default=20.0, help="timed seconds per path")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    from training.packing import PackedCollator, PackedDataset

    torch.set_num_threads(args.threads)
    examples = make_examples(600, args.vocab, args.label_fraction)
    ds = PackedDataset(examples, [len(e["input_ids"]) for e in examples], args.length, seed=0)
    collate = PackedCollator(pad_token_id=0, pad_to_multiple_of=args.length)  # full rows, as a fixed shape
    batches = [collate([ds[j] for j in range(i, i + args.rows)]) for i in range(0, len(ds) - args.rows + 1, args.rows)]
    labelled_share = sum(int((b["labels"][:, 1:] != -100).sum()) for b in batches) / sum(
        b["labels"].numel() for b in batches)
    model = build_model(args.vocab, args.hidden, args.layers)
    with torch.no_grad():
        first = {"own_loss": own_loss(model, batches[0]).item(), "labelled_loss": labelled(model, batches[0]).item()}
    result = {"model": f"llama hidden={args.hidden} layers={args.layers} vocab={args.vocab}",
              "batch": f"{args.rows} x {args.length} packed", "labelled_share": round(labelled_share, 3),
              "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
              "first_loss": first,
              "loss_rel_diff": abs(first["labelled_loss"] - first["own_loss"]) / first["own_loss"]}
    result.update(throughput(batches, args))
    result["speedup"] = round(result["labelled_loss"]["steps_per_s"] / result["own_loss"]["steps_per_s"], 2)
    result["logits_memory_8b"] = memory_8b(labelled_share)
    print(json.dumps(result, indent=2))
    print(f"labelled / own loss training steps per second: {result['speedup']}x (target >= 2x); "
          f"first-step loss differs by {result['loss_rel_diff']:.2e} (relative)")


if __name__ == "__main__":
    main()
