"""``codec``: the evaluated system of the ``resynthesis`` task -- a speech tokenizer + unit vocoder pair.

``--model codec --model-arg path=DIR`` (a folder from ``python -m training build-codec``). Options:
``chunk_units`` (0: render the whole unit sequence at once; N: stream it N units at a time, as a speech LM's
output would arrive) and ``threads`` (CPU threads of the encoder and the vocoder, default 1).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.audio import Audio
from harness.model import Model, ModelConfigError, unknown_options
from models.common import convert

RESYNTHESIZE = "resynthesize"  # resynthesize(16 kHz float32 array) -> Resynthesis


@dataclass(frozen=True)
class Resynthesis:
    units: list[int]            # un-merged 25 Hz unit ids
    audio: Audio                # the vocoder's waveform
    tokenize_seconds: float     # wall time of the tokenizer (encoder + nearest centroid)
    vocode_seconds: float       # wall time of the vocoder (net + Griffin-Lim, whole or streamed)


class Codec(Model):
    capabilities = frozenset({RESYNTHESIZE})
    languages = None
    allowed: ClassVar[frozenset[str]] = frozenset({"path", "chunk_units", "threads"})

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
        super().__init__(name, path=str(self.manifest.folder), chunk_units=self.chunk_units)
        self.tokenizer = self.vocoder = None

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["options"].pop("path", None)  # the folder differs per machine; the hash identifies the codec
        info.update(codec_sha256=self.manifest.sha256, codes=self.manifest.codes, rate_hz=25,
                    features=self.manifest.data.get("features"), mel=self.manifest.data.get("mel"),
                    net=self.manifest.data.get("net"),
                    rendering="whole" if not self.chunk_units else f"streamed, {self.chunk_units} units per chunk")
        return info

    def load(self) -> None:
        import torch

        from models.codec.bundle import CodecTokenizer
        from models.codec.vocoder import CodecVocoder

        torch.set_num_threads(self.threads)
        self.tokenizer = CodecTokenizer(self.manifest.folder, threads=self.threads)
        self.vocoder = CodecVocoder(str(self.manifest.folder), threads=self.threads)
        self.vocoder.load()
        self.tokenizer.features._load()  # the encoder loads now, so the first sample's timing is not the load's

    def resynthesize(self, samples: np.ndarray) -> Resynthesis:
        self.ensure_loaded()
        t0 = time.perf_counter()
        units = self.tokenizer.tokenize(samples).tolist()
        t1 = time.perf_counter()
        if self.chunk_units:
            chunks = [units[i:i + self.chunk_units] for i in range(0, len(units), self.chunk_units)]
            wav = np.concatenate(list(self.vocoder.stream(chunks)))
            audio = Audio(wav, self.vocoder.sample_rate)
        else:
            audio = self.vocoder.render(units)
        return Resynthesis(units, audio, round(t1 - t0, 6), round(time.perf_counter() - t1, 6))
