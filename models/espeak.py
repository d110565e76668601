"""espeak-ng TTS (the Debian ``espeak-ng`` binary, run as a subprocess): ``espeak-ng-zh``, ``espeak-ng-en``.

A formant synthesizer: robotic but intelligible, fully deterministic (the same text and options give the
same samples on every run), and the only Chinese voice that installs offline here. The language comes from
the name; ``voice=`` picks another espeak-ng voice (``espeak-ng --voices``), ``rate=`` words per minute,
``pitch=`` 0..99. Audio comes back at 16 kHz float32 (espeak-ng's 22.05 kHz resampled with soxr).

    apt-get install -y espeak-ng
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.audio import Audio
from harness.model import SYNTHESIZE, Model, ModelConfigError, unknown_options
from models.common import convert

SAMPLE_RATE = 16000
# harness language -> espeak-ng voice. Mandarin is cmn-latn-pinyin: the plain "cmn" voice of Debian's 1.51 spells
# characters as pinyin with tone DIGITS read in English ("an one na four"), which no ASR understands.
VOICES = {"zh": "cmn-latn-pinyin", "en": "en-us"}
INSTALL = "apt-get install -y espeak-ng"


def espeak_binary() -> str | None:
    """Path of the espeak-ng executable, or None when the Debian package is not installed."""
    return shutil.which("espeak-ng")


class EspeakTTS(Model):
    capabilities = frozenset({SYNTHESIZE})
    languages = None  # instance level: the one language of the name
    allowed: ClassVar[frozenset[str]] = frozenset({"voice", "rate", "pitch"})
    TIMEOUT = 60.0  # seconds per utterance: espeak-ng takes milliseconds; a hang is a broken install

    def __init__(self, name: str, **options: Any):
        unknown_options(name, options, self.allowed)
        lang = name.removeprefix("espeak-ng-")
        if lang not in VOICES:
            raise ModelConfigError(f"model {name}: unknown language {lang!r}; use one of "
                                   f"{', '.join('espeak-ng-' + k for k in VOICES)} (voice= picks any espeak-ng voice)")
        self.lang = lang
        self.languages = frozenset({lang})
        self.voice = str(options.get("voice") or VOICES[lang])
        self.rate = convert(name, "rate", options.get("rate", 175), int)    # espeak-ng's default speed
        self.pitch = convert(name, "pitch", options.get("pitch", 50), int)  # espeak-ng's default pitch
        if not 80 <= self.rate <= 450:
            raise ModelConfigError(f"model {name}: rate must be 80..450 words per minute (got {self.rate})")
        if not 0 <= self.pitch <= 99:
            raise ModelConfigError(f"model {name}: pitch must be 0..99 (got {self.pitch})")
        super().__init__(name, voice=self.voice, rate=self.rate, pitch=self.pitch)
        self._binary: str | None = None
        self._version: str | None = None

    def load(self) -> None:
        self._binary = espeak_binary()
        if self._binary is None:
            raise ModelConfigError(f"model {self.name} needs the espeak-ng program: {INSTALL}")
        done = subprocess.run([self._binary, "--voices"], capture_output=True, text=True, timeout=self.TIMEOUT)
        # columns: Pty Language Age/Gender VoiceName File Other-languages; -v takes a language or a file
        known = {name.lower() for line in done.stdout.splitlines()[1:] if len(cols := line.split()) > 4
                 for name in (cols[1], cols[4], cols[4].rsplit("/", 1)[-1])}
        if self.voice.split("+")[0].lower() not in known:  # "+variant" (en-us+f3) picks a variant of a voice
            raise ModelConfigError(f"model {self.name}: espeak-ng has no voice {self.voice!r} (espeak-ng --voices)")

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        if self._version is None and espeak_binary():
            out = subprocess.run([espeak_binary(), "--version"], capture_output=True, text=True, timeout=self.TIMEOUT)
            self._version = " ".join(out.stdout.split()[:4])  # "eSpeak NG text-to-speech: 1.51"
        info.update(backend="espeak-ng", lang=self.lang, sample_rate=SAMPLE_RATE,
                    versions={"espeak-ng": self._version})
        return info

    def synthesize(self, texts: list[str], lang: str) -> list[Audio]:
        if not self.supports_language(lang):
            raise ModelConfigError(f"model {self.name} speaks {self.lang}, not {lang!r}")
        self.ensure_loaded()
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> Audio:
        import soundfile as sf
        import soxr

        if not text.strip():
            raise ValueError(f"{self.name}: nothing to speak in {text!r}")
        with tempfile.TemporaryDirectory(prefix="espeak-") as tmp:
            wav = Path(tmp) / "out.wav"
            # The text goes in on stdin (never parsed as options); -w gives a WAV with a correct header
            # (--stdout writes a streaming header whose length field is wrong).
            done = subprocess.run([self._binary, "-v", self.voice, "-s", str(self.rate), "-p", str(self.pitch),
                                   "-w", str(wav)], input=text.encode("utf-8"), capture_output=True,
                                  timeout=self.TIMEOUT)
            if done.returncode != 0 or not wav.is_file():
                raise RuntimeError(f"{self.name}: espeak-ng failed ({done.returncode}): "
                                   f"{done.stderr.decode('utf-8', 'replace').strip()}")
            data, sr = sf.read(str(wav), dtype="float32")
        if data.ndim > 1:
            data = data.mean(axis=1)
        if data.size == 0:
            raise ValueError(f"{self.name} produced no audio for {text!r}")
        samples = soxr.resample(data, sr, SAMPLE_RATE).astype(np.float32) if sr != SAMPLE_RATE else data
        return Audio(np.ascontiguousarray(samples), SAMPLE_RATE)
