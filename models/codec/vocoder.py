"""Codec unit vocoder: un-merged 25 Hz units -> log mel (UnitMelNet) -> 16 kHz waveform (Griffin-Lim).

The net was trained on un-merged units: one unit is 40 ms, so the sequence carries its own durations.
Run-merged units (a speech LM's output) are expanded first: with known run lengths by ``render(units, runs)``;
without, by ``render_merged(units)``, which predicts each run's frames with the codec's duration model
(models.codec.durations; ``durations="none"``, or a codec built before the model existed, renders one frame
per run instead, and ``merged_rendering()`` -- in ``describe()`` -- says which ran).

Streaming (``stream``): units arrive in chunks; each call renders the mel frames whose ``context_units`` of
right context have arrived, feeding the net ``context_units`` of left context, so those frames equal the
whole-sequence pass (float rounding aside); Griffin-Lim then runs chunk by chunk with left-context overlap and
a cross-fade (``models.codec.mel.StreamingGriffinLim``). The last frames wait for the end of the stream (or
for ``context_units`` more units): that is the vocoder's lookahead. A merged stream (``open_stream(merged=True)``)
first decides each run's frames once the duration model's ``lookahead`` more runs have arrived
(models.codec.durations.DurationStream), then feeds those frames to the same session: its look-ahead is
``lookahead`` runs + ``context_units`` frames, and its frames equal the whole-utterance pass's.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import numpy as np

from harness.audio import Audio
from harness.model import ModelConfigError
from models.codec.bundle import DURATIONS, VOCODER, load_codec
from models.codec.mel import Mel, MelConfig, StreamingGriffinLim
from models.unit_vocoder import ONE_FRAME, UnitVocoder, expand_runs

log = logging.getLogger(__name__)
DURATION_MODES = ("predicted", "none")  # how render_merged restores run lengths


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

    def __init__(self, spec: str, threads: int = 1, durations: str = "predicted", rounding: str | None = None):
        """``durations``: how ``render_merged`` restores run lengths -- ``predicted`` (the codec's duration model,
        when it has one) or ``none`` (one frame per run: the path before the model existed). ``rounding``:
        the duration model's decoding rule (None: the one the codec was built with)."""
        if not spec:
            raise ModelConfigError("vocoder=codec needs the codec folder: vocoder=codec:DIR")
        if durations not in DURATION_MODES:
            raise ModelConfigError(f"vocoder durations={durations!r}: choose {' or '.join(DURATION_MODES)}")
        from models.codec.durations import check_rounding

        try:
            if rounding is not None:
                check_rounding(rounding)
        except ValueError as exc:
            raise ModelConfigError(f"duration {exc}") from None
        self.manifest = load_codec(spec)
        self.threads = threads
        self.durations_mode, self.rounding = durations, rounding
        self.net = self.mel = self.durations = None

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
        if self.durations_mode == "predicted":
            self.durations = self.manifest.load_durations(self.rounding)
            if self.durations is None:
                log.warning("codec %s has no duration model: merged units are rendered one frame per run "
                            "(rerun build-codec on it to add one)", self.manifest.folder)

    def merged_rendering(self) -> dict[str, Any]:
        if self.durations_mode == "none":
            return {"durations": ONE_FRAME, "why": "durations=none"}
        if not self.manifest.has_durations:
            return {"durations": ONE_FRAME, "why": "this codec has no duration model (built before it existed; "
                                                   "rerun build-codec on the folder to add it)"}
        from models.codec.durations import DurationConfig

        spec = self.manifest.data["durations"]
        cfg = DurationConfig.from_dict(spec["net"])
        return {"durations": "predicted", "model": DURATIONS, "sha256": self.manifest.data["files"][DURATIONS],
                "rounding": self.rounding or spec["rounding"], "lookahead_runs": cfg.lookahead,
                "left_context_runs": cfg.left_context}

    def describe(self) -> dict[str, Any]:
        return {"id": self.name, "folder": str(self.manifest.folder), "sha256": self.manifest.sha256,
                "sample_rate": self.sample_rate, "units": "un-merged 25 Hz (runs expand merged input)",
                "merged_units": self.merged_rendering(),
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

    def expand_merged(self, units: Iterable[int]) -> tuple[list[int], str | None]:
        """Merged units -> the un-merged sequence the net renders, and a warning when durations are not
        predicted (one frame per run)."""
        self.load()
        seq = np.asarray(list(units), dtype=np.int64)
        if self.durations is None:
            return seq.tolist(), f"merged units rendered {ONE_FRAME} ({self.merged_rendering()['why']})"
        self._check(seq)
        return self.durations.expand(seq).tolist(), None

    def render_merged(self, units) -> Audio:
        seq, warning = self.expand_merged(units)
        audio = self.render(seq)
        if warning:
            audio.warnings.append(warning)
        return audio

    def stream(self, chunks: Iterable[Iterable[int]], merged: bool = False) -> Iterator[np.ndarray]:
        """Yield waveform pieces as unit chunks arrive; their concatenation is the rendered utterance."""
        session = self.open_stream(merged)
        for chunk in chunks:
            yield session.push(chunk)
        yield session.finish()

    def open_stream(self, merged: bool = False) -> "CodecStream":
        """A push-based session: ``push(units)`` as each chunk arrives, ``finish()`` at the end. ``merged``:
        the units are run-merged and expanded as ``render_merged`` does, each run once its frames are final."""
        self.load()
        return CodecStream(self, self.durations.stream() if merged and self.durations is not None else None)

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

    def __init__(self, vocoder: CodecVocoder, durations=None):
        self.vocoder = vocoder
        self.sample_rate = vocoder.sample_rate
        self.gl = StreamingGriffinLim(vocoder.mel)
        self.durations = durations  # a DurationStream when the pushed units are run-merged
        self.units = np.zeros(0, dtype=np.int64)  # un-merged units so far
        self.done = 0  # units whose mel frames were emitted

    def push(self, chunk: Iterable[int]) -> np.ndarray:
        """Add units; returns the waveform that is final now (empty while within the net's lookahead)."""
        if self.durations is not None:
            chunk = self.durations.push(chunk)
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
        if self.durations is not None:
            self.units = np.concatenate([self.units, self.durations.finish()])
        if len(self.units) == 0:
            raise ValueError("no units to render")
        self.vocoder._check(self.units)
        with torch_threads(self.vocoder.threads):
            return self.gl.push(self.vocoder._frames(self.units, self.done, len(self.units)), final=True)
