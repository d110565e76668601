"""The unit-vocoder interface every vocoder family implements, and the run arithmetic they share.

Dependencies run one way: ``models.cslm`` (its vocoders, its adapter) and ``models.codec`` (the codec vocoder)
both import this module; it imports neither, and ``models.codec`` never imports ``models.cslm``.

Two kinds of unit sequence reach a vocoder:
- un-merged: one unit per 25 Hz frame, so the sequence carries its own durations (a speech tokenizer's output);
- run-merged: consecutive repeats collapsed (what a speech LM is trained on and generates). ``render(units,
  runs)`` expands them with known run lengths; ``render_merged(units)`` is for when the lengths are unknown:
  a vocoder with a duration model predicts them, any other renders each run as one frame (and says so in
  ``merged_rendering()``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

ONE_FRAME = "one frame per run"  # how merged units are rendered without a duration model


def merge_repeats(units) -> tuple[np.ndarray, np.ndarray]:
    """Collapse runs of a repeated unit: ``[5,5,5,7,5] -> ([5,7,5], [3,1,1])`` (run lengths kept for decoders).

    Returns int64 arrays: the prompt path maps them to token ids without a Python-list round trip."""
    arr = np.asarray(units, dtype=np.int64)
    if arr.size == 0:
        return arr, arr.copy()
    starts = np.flatnonzero(np.concatenate(([True], arr[1:] != arr[:-1])))
    runs = np.diff(np.concatenate((starts, [arr.size])))
    return arr[starts], runs


def expand_runs(units, runs) -> list[int]:
    return np.repeat(np.asarray(units, dtype=np.int64), np.asarray(runs, dtype=np.int64)).tolist()


class UnitVocoder:
    name = "base"
    sample_rate = 16000
    streams = False  # True: open_stream() renders chunks as they are generated

    def load(self) -> None:
        """Check configuration and read weights; raise ModelConfigError with a how-to when impossible."""

    def describe(self) -> dict[str, Any]:
        return {"id": self.name, "sample_rate": self.sample_rate}

    def render(self, units: list[int], runs: list[int] | None = None):
        """Un-merged units (or merged units with their run lengths ``runs``) -> harness.audio.Audio."""
        raise NotImplementedError

    def render_merged(self, units: list[int]):
        """Run-merged units whose lengths are unknown (a speech LM's output). Without a duration model: one
        frame per run (``merged_rendering()`` says which)."""
        return self.render(units)

    def merged_rendering(self) -> dict[str, Any]:
        """How ``render_merged`` restores durations: recorded in every results file that renders merged units."""
        return {"durations": ONE_FRAME, "why": f"the {self.name} vocoder has no duration model"}

    def open_stream(self, merged: bool = False):
        """A session with ``push(units) -> samples`` and ``finish() -> samples`` that renders as units arrive
        (``merged``: run-merged units, durations restored as ``render_merged`` does), or None: this vocoder
        renders whole sequences only (the latency task then adds the measured time to render the first chunk
        to the time that chunk was complete)."""
        return None
