"""DNSMOS (Reddy et al., ICASSP 2022): Microsoft's non-intrusive MOS predictors, as the speechmos wheel ships them.

What speechmos 0.0.1.1 does (speechmos/dnsmos.py, read in site-packages), and so what this judge does:
- input: 16 kHz mono float in [-1, 1] (``speechmos.dnsmos.run`` refuses any other rate);
- the clip is repeated until it lasts at least 9.01 s, then cut into 9.01 s windows every 1 s;
- P.835: ``dnsmos_models/sig_bak_ovr.onnx`` on the raw window -> SIG, BAK, OVRL, each mapped through the
  published polynomial fits (non-personalized); P.808: ``model_v8.onnx`` on a 120-band log-mel of the window;
- each figure is the mean over windows.
The ONNX sessions are built here with a bounded thread count (speechmos's own use every core) and, on a GPU
rank, the CUDA execution provider when onnxruntime has one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.judges.quality import QualityJudge, QualityMetric, int_option
from harness.model import ModelConfigError


def _package_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("speechmos")
    if spec is None or not spec.submodule_search_locations:
        raise ModelConfigError("quality judge dnsmos: the speechmos package is not installed "
                               "(pip install speechmos; scripts/setup.sh installs it with the 'quality' extra)")
    return Path(list(spec.submodule_search_locations)[0])


class DNSMOSJudge(QualityJudge):
    metrics: ClassVar = (QualityMetric("dnsmos_ovrl", (1.0, 5.0), 1.0),
                         QualityMetric("dnsmos_p808", (1.0, 5.0), 1.0),
                         QualityMetric("dnsmos_sig", (1.0, 5.0), 1.0, headline=False),
                         QualityMetric("dnsmos_bak", (1.0, 5.0), 1.0, headline=False))
    sample_rate: ClassVar[int] = 16000
    package: ClassVar[str] = "speechmos"
    options_accepted: ClassVar[tuple[str, ...]] = ("threads",)

    def __init__(self, name: str, device: str = "auto", threads: Any = 1, **options: Any):
        super().__init__(name, device, **options)
        self.threads = int_option(name, "threads", threads)

    def weights(self) -> list[Path]:
        folder = _package_dir() / "dnsmos_models"
        return [folder / "sig_bak_ovr.onnx", folder / "model_v8.onnx"]

    def check(self) -> None:
        missing = [str(p) for p in self.weights() if not p.is_file()]
        if missing:
            raise ModelConfigError(f"quality judge dnsmos: {', '.join(missing)} missing; reinstall speechmos")

    def _identity(self) -> dict[str, Any]:
        return {"personalized": False, "window_seconds": 9.01, "hop_seconds": 1.0}

    def _load(self) -> Any:
        import onnxruntime as ort
        from speechmos.dnsmos import DNSMOS

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = self.threads
        providers = ["CPUExecutionProvider"]
        if self.device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": int(self.device.partition(":")[2] or 0)}))
        primary, p808 = self.weights()
        model = DNSMOS.__new__(DNSMOS)  # its __init__ builds sessions on every core; same attributes, our options
        model.primary_model_path = str(primary)
        model.onnx_sess = ort.InferenceSession(str(primary), opts, providers=providers)
        model.p808_onnx_sess = ort.InferenceSession(str(p808), opts, providers=providers)
        return model

    def _score(self, samples: np.ndarray, reference: np.ndarray | None) -> dict[str, float]:
        # speechmos refuses values outside [-1, 1]; resampling can overshoot full-scale audio by a hair.
        out = self._model(np.clip(samples, -1.0, 1.0), self.sample_rate, False)
        return {"dnsmos_ovrl": out["ovrl_mos"], "dnsmos_p808": out["p808_mos"], "dnsmos_sig": out["sig_mos"],
                "dnsmos_bak": out["bak_mos"]}
