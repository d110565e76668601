"""Sequence packing without cross-example attention.

Several tokenized examples share one row; ``position_ids`` restart at 0 for each example and no 2D
attention mask is passed. transformers (>= 4.53 masking utils; flash-attention-2's varlen path on GPU)
then turns the position restarts into a block-diagonal causal mask, so no token attends to another
example. The first label of every example is dropped because its prediction would come from the
previous example's last token. ``tests/training/test_training_packing.py`` checks that a packed batch's loss
equals the token-weighted loss of the examples run one by one.
"""
from __future__ import annotations

import bisect
import random
from typing import Any, Sequence

import torch

from training.chat import IGNORE


def pack_bins(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Best-fit decreasing: example indices grouped so each group's total length is <= capacity."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    free: list[tuple[int, int]] = []  # (room left, bin index), sorted
    bins: list[list[int]] = []
    for i in order:
        n = lengths[i]
        if n > capacity:
            raise ValueError(f"example {i} has {n} tokens, over the pack length {capacity}")
        at = bisect.bisect_left(free, (n, -1))
        if at < len(free):
            room, b = free.pop(at)
            bins[b].append(i)
            room -= n
        else:
            bins.append([i])
            b, room = len(bins) - 1, capacity - n
        if room > 0:
            bisect.insort(free, (room, b))
    return bins


class PackedDataset(torch.utils.data.Dataset):
    """Rows of packed examples; ``examples`` is indexable and yields dicts with input_ids and labels."""

    def __init__(self, examples: Any, lengths: Sequence[int], capacity: int, seed: int = 0,
                 groups: Sequence[range] | None = None):
        """``groups``: ranges of example positions packed each on its own, kept in order (the epochs of a
        planned mix: read in order, training goes through them one after the other)."""
        self.examples = examples
        self.bins = []
        rng = random.Random(seed)
        for group in groups if groups is not None else [range(len(lengths))]:
            bins = [[group.start + i for i in b] for b in pack_bins([lengths[i] for i in group], capacity)]
            rng.shuffle(bins)  # long rows and short rows interleave over the epoch
            self.bins += bins
        self.capacity = capacity

    def positions(self, rows: Sequence[int]) -> list[int]:
        """The example positions packed into ``rows``."""
        return [j for r in rows for j in self.bins[r]]

    def __len__(self) -> int:
        return len(self.bins)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for j in self.bins[i]:
            ex = self.examples[j]
            n = len(ex["input_ids"])
            ids += ex["input_ids"]
            labels += [IGNORE] + list(ex["labels"][1:])
            positions += range(n)
        return {"input_ids": ids, "labels": labels, "position_ids": positions}


class PackedCollator:
    """Pads packed rows to the longest in the batch; the padding is one more "example" (its positions
    restart at 0, labels ignored), so it never shares attention with real tokens."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int = 8):
        self.pad_id = pad_token_id
        self.multiple = pad_to_multiple_of

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        if self.multiple:
            width = -(-width // self.multiple) * self.multiple
        ids, labels, pos = [], [], []
        for r in rows:
            pad = width - len(r["input_ids"])
            ids.append(r["input_ids"] + [self.pad_id] * pad)
            labels.append(r["labels"] + [IGNORE] * pad)
            pos.append(list(r["position_ids"]) + list(range(pad)))
        # use_cache=False: with a cache object present transformers skips packed-sequence detection
        # and would let examples attend to each other (measured on 5.x), whatever the model config says.
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels),
                "position_ids": torch.tensor(pos), "use_cache": False}


def check_packing_support() -> None:
    """Fail fast when the installed transformers cannot mask packed rows from position_ids."""
    try:
        from transformers.masking_utils import find_packed_sequence_indices  # noqa: F401
    except ImportError:
        import transformers

        raise RuntimeError(f"transformers {transformers.__version__} does not derive a block-diagonal mask "
                           f"from position_ids; upgrade to >= 4.53 or set packing=false") from None
