"""Trivial models: they measure the harness, not a model (lm-evaluation-harness's "dummy" idea)."""
from __future__ import annotations

import numpy as np

from harness.audio import Audio
from harness.model import SYNTHESIZE, TRANSCRIBE, Model, unknown_options


class DummyASR(Model):
    """Returns the same text for every input."""
    capabilities = frozenset({TRANSCRIBE})

    def __init__(self, name: str, text: str = "", **options):
        unknown_options(name, options, set())
        super().__init__(name, text=text)
        self.text = text

    def transcribe(self, audios, lang):
        return [self.text for _ in audios]


class DummyTTS(Model):
    """Returns a 0.2 s 440 Hz tone at 16 kHz for every input."""
    capabilities = frozenset({SYNTHESIZE})

    def __init__(self, name: str, **options):
        unknown_options(name, options, set())
        super().__init__(name)
        t = np.arange(3200, dtype=np.float32) / 16000.0
        self._tone = (0.1 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)

    def synthesize(self, texts, lang):
        return [Audio(self._tone.copy(), 16000) for _ in texts]
