"""Speech-unit vocabulary: how a checkpoint's tokenizer writes the 4096 CosyVoice units, and the arithmetic
that maps unit ids to token ids (and back) without string tokenization.

The released CSLM writes units as ``<123>`` (no spaces: ``<1><2><3>``); training in this project may use
``<|s_123|>``. Both are added tokens with contiguous ids in practice, so ``token = offset + unit``; a lookup
table covers a vocabulary whose unit tokens are not contiguous (same vectorized speed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from models.unit_vocoder import expand_runs, merge_repeats  # noqa: F401 -- their home; re-exported here

# name -> (how one unit is written, regex capturing the unit number)
UNIT_FORMATS: dict[str, tuple[str, str]] = {
    "angle": ("<{}>", r"<(\d+)>"),          # released CSLM: <0> ... <4095>
    "s-pipe": ("<|s_{}|>", r"<\|s_(\d+)\|>"),  # this project's training builders
}
DEFAULT_UNITS = 4096  # CosyVoice-300M-25Hz speech tokenizer codebook
SPAN_OPEN, SPAN_CLOSE = "<sosp>", "<eosp>"  # released span markers around units in prompts


class UnitVocabError(ValueError):
    """The tokenizer does not contain a recognisable, complete set of unit tokens."""


@dataclass(frozen=True)
class UnitVocab:
    format: str                      # key of UNIT_FORMATS
    n_units: int                     # codebook size found in the tokenizer
    table: np.ndarray = field(repr=False)    # unit -> token id (int64)
    inverse: np.ndarray = field(repr=False)  # token id -> unit, -1 for non-unit ids
    offset: int | None = None        # token id of unit 0 when ids are contiguous (fast path)

    @property
    def pattern(self) -> re.Pattern:
        return re.compile(UNIT_FORMATS[self.format][1])

    def token(self, unit: int) -> str:
        return UNIT_FORMATS[self.format][0].format(unit)

    def units_to_ids(self, units) -> np.ndarray:
        arr = np.asarray(units, dtype=np.int64)
        if arr.size:
            n = self.n_units
            # One pass: for a power-of-two codebook, any bit at or above log2(n) means out of range (negatives too).
            bad = (int(np.bitwise_or.reduce(arr)) & ~(n - 1)) if n & (n - 1) == 0 else \
                (arr.min() < 0 or arr.max() >= n)
            if bad:
                raise ValueError(f"unit ids must lie in [0, {n}); got {int(arr.min())}..{int(arr.max())}")
        return arr + self.offset if self.offset is not None else self.table[arr]

    def ids_to_units(self, ids) -> np.ndarray:
        """Unit number per token id; -1 where the id is not a unit token."""
        arr = np.asarray(ids, dtype=np.int64)
        out = np.full(arr.shape, -1, dtype=np.int64)
        ok = (arr >= 0) & (arr < len(self.inverse))
        out[ok] = self.inverse[arr[ok]]
        return out

    def is_unit_id(self, token_id: int) -> bool:
        return 0 <= token_id < len(self.inverse) and self.inverse[token_id] >= 0

    def format_units(self, units) -> str:
        """``<1><2><3>``: the prompt form (no spaces, as the released decode scripts strip them)."""
        fmt = UNIT_FORMATS[self.format][0]
        return "".join(fmt.format(int(u)) for u in units)

    def parse_units(self, text: str) -> list[int]:
        return [int(m) for m in self.pattern.findall(text)]


def detect_units(tokenizer, n_units: int | None = None, prefer: str | None = None) -> UnitVocab:
    """Find which unit format the tokenizer carries; ``n_units`` None counts the units present (from 0 up)."""
    vocab = tokenizer.get_vocab()
    size = max(len(tokenizer), max(vocab.values()) + 1)
    names = [prefer] if prefer else list(UNIT_FORMATS)
    seen = []
    for name in names:
        if name not in UNIT_FORMATS:
            raise UnitVocabError(f"unknown unit format {name!r}; known: {', '.join(UNIT_FORMATS)}")
        fmt = UNIT_FORMATS[name][0]
        count = 0
        limit = n_units if n_units is not None else 1 << 16
        while count < limit and fmt.format(count) in vocab:
            count += 1
        seen.append(f"{fmt.format(0)}: {count}")
        if count == 0 or (n_units is not None and count < n_units):
            continue
        table = np.fromiter((vocab[fmt.format(i)] for i in range(count)), dtype=np.int64, count=count)
        inverse = np.full(size, -1, dtype=np.int64)
        inverse[table] = np.arange(count)
        contiguous = bool(np.all(np.diff(table) == 1))
        return UnitVocab(name, count, table, inverse, int(table[0]) if contiguous else None)
    want = f"{n_units} " if n_units else ""
    raise UnitVocabError(
        f"the tokenizer has no complete set of {want}speech-unit tokens (found {', '.join(seen)}); expected "
        f"added tokens {' or '.join(UNIT_FORMATS[n][0].format(0) + '...' for n in names)} -- "
        f"is this a CSLM checkpoint with the merged speech vocabulary?")
