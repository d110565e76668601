"""Two steps side by side (one torch thread each) vs one at a time with every thread: training work per second.

What the mini-CSLM's ``step_workers: 2, threads: 1`` replaces: its steps one after another in one process with
both cores' threads (``step_workers: 1, threads: 2``). Both layouts run the same work -- two trainings of the
mini-CSLM's shape (Llama 2 x 128, 6150 tokens: 4000 text + 2048 units + specials; packed rows of 4 x 512,
forward + backward + AdamW) of ``--steps`` each -- in spawned processes, as the pipeline does:

    sequential: one process, ``--threads`` threads, training A then training B
    side by side: the pipeline's step runner (Steps.run_graph, step_workers 2, threads 1): A and B at once

and the two are measured alternately (``--rounds``) so that a change of machine load hits both alike.

    python benchmarks/mini_steps.py [--steps 40 --hidden 128 --layers 2 --vocab 6150 --rounds 2]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _train(threads: int, steps: int, hidden: int, layers: int, vocab: int, seed: int, start_at: float = 0.0) -> float:
    """One training of ``steps`` optimizer steps in this process, its clock started at ``start_at`` (epoch
    seconds; 0: at once) after the build and a warm-up step; returns the seconds it took from that start."""
    import torch
    from training_packing import build_model, make_examples

    from training.packing import PackedCollator, PackedDataset

    if threads:
        torch.set_num_threads(threads)
    collate = PackedCollator(pad_token_id=0)
    examples = [{k: v[:512] for k, v in e.items()} for e in make_examples(400, vocab, seed)]
    rows = PackedDataset(examples, [len(e["input_ids"]) for e in examples], 512, seed=seed)
    model = build_model(vocab, hidden, layers, seed).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    start = 0.0
    for step in range(steps + 1):  # step 0 is warm-up, outside the clock
        if step == 1:
            if start_at and time.time() > start_at:
                raise RuntimeError("a worker was ready after the common start: raise --start-delay")
            time.sleep(max(0.0, start_at - time.time()))
            start = time.time()
        batch = collate([rows[(4 * step + i) % len(rows)] for i in range(4)])
        model(**batch).loss.backward()
        opt.step()
        opt.zero_grad()
    return time.time() - start


def _train_step(marker: str, *job) -> None:
    """``_train`` as a pipeline step: its clock into ``marker`` (the file that marks the step done)."""
    seconds = _train(*job)
    Path(marker).write_text(json.dumps({"seconds": seconds}))


def sequential(args) -> float:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        job = (args.threads, args.steps, args.hidden, args.layers, args.vocab)
        return pool.submit(_train, *job, 0).result() + pool.submit(_train, *job, 1).result()


def side_by_side(args) -> float:
    """Through the pipeline's own step runner (training.mini_cslm.steps: worker processes, their threads)."""
    from training.mini_cslm.steps import Step, Steps

    with tempfile.TemporaryDirectory() as tmp:
        start_at = time.time() + args.start_delay  # both clocks start together, after both workers' start-up
        job = (0, args.steps, args.hidden, args.layers, args.vocab)  # threads 0: as the step runner set them
        graph = [Step(f"train-{seed}", Path(tmp) / f"{seed}.json",
                      partial(_train_step, str(Path(tmp) / f"{seed}.json"), *job, seed, start_at)) for seed in (0, 1)]
        steps = Steps(Path(tmp), total=2, progress=False)
        steps.run_graph(graph, workers=2, threads=1)
        return max(json.loads((Path(tmp) / f"{seed}.json").read_text())["seconds"] for seed in (0, 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40, help="optimizer steps per training")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=6150)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="threads of the sequential layout")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--start-delay", type=float, default=20.0,
                    help="seconds for two workers to start and build their models before the common start")
    args = ap.parse_args()
    seconds = {"sequential": [], "side_by_side": []}
    for _ in range(args.rounds):
        seconds["sequential"].append(round(sequential(args), 2))
        seconds["side_by_side"].append(round(side_by_side(args), 2))
    best = {k: min(v) for k, v in seconds.items()}
    result = {"model": f"llama hidden={args.hidden} layers={args.layers} vocab={args.vocab}, rows 4 x 512",
              "work": f"2 trainings x {args.steps} steps", "cpus": os.cpu_count(),
              "cpu": platform.processor() or platform.machine(), "sequential_threads": args.threads,
              "seconds": seconds, "speedup": round(best["sequential"] / best["side_by_side"], 2)}
    print(json.dumps(result, indent=2))
    print(f"two one-thread steps side by side vs one {args.threads}-thread step at a time: "
          f"{result['speedup']}x the training work per second (best of {args.rounds} rounds each)")


if __name__ == "__main__":
    main()
