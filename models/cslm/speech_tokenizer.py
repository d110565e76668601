"""Speech tokenizer stage: 16 kHz audio -> CosyVoice v1 speech units, on onnxruntime, cached per audio.

The call mirrors CosyVoice's frontend (cosyvoice/cli/frontend.py ``_extract_speech_token``): whisper's
``log_mel_spectrogram(audio, n_mels=128)`` on a (1, N) array gives feats (1, 128, T); the session gets them
as its first input and ``[T]`` (int32) as its second; its first output, flattened, is the unit sequence
(25 per second for the 25 Hz model).

Inputs over 30 s (CosyVoice asserts on them) follow ``long_audio``: ``error`` (default, CosyVoice's rule)
or ``chunk`` -- consecutive 30 s windows tokenized separately and concatenated (units near a cut see less
context; stated in describe()).

A codec folder built by ``python -m training build-codec`` (models/codec: Whisper-base features + k-means,
25 Hz) is the other backend: ``speech_tokenizer=DIR`` (or ``DIR/codec.json``); its hash is the sha256 of
codec.json, which names the sha256 of its centroids.

Cache: one ``.npy`` per (tokenizer model sha256, policy, audio sha256) under ``cache_dir``, written to a
temporary name and renamed, so concurrent ranks never read half a file and a duplicate write is harmless.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from harness.cache import sha256_file
from harness.errors import CodedError
from harness.model import ModelConfigError

SAMPLE_RATE = 16000
MAX_SECONDS = 30.0
LONG_AUDIO_POLICIES = ("error", "chunk")


class SpeechTokenizerError(CodedError, ValueError):
    """Audio the speech tokenizer cannot turn into units (e.g. over 30 s under the "error" policy)."""


def default_cache_dir() -> Path:
    root = os.environ.get("CSLM_HARNESS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cslm-harness")
    return Path(root) / "speech-units"


def codec_manifest(path: str | Path) -> Path | None:
    """codec.json of a codec folder given as the folder or the file itself; None for anything else."""
    path = Path(path)
    manifest = path / "codec.json" if path.is_dir() else path
    return manifest if manifest.name == "codec.json" and manifest.is_file() else None


def file_sha256(path: str | Path) -> str:
    """sha256 of a file; of a codec folder, the sha256 of its codec.json (which hashes the weights)."""
    return sha256_file(codec_manifest(path) or path)


class SpeechTokenizer:
    def __init__(self, model_path: str | Path, long_audio: str = "error", cache_dir: str | Path | None = None,
                 providers: list[str] | None = None, threads: int | None = None):
        if long_audio not in LONG_AUDIO_POLICIES:
            raise ModelConfigError(f"long_audio={long_audio!r}: choose {' or '.join(LONG_AUDIO_POLICIES)}")
        self.model_path = Path(model_path)
        self.codec = codec_manifest(self.model_path)  # a codec folder instead of CosyVoice's ONNX model
        if self.codec is None and not self.model_path.is_file():
            raise ModelConfigError(f"speech tokenizer {self.model_path} does not exist (CosyVoice's "
                                   f"speech_tokenizer_v1.onnx; set --model-arg speech_tokenizer=PATH)")
        self.long_audio = long_audio
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.providers, self.threads = providers, threads
        self.sha256 = file_sha256(self.model_path)
        self._session = None
        self.stats = {"onnx_runs": 0, "cache_hits": 0, "cache_misses": 0}  # counted by the real code path

    def describe(self) -> dict[str, Any]:
        if self.codec is not None:
            return {**self._load().describe(), "sha256": self.sha256, "long_audio": self.long_audio,
                    "max_seconds": MAX_SECONDS}
        return {"id": "cosyvoice-v1-onnx", "path": str(self.model_path), "sha256": self.sha256,
                "features": "whisper log_mel_spectrogram n_mels=128", "long_audio": self.long_audio,
                "max_seconds": MAX_SECONDS}

    def _load(self):
        if self._session is None and self.codec is not None:
            from models.codec.bundle import CodecTokenizer

            self._session = CodecTokenizer(self.codec.parent, threads=self.threads or 1)
        if self._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if self.threads:
                opts.intra_op_num_threads = self.threads
            providers = self.providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                                           if p in ort.get_available_providers()]
            self._session = ort.InferenceSession(str(self.model_path), sess_options=opts, providers=providers)
        return self._session

    def _run(self, samples: np.ndarray) -> np.ndarray:
        if self.codec is not None:
            self.stats["onnx_runs"] += 1  # one tokenizer run (the codec's encoder, not ONNX)
            return self._load().tokenize(samples)
        import torch
        import whisper

        session = self._load()
        feats = whisper.log_mel_spectrogram(torch.from_numpy(samples[None, :]), n_mels=128).numpy()
        inputs = session.get_inputs()
        self.stats["onnx_runs"] += 1
        out = session.run(None, {inputs[0].name: feats, inputs[1].name: np.array([feats.shape[2]], dtype=np.int32)})
        return np.asarray(out[0]).reshape(-1).astype(np.int64)

    def _key(self, samples: np.ndarray) -> str:
        audio = hashlib.sha256(np.ascontiguousarray(samples, dtype=np.float32).tobytes()).hexdigest()
        return f"{self.long_audio}-{audio}"

    def tokenize(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """Unit ids (int64, not merged) for one mono float32 waveform at 16 kHz."""
        if sample_rate != SAMPLE_RATE:
            raise SpeechTokenizerError("sample_rate", f"speech tokenizer needs {SAMPLE_RATE} Hz audio, got {sample_rate}")
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        seconds = len(samples) / SAMPLE_RATE
        if seconds > MAX_SECONDS and self.long_audio == "error":
            raise SpeechTokenizerError("too_long", f"{seconds:.1f} s of audio: the CosyVoice v1 tokenizer takes at "
                                                   f"most {MAX_SECONDS:g} s (--model-arg long_audio=chunk splits it)")
        path = None
        if self.cache_dir is not None:
            key = self._key(samples)
            path = self.cache_dir / self.sha256[:16] / key[-64:][:2] / f"{key}.npy"
            if path.is_file():
                try:
                    units = np.load(path)
                    self.stats["cache_hits"] += 1
                    return units
                except (OSError, ValueError):
                    pass  # unreadable entry: recompute and overwrite
            self.stats["cache_misses"] += 1
        window = int(MAX_SECONDS * SAMPLE_RATE)
        pieces = [self._run(samples[i:i + window]) for i in range(0, max(len(samples), 1), window)]
        units = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
            np.save(tmp, units)
            tmp.replace(path)
        return units
