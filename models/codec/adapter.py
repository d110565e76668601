"""``codec``: the evaluated system of the ``resynthesis`` task -- a speech tokenizer + unit vocoder pair.

``--model codec --model-arg path=DIR`` (a folder from ``python -m training build-codec``). Options:
``chunk_units`` (0: render the whole unit sequence at once; N: stream it N units at a time, as a speech LM's
output would arrive), ``threads`` (CPU threads of the encoder and the vocoder, default 1) and ``merge``, which
units the vocoder gets:
- ``none`` (default): the tokenizer's un-merged units (one per 40 ms: the codec's own ceiling);
- ``one-frame``: the units run-merged (what a speech LM is trained on and emits), each run rendered as one
  frame -- the CSLM path before the duration model;
- ``durations``: run-merged, then each run expanded by the codec's duration model (``duration_rounding``:
  carry | round | argmax; default the codec's own), as the CSLM adapter renders generated units.
The three sit side by side as three rows of one ``resynthesis`` table (the option is part of the system).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.audio import Audio
from harness.model import Model, ModelConfigError, unknown_options
from models.common import convert

MERGE_MODES = ("none", "one-frame", "durations")
RESYNTHESIZE = "resynthesize"  # resynthesize(16 kHz float32 array) -> Resynthesis


@dataclass(frozen=True)
class Resynthesis:
    units: list[int]            # un-merged 25 Hz unit ids
    audio: Audio                # the vocoder's waveform
    tokenize_seconds: float     # wall time of the tokenizer (encoder + nearest centroid)
    vocode_seconds: float       # wall time of the vocoder (net + Griffin-Lim, whole or streamed)
    rendered_units: int | None = None   # 25 Hz frames the vocoder rendered (None: len(units))
    run_frames: list[int] | None = None  # merged input: frames given to each run (predicted or 1), in order


class Codec(Model):
    capabilities = frozenset({RESYNTHESIZE})
    languages = None
    allowed: ClassVar[frozenset[str]] = frozenset({"path", "chunk_units", "threads", "merge", "duration_rounding"})

    def __init__(self, name: str, **options: Any):
        unknown_options(name, options, self.allowed)
        if not options.get("path"):
            raise ModelConfigError(f"model {name} needs path=DIR (a codec folder: python -m training build-codec ...)")
        from models.codec.bundle import load_codec

        self.manifest = load_codec(options["path"])
        self.chunk_units = convert(name, "chunk_units", options.get("chunk_units", 0), int)
        self.threads = convert(name, "threads", options.get("threads", 1), int)
        if self.chunk_units < 0 or self.threads < 1:
            raise ModelConfigError(f"model {name}: chunk_units must be >= 0 and threads >= 1")
        self.merge = options.get("merge", "none")
        if self.merge not in MERGE_MODES:
            raise ModelConfigError(f"model {name}: merge={self.merge!r}: choose one of {', '.join(MERGE_MODES)}")
        self.rounding = options.get("duration_rounding") or None
        if self.rounding is not None and self.merge != "durations":
            raise ModelConfigError(f"model {name}: duration_rounding={self.rounding} needs merge=durations "
                                   f"(merge={self.merge} predicts no durations)")
        if self.rounding is not None:
            from models.codec.durations import check_rounding

            try:
                check_rounding(self.rounding)
            except ValueError as exc:
                raise ModelConfigError(f"model {name}: duration_{exc}") from None
        if self.merge == "durations" and not self.manifest.has_durations:
            raise ModelConfigError(f"model {name}: merge=durations needs a codec with a duration model; "
                                   f"{self.manifest.folder} has none (rerun build-codec on it: only that step runs)")
        opts = {"path": str(self.manifest.folder), "chunk_units": self.chunk_units, "merge": self.merge}
        if self.rounding is not None:
            opts["duration_rounding"] = self.rounding
        super().__init__(name, **opts)
        self.tokenizer = self.vocoder = None

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["options"].pop("path", None)  # the folder differs per machine; the hash identifies the codec
        info.update(codec_sha256=self.manifest.sha256, codes=self.manifest.codes, rate_hz=25,
                    features=self.manifest.data.get("features"), mel=self.manifest.data.get("mel"),
                    net=self.manifest.data.get("net"),
                    rendering="whole" if not self.chunk_units else f"streamed, {self.chunk_units} units per chunk")
        if self.merge != "none":
            info["units_rendered"] = ("run-merged, one frame per run" if self.merge == "one-frame" else
                                      {"run-merged, durations": self._vocoder().merged_rendering()})
        return info

    def load(self) -> None:
        import torch

        from models.codec.bundle import CodecTokenizer

        torch.set_num_threads(self.threads)
        self.tokenizer = CodecTokenizer(self.manifest.folder, threads=self.threads)
        self.vocoder = self._vocoder()
        self.vocoder.load()
        self.tokenizer.features._load()  # the encoder loads now, so the first sample's timing is not the load's

    def _vocoder(self):
        if self.vocoder is None:
            from models.codec.vocoder import CodecVocoder

            self.vocoder = CodecVocoder(str(self.manifest.folder), threads=self.threads,
                                        durations="predicted" if self.merge == "durations" else "none",
                                        rounding=self.rounding)
        return self.vocoder

    def resynthesize(self, samples: np.ndarray) -> Resynthesis:
        self.ensure_loaded()
        t0 = time.perf_counter()
        units = self.tokenizer.tokenize(samples).tolist()
        t1 = time.perf_counter()
        seq, run_frames = units, None
        if self.merge != "none":  # the un-merged units are what a speech LM's merged output stands for
            from models.unit_vocoder import merge_repeats

            seq = merge_repeats(units)[0].tolist()
        merged = self.merge == "durations"
        if self.chunk_units:
            chunks = [seq[i:i + self.chunk_units] for i in range(0, len(seq), self.chunk_units)]
            wav = np.concatenate(list(self.vocoder.stream(chunks, merged=merged)))
            audio = Audio(wav, self.vocoder.sample_rate)
        else:
            audio = self.vocoder.render_merged(seq) if merged else self.vocoder.render(seq)
        vocode = round(time.perf_counter() - t1, 6)
        if self.merge == "durations":  # the frames each run got (timing excluded: the render above paid for it)
            run_frames = self.vocoder.durations.durations(seq).tolist()
        elif self.merge == "one-frame":
            run_frames = [1] * len(seq)
        rendered = sum(run_frames) if run_frames is not None else len(units)
        return Resynthesis(units, audio, round(t1 - t0, 6), vocode, rendered, run_frames)
