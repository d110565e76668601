"""Speaker similarity: the cosine between speaker embeddings of the system's speech and a reference voice.

- ``sim``: WavLM-base-plus-sv x-vectors through transformers (``WavLMForXVector``, ``microsoft/wavlm-base-plus-sv``)
  as its model card computes them: its Wav2Vec2FeatureExtractor (16 kHz), ``model(**inputs).embeddings``,
  L2-normalized, cosine. From ``path=DIR`` (a save_pretrained folder with preprocessor_config.json) or
  ``model=HUB_ID`` from the Hub's local cache (downloaded at plan time when the Hub is reachable and
  HF_HUB_OFFLINE is unset). No remote code.
- ``sim-resemblyzer``: Resemblyzer's GE2E voice encoder (3-layer LSTM over 40-band mels, 256-d ReLU + L2-normed
  embedding), weights ``resemblyzer/pretrained.pt`` inside its wheel: ``preprocess_wav`` (volume to -30 dBFS,
  long silences trimmed by webrtcvad) then ``embed_utterance`` (1.6 s partials averaged). It installs offline.
The reference voice comes from harness.tasks.quality (TTS: the manifest's ``reference_audio`` or the judge's
``reference_audio=`` option; S2S: the option, else the question audio). The similarity's failure value is 0.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.judges.quality import QualityJudge, QualityMetric, hub_offline
from harness.model import ModelConfigError

WAVLM_SV = "microsoft/wavlm-base-plus-sv"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
SIM_SCALE = (-1.0, 1.0)


class _Similarity(QualityJudge):
    needs_reference: ClassVar[bool] = True

    def __init__(self, name: str, device: str = "auto", reference_audio: str | None = None, **options: Any):
        super().__init__(name, device, **options)
        self.reference_audio = reference_audio  # a fixed reference voice for every sample (else per sample)
        self._ref_cache: dict[str, np.ndarray] = {}

    def _identity(self) -> dict[str, Any]:
        if not self.reference_audio:
            return {"reference": "per sample"}
        path = Path(self.reference_audio)
        if not path.is_file():
            raise ModelConfigError(f"quality judge {self.name}: reference_audio={path} does not exist")
        return {"reference": path.name, "reference_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}

    def check(self) -> None:
        self._identity()

    def _embed(self, samples: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score(self, samples: np.ndarray, reference: np.ndarray | None) -> dict[str, float]:
        key = hashlib.sha256(reference.tobytes()).hexdigest()
        if key not in self._ref_cache:
            self._ref_cache = {key: self._embed(reference)}  # references repeat (one voice per run, often)
        a, b = self._embed(samples), self._ref_cache[key]
        return {self.metrics[0].name: float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))}


class WavLMSimilarity(_Similarity):
    metrics: ClassVar = (QualityMetric("sim_wavlm", SIM_SCALE, 0.0, unit="cosine"),)
    package: ClassVar[str] = "transformers"
    options_accepted: ClassVar[tuple[str, ...]] = ("path", "model", "reference_audio")

    def __init__(self, name: str, device: str = "auto", path: str | None = None, model: str = WAVLM_SV,
                 **options: Any):
        super().__init__(name, device, **options)
        self.path, self.model_id = path, model
        self._folder: Path | None = None

    def folder(self) -> Path:
        if self._folder is None:
            self._folder = self._locate()
        return self._folder

    def _locate(self) -> Path:
        if self.path:
            folder = Path(self.path).expanduser()
            if not (folder / "config.json").is_file():
                raise ModelConfigError(f"quality judge {self.name}: path={folder} has no config.json (expected a "
                                       f"WavLMForXVector save_pretrained folder, e.g. {WAVLM_SV})")
            return folder
        from huggingface_hub import snapshot_download

        patterns = ["config.json", "preprocessor_config.json", *WEIGHT_FILES]
        try:
            return Path(snapshot_download(self.model_id, allow_patterns=patterns, local_files_only=True))
        except Exception:  # not in the local cache
            pass
        if not hub_offline():
            try:
                return Path(snapshot_download(self.model_id, allow_patterns=patterns))
            except Exception as exc:
                reason = f"the Hub download failed ({type(exc).__name__})"
        else:
            reason = "HF_HUB_OFFLINE is set"
        raise ModelConfigError(f"quality judge {self.name}: {self.model_id} is not in the Hugging Face cache and "
                               f"{reason}. Download it on a connected machine (huggingface-cli download "
                               f"{self.model_id}) and copy the cache, or pass --quality-judge {self.name}:path=DIR")

    def weights(self) -> list[Path]:
        folder = self.folder()
        found = [folder / f for f in WEIGHT_FILES if (folder / f).is_file()]
        if not found:
            raise ModelConfigError(f"quality judge {self.name}: no {' or '.join(WEIGHT_FILES)} in {folder}")
        return found[:1]

    def check(self) -> None:
        super().check()
        self.weights()
        if not (self.folder() / "preprocessor_config.json").is_file():
            raise ModelConfigError(f"quality judge {self.name}: {self.folder()} has no preprocessor_config.json "
                                   f"(save the Wav2Vec2FeatureExtractor with the model)")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model": self.model_id if not self.path else "local folder"}

    def _load(self) -> Any:
        from transformers import Wav2Vec2FeatureExtractor, WavLMForXVector

        folder = self.folder()
        extractor = Wav2Vec2FeatureExtractor.from_pretrained(folder)
        if extractor.sampling_rate != self.sample_rate:
            raise ModelConfigError(f"{folder}: feature extractor at {extractor.sampling_rate} Hz; expected 16000")
        return extractor, WavLMForXVector.from_pretrained(folder).eval().to(self.device)

    def _embed(self, samples: np.ndarray) -> np.ndarray:
        import torch

        extractor, model = self._model
        inputs = extractor(samples, sampling_rate=self.sample_rate, return_tensors="pt")
        with torch.inference_mode():
            emb = model(**{k: v.to(self.device) for k, v in inputs.items()}).embeddings[0]
        return torch.nn.functional.normalize(emb, dim=-1).float().cpu().numpy()


class ResemblyzerSimilarity(_Similarity):
    metrics: ClassVar = (QualityMetric("sim_resemblyzer", SIM_SCALE, 0.0, unit="cosine"),)
    package: ClassVar[str] = "resemblyzer"
    options_accepted: ClassVar[tuple[str, ...]] = ("reference_audio",)

    def weights(self) -> list[Path]:
        import importlib.util

        spec = importlib.util.find_spec("resemblyzer")
        if spec is None or not spec.submodule_search_locations:
            raise ModelConfigError(f"quality judge {self.name}: resemblyzer is not installed (scripts/setup.sh: "
                                   f"pip install --no-deps resemblyzer webrtcvad-wheels)")
        return [Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"]

    def check(self) -> None:
        super().check()
        if not self.weights()[0].is_file():
            raise ModelConfigError(f"quality judge {self.name}: {self.weights()[0]} missing; reinstall resemblyzer")

    def _load(self) -> Any:
        from resemblyzer import VoiceEncoder

        return VoiceEncoder(device=self.device, verbose=False, weights_fpath=self.weights()[0])

    def _embed(self, samples: np.ndarray) -> np.ndarray:
        from resemblyzer import preprocess_wav

        wav = preprocess_wav(samples, source_sr=self.sample_rate)
        if wav.size < self.sample_rate // 10:
            raise ValueError("no voiced speech left after Resemblyzer's silence trimming")
        return np.asarray(self._model.embed_utterance(wav), dtype=np.float32)
