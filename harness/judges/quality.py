"""Speech-quality judges: MOS predictors and speaker similarity, one kind of cached, versioned judge stage.

A quality judge scores one waveform (and, for speaker similarity, a reference voice) with one or more metrics:

  dnsmos            Microsoft DNSMOS P.835 (SIG / BAK / OVRL) and P.808 MOS, ONNX weights in the speechmos wheel
  distillmos        DistillMOS (Stahl & Gamper 2025), a .pt inside the distillmos wheel
  utmos             UTMOS22 "strong learner" (SpeechMOS's state dict), from a local file/folder (path=)
  sim               speaker similarity: cosine of WavLM-base-plus-sv x-vectors (transformers WavLMForXVector)
  sim-resemblyzer   speaker similarity: cosine of Resemblyzer (GE2E) embeddings, weights inside its wheel
  sim-seed-tts-eval seed-tts-eval's SIM: WavLM-Large + ECAPA-TDNN (wavlm_large_finetune.pth, path=)

Names resolve through QUALITY_JUDGES (lazy strings: ``python -m harness list quality_judges`` imports no torch).
Each judge is constructed cheaply (options checked), ``check()``-ed at plan time (missing weights are a
configuration error naming the download, before any sample runs), loaded lazily, and describes itself
(package version, weight hash, device kind) for cache keys and provenance. harness.tasks.quality wires the
judges into tasks as stages.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.model import ModelConfigError
from harness.registry import Registry

QUALITY_JUDGES = Registry("quality_judge")
QUALITY_JUDGES.add_lazy("dnsmos", "harness.judges.dnsmos:DNSMOSJudge",
                        "DNSMOS P.835 SIG/BAK/OVRL + P.808 MOS (ONNX weights in the speechmos wheel; offline)")
QUALITY_JUDGES.add_lazy("distillmos", "harness.judges.distillmos:DistillMOSJudge",
                        "DistillMOS MOS predictor (weights in the distillmos wheel; offline)")
QUALITY_JUDGES.add_lazy("utmos", "harness.judges.utmos:UTMOSJudge",
                        "UTMOS22 strong (naturalness MOS): path=utmos22_strong_step7459_v1.pt or its folder")
QUALITY_JUDGES.add_lazy("sim", "harness.judges.speaker_sim:WavLMSimilarity",
                        "speaker similarity, WavLM-base-plus-sv x-vectors: path=DIR or the Hub's cache")
QUALITY_JUDGES.add_lazy("sim-resemblyzer", "harness.judges.speaker_sim:ResemblyzerSimilarity",
                        "speaker similarity, Resemblyzer GE2E embeddings (weights in its wheel; offline)")
QUALITY_JUDGES.add_lazy("sim-seed-tts-eval", "harness.judges.seed_tts_sim:SeedTTSEvalSimilarity",
                        "seed-tts-eval's SIM (WavLM-Large SV + ECAPA-TDNN): path=wavlm_large_finetune.pth")


@dataclass(frozen=True)
class QualityMetric:
    name: str                  # metric row name (dnsmos_ovrl, utmos, sim_wavlm, ...)
    scale: tuple[float, float]  # the predictor's range; a system failure scores ``worst``
    worst: float               # the value a system failure (no/silent speech) scores
    headline: bool = True      # shown in the leaderboard table (others stay in the CSV and results.json)
    unit: str = "MOS 1-5"      # how to read the value


class QualityJudge:
    """Base of the quality judges. Subclasses set ``metrics``, ``sample_rate`` and implement ``_load`` and
    ``_score``; ``needs_reference`` judges compare the output with a reference voice."""

    metrics: ClassVar[tuple[QualityMetric, ...]] = ()
    sample_rate: ClassVar[int] = 16000       # what _score receives (the harness resamples)
    needs_reference: ClassVar[bool] = False
    package: ClassVar[str | None] = None     # the distribution whose version is recorded
    options_accepted: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, device: str = "auto", **options: Any):
        unknown = sorted(set(options) - set(self.options_accepted))
        if unknown:
            raise ModelConfigError(f"quality judge {name}: unknown option(s) {', '.join(unknown)}; accepted: "
                                   f"{', '.join(sorted(set(self.options_accepted) | {'device'})) or 'device'}")
        from harness.devices import resolve_device

        try:
            self.device = resolve_device(device)
        except ValueError as exc:
            raise ModelConfigError(f"quality judge {name}: {exc}") from None
        self.name, self.options = name, options
        self._model: Any = None

    # -- lifecycle --------------------------------------------------------------------------------
    def check(self) -> None:
        """Plan time: are the weights where this judge looks? Raise ModelConfigError naming the download."""

    def weights(self) -> list[Path]:
        """The weight files whose content hash identifies this judge."""
        return []

    def ensure_loaded(self) -> None:
        if self._model is None:
            self.check()
            self._model = self._load()

    def _load(self) -> Any:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Identity for cache keys and provenance: package version and weight hash; only the device KIND (ranks
        of a data-parallel run share cache keys)."""
        files = self.weights()
        return {"id": self.name, "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "package": self.package, "version": package_version(self.package) if self.package else None,
                "weights": [f.name for f in files],
                "weights_sha256": weights_sha256(files) if files else None,
                "metrics": [m.name for m in self.metrics], "sample_rate": self.sample_rate,
                "device": self.device.split(":")[0], **self._identity()}

    def _identity(self) -> dict[str, Any]:
        """Options that change scores (recorded and hashed)."""
        return {}

    def score(self, samples: np.ndarray, reference: np.ndarray | None = None) -> dict[str, float]:
        """Metric name -> value for one waveform at ``sample_rate`` (float32 mono)."""
        self.ensure_loaded()
        if self.needs_reference and reference is None:
            raise ValueError(f"{self.name} needs a reference voice")
        out = self._score(np.ascontiguousarray(samples, dtype=np.float32),
                          None if reference is None else np.ascontiguousarray(reference, dtype=np.float32))
        bad = {k: v for k, v in out.items() if not np.isfinite(v)}
        if bad:
            raise FloatingPointError(f"{self.name} gave non-finite scores {bad}")
        return {k: float(v) for k, v in out.items()}

    def _score(self, samples: np.ndarray, reference: np.ndarray | None) -> dict[str, float]:
        raise NotImplementedError


def build_quality_judge(name: str, args: dict[str, Any]) -> QualityJudge:
    """Construct (not load) a judge by registered name; an unknown name lists the known ones."""
    from harness.registry import UnknownNameError

    try:
        factory = QUALITY_JUDGES.get(name)
    except UnknownNameError as exc:
        raise ModelConfigError(str(exc)) from None
    try:
        return factory(name=name, **args)
    except TypeError as exc:
        raise ModelConfigError(f"quality judge {name}: bad option(s) {sorted(args)}: {exc}") from None


_HASHES: dict[tuple, str] = {}  # memo per (path, size, mtime): describe() is called per stage and per report


def weights_sha256(files: list[Path]) -> str:
    """sha256 of the weight files read as one stream (quality-judge weights are small: at most a few hundred MB)."""
    stats = tuple((str(Path(f).resolve()), os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files)
    if stats not in _HASHES:
        digest = hashlib.sha256()
        for f in files:
            with open(f, "rb") as fh:
                for block in iter(lambda fh=fh: fh.read(8 << 20), b""):
                    digest.update(block)
        _HASHES[stats] = f"sha256:{digest.hexdigest()}"
    return _HASHES[stats]


def package_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def int_option(judge: str, key: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ModelConfigError(f"quality judge {judge}: option {key}={value!r} is not an integer") from None


def hub_offline() -> bool:
    """The Hub's own switch: with it set, judges only look in the local cache."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
