"""DistillMOS (Stahl & Gamper, ICASSP 2025): a small CNN + transformer MOS predictor distilled from XLS-R SQA.

What distillmos 0.9.1 does (distillmos/sqa.py, read in site-packages), and so what this judge does:
- input: 16 kHz mono (its CLI resamples anything else to 16 kHz); shape (batch, samples);
- the clip is zero-padded to 122880 samples (7.68 s) or, when longer, cut into 7.68 s crops spread evenly with
  hops of at most 1 s, and the crops' scores are averaged;
- each crop is peak-normalized, so the score ignores level;
- weights: ``distillmos/weights/distill_mos_v7.pt`` (``{"model": state_dict}``), loaded here with
  ``weights_only=True`` into ``ConvTransformerSQAModel(load_weights=False)``; output 1 + 4 * sigmoid-like
  quality, range 1-5.
``distillmos.sqa`` imports torchaudio at module level for its command-line file reader only; torchaudio has no
build for this project's torch (2.13), so when it cannot be imported the module is imported with an empty
stand-in, removed again right after (nothing else sees it).
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.judges.quality import QualityJudge, QualityMetric
from harness.model import ModelConfigError


def _import_sqa():
    try:
        return importlib.import_module("distillmos.sqa")
    except (ImportError, OSError) as exc:
        if "torchaudio" not in str(exc) and not _torchaudio_broken():
            raise
    for key in [k for k in sys.modules if k == "torchaudio" or k.startswith("torchaudio.")]:
        del sys.modules[key]  # a half-imported, unloadable torchaudio
    stand_in = types.ModuleType("torchaudio")
    stand_in.__doc__ = "stand-in: distillmos imports torchaudio for its CLI only"
    sys.modules["torchaudio"] = stand_in
    try:
        return importlib.import_module("distillmos.sqa")
    finally:
        if sys.modules.get("torchaudio") is stand_in:
            del sys.modules["torchaudio"]


def _torchaudio_broken() -> bool:
    try:
        import torchaudio  # noqa: F401
    except (ImportError, OSError):
        return True
    return False


class DistillMOSJudge(QualityJudge):
    metrics: ClassVar = (QualityMetric("distillmos", (1.0, 5.0), 1.0),)
    sample_rate: ClassVar[int] = 16000
    package: ClassVar[str] = "distillmos"
    options_accepted: ClassVar[tuple[str, ...]] = ("path",)

    def __init__(self, name: str, device: str = "auto", path: str | None = None, **options: Any):
        super().__init__(name, device, **options)
        self.path = path

    def weights(self) -> list[Path]:
        if self.path:
            return [Path(self.path)]
        spec = importlib.util.find_spec("distillmos")
        if spec is None or not spec.submodule_search_locations:
            raise ModelConfigError("quality judge distillmos: the distillmos package is not installed (scripts/"
                                   "setup.sh installs it: pip install --no-deps distillmos xls-r-sqa)")
        return [Path(list(spec.submodule_search_locations)[0]) / "weights" / "distill_mos_v7.pt"]

    def check(self) -> None:
        weights = self.weights()[0]
        if not weights.is_file():
            raise ModelConfigError(f"quality judge distillmos: weights {weights} not found (reinstall distillmos "
                                   f"or pass path=distill_mos_v7.pt)")

    def _load(self) -> Any:
        import torch

        sqa = _import_sqa()
        model = sqa.ConvTransformerSQAModel(load_weights=False)
        state = torch.load(self.weights()[0], map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"] if "model" in state else state)
        return model.eval().to(self.device)

    def _score(self, samples: np.ndarray, reference: np.ndarray | None) -> dict[str, float]:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(samples)[None].to(self.device)
            return {"distillmos": float(self._model(x).reshape(-1)[0])}
