"""A tiny text-only Llama (the stand-in for Llama-3.1-8B-Instruct) for laptop runs and tests.

The tokenizer is the CSLM adapter's tiny BPE tokenizer (Llama-3.1 header tokens and chat template) built
with no unit tokens, so ``merge-vocab`` has real work to do; weights are random.
"""
from __future__ import annotations

from pathlib import Path


def build_tiny_base(out_dir: str | Path, corpus: list[str] | None = None, hidden: int = 64, layers: int = 2,
                    seed: int = 0, vocab_size: int = 1000, tied: bool = False) -> Path:
    from models.cslm.tiny import build_tiny_cslm

    return build_tiny_cslm(out_dir, corpus, n_units=0, seed=seed, hidden=hidden, layers=layers,
                           vocab_size=vocab_size, tied=tied)
