"""Semantic features: 16 kHz audio -> Whisper base encoder states -> 25 Hz vectors, one utterance at a time.

The bundled multilingual Whisper base (CTranslate2, ``models.bundled``) encodes log-mel frames (100 Hz) into
states at 50 Hz; the mean of each pair gives 25 Hz (one vector per 640 samples). Each utterance is encoded
ALONE and UNPADDED (zero-padded only to a whole number of 640-sample units), everywhere: training, k-means and
inference use the same kind of states.

Why not padded 30 s windows with several utterances packed in each (measured here, codec_tiny, 64 codes):
an utterance's units agreed with its units tokenized alone in only 30 % of positions (the encoder attends
globally and its states depend on the position in the window), so units learned from packed windows do not
match the units seen at inference; padding each utterance alone costs about 2.5 s per utterance on one
thread, while unpadded encoding of a 4 s utterance takes about 0.1 s (RTF about 0.03).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
UNIT_SAMPLES = 640                      # 25 Hz: two encoder states of 320 samples each
MAX_SAMPLES = 30 * SAMPLE_RATE          # Whisper's longest input; longer audio goes window by window


def units_for(n_samples: int) -> int:
    """Number of 25 Hz units of an utterance of ``n_samples`` (the last partial unit counts)."""
    return max(1, -(-n_samples // UNIT_SAMPLES))


def whisper_base_dir() -> Path:
    """The joined CTranslate2 folder of the bundled Whisper base (joined once by models.bundled)."""
    from models.bundled import bundled_base

    return bundled_base("whisper-base-bundled")._prepare()


class WhisperBaseFeatures:
    """25 Hz encoder features of the bundled Whisper base; deterministic on one machine (int8, CPU)."""

    def __init__(self, model_dir: str | Path | None = None, threads: int = 1, compute_type: str = "int8"):
        self.model_dir = Path(model_dir) if model_dir else whisper_base_dir()
        self.threads, self.compute_type = threads, compute_type
        self._model = self._extractor = None

    def describe(self) -> dict:
        digest = hashlib.sha256()
        with open(self.model_dir / "model.bin", "rb") as fh:
            digest.update(fh.read(1 << 22))  # first 4 MB + size: cheap and content-dependent
        digest.update(str((self.model_dir / "model.bin").stat().st_size).encode())
        return {"encoder": "whisper-base-bundled (CTranslate2)", "compute_type": self.compute_type,
                "weights_head_sha256": digest.hexdigest()[:16], "input": "one utterance, unpadded",
                "rate_hz": 25, "pooling": "mean of state pairs"}

    def _load(self):
        if self._model is None:
            import ctranslate2
            from faster_whisper.feature_extractor import FeatureExtractor

            self._model = ctranslate2.models.Whisper(str(self.model_dir), device="cpu", compute_type=self.compute_type,
                                                     intra_threads=self.threads, inter_threads=1)
            self._extractor = FeatureExtractor(feature_size=80)
        return self._model

    def _encode(self, samples: np.ndarray) -> np.ndarray:
        import ctranslate2

        model = self._load()
        n_units = units_for(len(samples))
        padded = np.zeros(n_units * UNIT_SAMPLES, dtype=np.float32)
        padded[:len(samples)] = samples
        mel = self._extractor(padded, padding=0).astype(np.float32)[:, :4 * n_units]  # 4 frames per unit
        states = np.array(model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None])),
                                       to_cpu=True))[0]
        return states[:2 * n_units].reshape(n_units, 2, -1).mean(axis=1)

    def features(self, samples: np.ndarray) -> np.ndarray:
        """(units_for(len(samples)), 512) float32; audio over 30 s is encoded 30 s at a time."""
        samples = np.asarray(samples, dtype=np.float32)
        if len(samples) == 0:
            raise ValueError("no audio to tokenize")
        return np.concatenate([self._encode(samples[i:i + MAX_SAMPLES]) for i in range(0, len(samples), MAX_SAMPLES)])
