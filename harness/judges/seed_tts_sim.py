"""``sim-seed-tts-eval``: the speaker similarity (SIM) that seed-tts-eval publishes, from the user's checkpoint.

seed-tts-eval (github:BytedanceSpeech/seed-tts-eval, cal_sim.sh -> UniSpeech's verification_pair_list_v2.py
--model_name wavlm_large) scores each generated utterance against its voice prompt with WavLM-Large fine-tuned for
speaker verification (``wavlm_large_finetune.pth``, a torch file whose ``model`` entry is the state dict of
UniSpeech's ECAPA_TDNN_SMALL(feat_dim=1024, feat_type='wavlm_large', config_path=None)): cosine similarity of the
two 256-d embeddings, each file resampled to 16 kHz. harness.judges.ecapa_wavlm is the network, written here over
transformers' WavLMModel; this module is the judge. The weights never download: ``path=`` names the file.

Where ours differs from theirs: the harness resamples with soxr and downmixes stereo by averaging (theirs:
torchaudio's Resample and the first channel); the AAM-softmax classifier in the file (``loss_calculator.*``) is
dropped, as their ``strict=False`` load drops it; every other tensor must fit (theirs ignores misfits silently).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.judges.quality import QualityMetric
from harness.judges.speaker_sim import SIM_SCALE, _Similarity
from harness.model import ModelConfigError

CHECKPOINT = "wavlm_large_finetune.pth"
WHERE = ("seed-tts-eval's README links it (https://drive.google.com/file/d/1-aE1NfzpRCLxA4GUxX9ITI3F9LlbtEGP/view; "
         "UniSpeech downstreams/speaker_verification lists it as WavLM Large, fix pre-train: No)")


class SeedTTSEvalSimilarity(_Similarity):
    metrics: ClassVar = (QualityMetric("sim_seed_tts_eval", SIM_SCALE, 0.0, unit="cosine"),)
    package: ClassVar[str] = "transformers"   # the WavLM implementation; the checkpoint is hashed
    options_accepted: ClassVar[tuple[str, ...]] = ("path", "reference_audio")

    def __init__(self, name: str, device: str = "auto", path: str | None = None, **options: Any):
        super().__init__(name, device, **options)
        self.path = Path(path).expanduser() if path else None

    def check(self) -> None:
        super().check()
        if self.path is None or not self.path.is_file():
            where = f"path={self.path} is not a file" if self.path else "no path= given"
            raise ModelConfigError(
                f"quality judge {self.name}: {where}; it needs seed-tts-eval's {CHECKPOINT} (WavLM-Large fine-tuned "
                f"for speaker verification), which {WHERE}: download it and pass --quality-judge "
                f"{self.name}:path=/path/{CHECKPOINT}")

    def weights(self) -> list[Path]:
        self.check()
        return [self.path]

    def describe(self) -> dict[str, Any]:
        desc = super().describe()
        return {**desc, "revision": desc["weights_sha256"], "network": "WavLM-Large + ECAPA-TDNN (seed-tts-eval)",
                "resampler": "soxr"}

    def _load(self) -> Any:
        import torch

        from harness.judges.ecapa_wavlm import CheckpointLayoutError, load_encoder

        try:  # tensors only: a pickled object in the file is refused, not run
            checkpoint = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelConfigError(f"quality judge {self.name}: cannot read {self.path} as a torch checkpoint "
                                   f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
        try:
            model = load_encoder(checkpoint)
        except CheckpointLayoutError as exc:
            raise ModelConfigError(f"quality judge {self.name}: {self.path}: {exc}") from None
        return model.to(self.device)

    def _embed(self, samples: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            emb = self._model(torch.from_numpy(samples)[None].to(self.device))[0]
        return emb.double().cpu().numpy()  # not normalized: the base takes the cosine, as theirs does
