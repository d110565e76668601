"""Unit vocoder stage: speech units -> waveform, behind one small interface.

- ``cosyvoice[:MODEL_DIR]``: CosyVoice v1 flow matching (units -> mel) + HiFT (mel -> 22.05 kHz), the
  released decoder. Needs CosyVoice's code (not on PyPI: clone FunAudioLLM/CosyVoice and put it and its
  third_party/Matcha-TTS on PYTHONPATH) and its dependencies (``pip install 'cslm-harness[cosyvoice]'``).
- ``external:DIR``: another tool renders the audio. Units go to ``DIR/requests/<key>.units`` (one file per
  sequence, rewritten not appended); the sample fails with code ``vocoder_pending`` until ``DIR/<key>.wav``
  exists, after which ``--retry-failed`` picks it up. ``key`` = first 16 hex of sha256 of the unit string.
- ``codec:DIR``: the codec vocoder of a folder built by ``python -m training build-codec`` (models/codec:
  un-merged 25 Hz units -> log mel -> Griffin-Lim, 16 kHz; renders whole or chunk by chunk; merged units are
  expanded by the codec's duration model first).
- ``unit-sine``: a deterministic TEST/DIAGNOSTIC vocoder -- each unit is a 40 ms tone (25 Hz frame rate)
  whose pitch encodes the unit id. It exercises the pipeline offline; it does not render speech.

CSLM emits run-merged units; the adapter renders them with ``render_merged``: the codec vocoder predicts each
run's frames with its duration model (``durations="none"`` turns that off), the others render one frame per
run (the release ships no duration model), and ``merged_rendering()`` records which. Known run lengths
(``runs``) expand the sequence first in every vocoder. The interface (UnitVocoder) is models.unit_vocoder's:
this module imports models.codec, never the other way round.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from harness.audio import Audio, read_audio
from harness.model import ModelConfigError
from models.unit_vocoder import UnitVocoder, expand_runs

COSYVOICE_25HZ = "FunAudioLLM/CosyVoice-300M-25Hz"  # Hub id of the tokenizer/decoder CSLM was built on


class VocoderPending(RuntimeError):
    code = "vocoder_pending"


def units_key(units) -> str:
    return hashlib.sha256(" ".join(map(str, units)).encode()).hexdigest()[:16]


class UnitSineVocoder(UnitVocoder):
    """Test/diagnostic only: a 40 ms tone per unit, 100 Hz + 1 Hz x (unit mod 4096) at amplitude 0.3."""
    name = "unit-sine"

    def __init__(self, sample_rate: int = 16000, frame_rate: float = 25.0):
        self.sample_rate, self.frame_rate = sample_rate, frame_rate

    def describe(self):
        return {"id": self.name, "sample_rate": self.sample_rate, "frame_rate": self.frame_rate,
                "note": "diagnostic tones, not speech"}

    def render(self, units, runs=None):
        seq = np.asarray(expand_runs(units, runs) if runs is not None else units, dtype=np.float64)
        hop = round(self.sample_rate / self.frame_rate)
        t = np.arange(hop) / self.sample_rate
        freqs = 100.0 + (seq % 4096)
        tones = 0.3 * np.sin(2 * np.pi * freqs[:, None] * t[None, :])
        return Audio(tones.reshape(-1).astype(np.float32), self.sample_rate)


class ExternalVocoder(UnitVocoder):
    name = "external"

    def __init__(self, directory: str, sample_rate: int | None = None):
        self.dir = Path(directory)
        self.sample_rate = sample_rate or 0  # whatever the external tool wrote

    def load(self):
        (self.dir / "requests").mkdir(parents=True, exist_ok=True)

    def describe(self):
        return {"id": self.name, "dir": str(self.dir)}

    def render(self, units, runs=None):
        key = units_key(units)
        wav = self.dir / f"{key}.wav"
        if wav.is_file():
            return read_audio(wav)
        request = self.dir / "requests" / f"{key}.units"
        tmp = request.with_suffix(".tmp")
        tmp.write_text(" ".join(map(str, units)) + "\n" + (" ".join(map(str, runs)) + "\n" if runs else ""))
        tmp.replace(request)
        raise VocoderPending(f"units written to {request}; render them to {wav} and rerun with --retry-failed")


class CosyVoiceVocoder(UnitVocoder):
    """CosyVoice v1 flow matching + HiFT; speaker from ``speaker`` (spk2info id) or ``prompt_wav`` (zero-shot)."""
    name = "cosyvoice"
    sample_rate = 22050

    def __init__(self, model_dir: str | None = None, speaker: str | None = None, prompt_wav: str | None = None):
        self.model_dir, self.speaker, self.prompt_wav = model_dir or COSYVOICE_25HZ, speaker, prompt_wav
        self._cosy = self._speaker_inputs = None

    def describe(self):
        return {"id": self.name, "model": self.model_dir, "speaker": self.speaker, "prompt_wav": self.prompt_wav,
                "sample_rate": self.sample_rate}

    def load(self):
        try:
            from cosyvoice.cli.cosyvoice import CosyVoice
        except ImportError as exc:
            raise ModelConfigError(
                f"vocoder=cosyvoice needs CosyVoice's code ({exc}): pip install 'cslm-harness[cosyvoice]', clone "
                f"github.com/FunAudioLLM/CosyVoice and add it and its third_party/Matcha-TTS to PYTHONPATH; or "
                f"use --model-arg vocoder=external:DIR to vocode with another tool") from None
        model_dir = self.model_dir
        if not Path(model_dir).is_dir():  # a Hugging Face id (CosyVoice itself would ask ModelScope)
            from huggingface_hub import snapshot_download

            try:
                model_dir = snapshot_download(model_dir)
            except Exception as exc:  # noqa: BLE001 -- any Hub failure gets the same how-to
                raise ModelConfigError(f"cannot get the CosyVoice model {model_dir} ({type(exc).__name__}); "
                                       f"download it and pass --model-arg vocoder=cosyvoice:DIR") from None
        self._cosy = CosyVoice(model_dir)
        self.sample_rate = int(self._cosy.sample_rate)
        frontend = self._cosy.frontend
        if self.prompt_wav:  # zero-shot speaker: prompt tokens, prompt mel and x-vector from one wav
            info = frontend.frontend_zero_shot("", "", self.prompt_wav, self.sample_rate, "")
        else:
            speakers = sorted(frontend.spk2info)
            if not speakers:
                raise ModelConfigError(f"{self.model_dir} has no built-in speakers; set --model-arg "
                                       f"vocoder_prompt_wav=WAV (a short clip of the target voice)")
            info = frontend.spk2info[self.speaker or speakers[0]]
        inputs = {k: info[k] for k in ("flow_embedding", "flow_prompt_speech_token", "prompt_speech_feat")
                  if k in info}
        if "flow_embedding" not in inputs and "embedding" in info:  # built-in (SFT) speakers keep an x-vector only
            inputs["flow_embedding"] = info["embedding"]
        self._speaker_inputs = inputs

    def render(self, units, runs=None):
        import torch

        seq = expand_runs(units, runs) if runs is not None else list(units)
        tokens = torch.tensor([seq], dtype=torch.int32)
        # source_speech_token routes CosyVoice's tts() through its token->wav path (as its voice conversion does).
        chunks = [out["tts_speech"] for out in self._cosy.model.tts(source_speech_token=tokens, stream=False,
                                                                    **self._speaker_inputs)]
        return Audio(torch.cat(chunks, dim=1).reshape(-1).numpy().astype(np.float32), self.sample_rate)


def make_vocoder(spec: str | None, speaker: str | None = None, prompt_wav: str | None = None,
                 durations: str = "predicted") -> UnitVocoder | None:
    """``none`` | ``unit-sine`` | ``cosyvoice[:MODEL_DIR]`` | ``external:DIR`` | ``codec:DIR``. ``durations``
    (``predicted`` | ``none``): how a vocoder with a duration model renders merged units."""
    if not spec or spec == "none":
        return None
    kind, _, arg = spec.partition(":")
    if kind == "unit-sine":
        return UnitSineVocoder()
    if kind == "cosyvoice":
        return CosyVoiceVocoder(arg or None, speaker, prompt_wav)
    if kind == "external":
        if not arg:
            raise ModelConfigError("vocoder=external needs a folder: vocoder=external:DIR")
        return ExternalVocoder(arg)
    if kind == "codec":
        from models.codec.vocoder import CodecVocoder

        return CodecVocoder(arg, durations=durations)
    raise ModelConfigError(f"vocoder={spec!r}: choose none, unit-sine, cosyvoice[:MODEL_DIR], external:DIR or codec:DIR")
