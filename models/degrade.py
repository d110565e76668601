"""Degraded speech: any registered TTS or S2S model, its output audio made worse in one chosen, seeded way.

``--model degrade --model-arg inner=piper-en_US-joe-medium --model-arg effect=noise --model-arg snr_db=10`` is Piper
with white noise at 10 dB SNR. It lets a test (or a sceptical reader) check that the speech-quality judges rank
clean speech above damaged speech on real audio, through the real task path.

Effects (deterministic: the noise is seeded by ``seed`` and the text or sample id):
- ``none``: the inner model's audio unchanged (the clean reference condition, same code path);
- ``noise``: white Gaussian noise at ``snr_db`` dB signal-to-noise ratio (over the whole utterance);
- ``clip``: hard clipping at ``clip_ratio`` of the peak, then scaled back to the original peak;
- ``band8k``: resampled to ``narrow_rate`` Hz (8 kHz: telephone band) and back to the original rate.
The result is kept within [-1, 1] (as any written PCM file would be).
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from harness.audio import Audio
from harness.model import CAPABILITIES, ModelConfigError
from models.common import convert
from models.wrapper import WrappedModel

EFFECTS = ("none", "noise", "clip", "band8k")


class Degrade(WrappedModel):
    capabilities: ClassVar[frozenset[str]] = frozenset(CAPABILITIES) - {"transcribe"}  # narrowed in prepare()

    def __init__(self, name: str, inner: str | None = None, effect: str = "noise", snr_db: Any = 10.0,
                 clip_ratio: Any = 0.1, narrow_rate: Any = 8000, seed: Any = 0, **inner_options: Any):
        if effect not in EFFECTS:
            raise ModelConfigError(f"model {name}: effect={effect!r}; use one of {', '.join(EFFECTS)}")
        self.effect = effect
        self.snr_db = convert(name, "snr_db", snr_db, float)
        self.clip_ratio = convert(name, "clip_ratio", clip_ratio, float)
        self.narrow_rate = convert(name, "narrow_rate", narrow_rate, int)
        self.seed = convert(name, "seed", seed, int)
        if not 0 < self.clip_ratio <= 1:
            raise ModelConfigError(f"model {name}: clip_ratio must be in (0, 1]")
        super().__init__(name, inner, "the model whose speech is degraded", inner_options, effect=effect)
        self.wants = self.inner.wants

    def describe(self) -> dict[str, Any]:
        effect = {"none": {}, "noise": {"snr_db": self.snr_db, "seed": self.seed},
                  "clip": {"clip_ratio": self.clip_ratio}, "band8k": {"narrow_rate": self.narrow_rate}}[self.effect]
        return {"id": f"{self.name}({self.inner.name},{self.effect})",
                "class": f"{type(self).__module__}:{type(self).__qualname__}", "effect": self.effect, **effect,
                "inner": self.inner.describe()}

    def degrade(self, audio: Audio, key: str) -> Audio:
        x = np.asarray(audio.samples, dtype=np.float32)
        if self.effect == "noise":
            seed = int.from_bytes(hashlib.sha256(f"{self.seed}:{key}".encode()).digest()[:8], "little")
            power = float(np.mean(x.astype(np.float64) ** 2))
            noise = np.random.default_rng(seed).normal(0.0, np.sqrt(power / 10 ** (self.snr_db / 10)), x.shape)
            x = x + noise.astype(np.float32)
        elif self.effect == "clip":
            peak = float(np.max(np.abs(x))) or 1.0
            x = np.clip(x, -self.clip_ratio * peak, self.clip_ratio * peak) / self.clip_ratio
        elif self.effect == "band8k":
            import soxr

            narrow = soxr.resample(x, audio.sample_rate, self.narrow_rate)
            x = soxr.resample(narrow, self.narrow_rate, audio.sample_rate).astype(np.float32)
        return Audio(np.clip(x, -1.0, 1.0).astype(np.float32), audio.sample_rate, list(audio.warnings))

    def synthesize(self, texts, lang, ids: list[str] | None = None):
        kwargs = {"ids": ids} if "id" in self.inner.wants and ids is not None else {}
        audios = self.inner.synthesize(texts, lang, **kwargs)
        return [self.degrade(a, t) for a, t in zip(audios, texts)]

    def respond(self, audio, instruction=None, out_lang="en", **extra):
        response = self.inner.respond(audio, instruction, out_lang, **extra)
        if response.audio is None:
            return response
        return replace(response, audio=self.degrade(response.audio, response.text or ""))
