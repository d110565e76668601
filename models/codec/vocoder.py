"""Codec unit vocoder: un-merged 25 Hz units -> log mel (UnitMelNet) -> 16 kHz waveform (Griffin-Lim).

Units are NOT run-merged: one unit is 40 ms, so the sequence carries its own durations (a merged sequence
must be expanded with its run lengths first, as ``render(units, runs)`` does).

Streaming (``stream``): units arrive in chunks; each call renders the mel frames whose ``context_units`` of
right context have arrived, feeding the net ``context_units`` of left context, so those frames equal the
whole-sequence pass (float rounding aside); Griffin-Lim then runs chunk by chunk with left-context overlap and
a cross-fade (``models.codec.mel.StreamingGriffinLim``). The last frames wait for the end of the stream (or
for ``context_units`` more units): that is the vocoder's lookahead.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import numpy as np

from harness.audio import Audio
from harness.model import ModelConfigError
from models.codec.bundle import VOCODER, load_codec
from models.codec.mel import Mel, MelConfig, StreamingGriffinLim
from models.cslm.units import expand_runs
from models.cslm.vocoder import UnitVocoder


@contextmanager
def torch_threads(n: int):
    """Run with ``n`` torch threads, then restore. The net and Griffin-Lim are many small ops: beside a speech LM
    generating on the same cores, two threads were 20x slower than one (measured: 4.2 s vs 0.18 s for 1.8 s of
    audio on 2 busy cores)."""
    import torch

    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if before != n:
            torch.set_num_threads(before)


class CodecVocoder(UnitVocoder):
    name = "codec"
    sample_rate = 16000
    streams = True

    def __init__(self, spec: str, threads: int = 1):
        if not spec:
            raise ModelConfigError("vocoder=codec needs the codec folder: vocoder=codec:DIR")
        self.manifest = load_codec(spec)
        self.threads = threads
        self.net = self.mel = None

    def load(self) -> None:
        if self.net is not None:
            return
        import torch

        from models.codec.net import NetConfig, UnitMelNet

        self.manifest.check(VOCODER)
        data = self.manifest.data
        cfg = dict(data["net"])
        cfg["dilations"] = tuple(cfg["dilations"])
        self.net_config = NetConfig(**cfg)
        self.net = UnitMelNet(self.net_config)
        self.net.load_state_dict(torch.load(self.manifest.folder / VOCODER, map_location="cpu", weights_only=True))
        self.net.eval()
        self.mel = Mel(MelConfig(**data["mel"]))
        self.sample_rate = self.mel.config.sample_rate

    def describe(self) -> dict[str, Any]:
        return {"id": self.name, "folder": str(self.manifest.folder), "sha256": self.manifest.sha256,
                "sample_rate": self.sample_rate, "units": "un-merged 25 Hz (runs expand merged input)",
                "mel_to_wave": "griffin-lim", "streaming": "chunks with left context + cross-fade"}

    def _net(self, units: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.net(torch.as_tensor(units, dtype=torch.long)[None])[0].numpy()

    def mel_of(self, units: Iterable[int]) -> np.ndarray:
        self.load()
        seq = np.asarray(list(units), dtype=np.int64)
        self._check(seq)
        return self._net(seq)

    def _check(self, seq: np.ndarray) -> None:
        if seq.size == 0:
            raise ValueError("no units to render")
        if seq.min() < 0 or seq.max() >= self.net_config.codes:
            raise ValueError(f"unit ids must lie in [0, {self.net_config.codes}); got {seq.min()}..{seq.max()}")

    def render(self, units, runs=None) -> Audio:
        self.load()
        seq = expand_runs(units, runs) if runs is not None else list(units)
        with torch_threads(self.threads):
            return Audio(self.mel.invert(self.mel_of(seq)), self.sample_rate)

    def stream(self, chunks: Iterable[Iterable[int]]) -> Iterator[np.ndarray]:
        """Yield waveform pieces as unit chunks arrive; their concatenation is the rendered utterance."""
        session = self.open_stream()
        for chunk in chunks:
            yield session.push(chunk)
        yield session.finish()

    def open_stream(self) -> "CodecStream":
        """A push-based session: ``push(units)`` as each chunk arrives, ``finish()`` at the end."""
        self.load()
        return CodecStream(self)

    def _frames(self, units: np.ndarray, start: int, end: int) -> np.ndarray:
        """Mel frames of units [start, end), from a window with the net's context on both sides."""
        ctx, up = self.net_config.context_units, self.net_config.upsample
        lo, hi = max(0, start - ctx), min(len(units), end + ctx)
        if start >= end:
            return np.zeros((0, self.mel.config.n_mels), dtype=np.float32)
        self._check(units[lo:hi])
        return self._net(units[lo:hi])[(start - lo) * up:(end - lo) * up]


class CodecStream:
    """One utterance rendered as its units arrive (see the module docstring for what waits for what)."""

    def __init__(self, vocoder: CodecVocoder):
        self.vocoder = vocoder
        self.sample_rate = vocoder.sample_rate
        self.gl = StreamingGriffinLim(vocoder.mel)
        self.units = np.zeros(0, dtype=np.int64)
        self.done = 0  # units whose mel frames were emitted

    def push(self, chunk: Iterable[int]) -> np.ndarray:
        """Add units; returns the waveform that is final now (empty while within the net's lookahead)."""
        self.units = np.concatenate([self.units, np.asarray(list(chunk), dtype=np.int64)])
        ready = len(self.units) - self.vocoder.net_config.context_units
        if ready <= self.done:
            return np.zeros(0, np.float32)
        with torch_threads(self.vocoder.threads):
            piece = self.gl.push(self.vocoder._frames(self.units, self.done, ready))
        self.done = ready
        return piece

    def finish(self) -> np.ndarray:
        """The rest of the utterance (the lookahead frames and Griffin-Lim's held tail)."""
        if len(self.units) == 0:
            raise ValueError("no units to render")
        self.vocoder._check(self.units)
        with torch_threads(self.vocoder.threads):
            return self.gl.push(self.vocoder._frames(self.units, self.done, len(self.units)), final=True)
