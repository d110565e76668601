"""The codec folder the build writes and every consumer reads.

    codec.json      format, codes, rates, feature/mel/net configs, sha256 of the weight files, provenance
    centroids.npy   (codes, 512) float32 k-means centroids over standardized 25 Hz Whisper-base encoder features
    feature_norm.npy  (2, 512) float32 per-dimension mean and std that standardize the features first (absent
                    in codecs built before it: raw features)
    vocoder.pt      state_dict of models.codec.net.UnitMelNet (trained on one speaker, un-merged units)
    durations.pt    state_dict of models.codec.durations.DurationNet: frames per run of merged units (absent in
                    codecs built before it; codec.json ``durations`` holds its config, rounding and measured fit)

``codec.json`` names the sha256 of the other files, so hashing ``codec.json`` identifies the whole codec
(the CSLM speech-tokenizer cache uses exactly that hash). ``load_codec`` checks the hashes and fails fast.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.cache import sha256_file
from harness.model import ModelConfigError

FORMAT = "cslm-codec/1"
MANIFEST = "codec.json"
CENTROIDS = "centroids.npy"
FEATURE_NORM = "feature_norm.npy"
VOCODER = "vocoder.pt"
DURATIONS = "durations.pt"


def codec_dir(spec: str | Path) -> Path:
    """A codec folder, or its codec.json, -> the folder; a clear error when it is not one."""
    path = Path(spec).expanduser()
    folder = path.parent if path.name == MANIFEST else path
    if not (folder / MANIFEST).is_file():
        raise ModelConfigError(f"{spec}: not a codec folder (no {MANIFEST}); build one with "
                               f"`python -m training build-codec training/recipes/codec_tiny.yaml`")
    return folder


@dataclass
class CodecManifest:
    folder: Path
    data: dict[str, Any]

    @property
    def codes(self) -> int:
        return int(self.data["codes"])

    @property
    def sha256(self) -> str:
        return sha256_file(self.folder / MANIFEST)

    @property
    def has_durations(self) -> bool:
        """Built with a duration model (codecs built before it render merged units one frame per run)."""
        return DURATIONS in self.data.get("files", {}) and "durations" in self.data

    def load_durations(self, rounding: str | None = None):
        """The duration model (models.codec.durations.DurationModel), or None when the codec has none."""
        if not self.has_durations:
            return None
        from models.codec.durations import load_duration_model

        self.check(DURATIONS)
        spec = self.data["durations"]
        return load_duration_model(self.folder / DURATIONS, spec["net"], rounding or spec["rounding"])

    def check(self, *names: str) -> None:
        for name in names:
            path = self.folder / name
            want = self.data.get("files", {}).get(name)
            if not path.is_file() or want is None:
                raise ModelConfigError(f"codec {self.folder}: {name} is missing (an unfinished build? rerun it)")
            if sha256_file(path) != want:
                raise ModelConfigError(f"codec {self.folder}: {name} does not match the sha256 in {MANIFEST}")


def load_codec(spec: str | Path) -> CodecManifest:
    folder = codec_dir(spec)
    data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ModelConfigError(f"{folder / MANIFEST}: format {data.get('format')!r}, expected {FORMAT!r}")
    return CodecManifest(folder, data)


def write_manifest(folder: Path, data: dict[str, Any]) -> None:
    """Write codec.json with the sha256 of every weight file present; atomic rename."""
    files = {name: sha256_file(folder / name) for name in (CENTROIDS, FEATURE_NORM, VOCODER, DURATIONS)
             if (folder / name).is_file()}
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps({"format": FORMAT, **data, "files": files}, indent=2, sort_keys=True) + "\n",
                   encoding="utf-8")
    tmp.replace(folder / MANIFEST)


def nearest(features: np.ndarray, centroids: np.ndarray, norm: np.ndarray | None = None) -> np.ndarray:
    """Index of the nearest centroid (squared Euclidean) per row, after standardizing with ``norm`` (mean, std)
    when given; float64 so ties do not flip between runs."""
    x = features.astype(np.float64)
    if norm is not None:
        x = (x - norm[0]) / norm[1]
    c = centroids.astype(np.float64)
    dist = (c * c).sum(1)[None, :] - 2.0 * x @ c.T
    return dist.argmin(axis=1).astype(np.int64)


class CodecTokenizer:
    """16 kHz audio -> 25 Hz unit ids: each utterance alone in its padded 30 s Whisper window(s), nearest centroid."""

    def __init__(self, spec: str | Path, threads: int = 1):
        from models.codec.features import WhisperBaseFeatures

        self.manifest = load_codec(spec)
        self.manifest.check(CENTROIDS)
        self.centroids = np.load(self.manifest.folder / CENTROIDS)
        self.norm = None
        if FEATURE_NORM in self.manifest.data.get("files", {}):
            self.manifest.check(FEATURE_NORM)
            self.norm = np.load(self.manifest.folder / FEATURE_NORM)
        self.features = WhisperBaseFeatures(threads=threads)

    @property
    def codes(self) -> int:
        return self.manifest.codes

    def describe(self) -> dict[str, Any]:
        return {"id": "cslm-codec-kmeans", "folder": str(self.manifest.folder), "sha256": self.manifest.sha256,
                "codes": self.codes, "rate_hz": 25, "features": self.manifest.data.get("features"),
                "standardized": self.norm is not None,
                "tokenize": "each utterance alone, padded 30 s windows"}

    def tokenize(self, samples: np.ndarray) -> np.ndarray:
        return nearest(self.features.features(np.asarray(samples, dtype=np.float32)), self.centroids, self.norm)
