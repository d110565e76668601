"""FunASR Paraformer (``paraformer-zh``): the Chinese judge of seed-tts-eval.

``paraformer-zh`` is FunASR's alias for a ModelScope (or Hugging Face, ``hub=hf``) repository; offline,
``path=DIR`` names a local folder with config.yaml, model.pt and tokens.json (am.mvn optional).
Output is left as the model wrote it (the normalizer converts traditional to simplified), except
for spaces between Han characters, which are dropped (see ``join_han``).

Front-end dither (the published configuration, made deterministic): paraformer-zh's config.yaml
(funasr/paraformer-zh, the model seed-tts-eval links) sets no ``dither`` in ``frontend_conf``, so FunASR's
WavFrontend uses its default ``dither=1.0`` at inference too (funasr 1.4.16 frontends/wav_frontend.py; nothing in
AutoModel turns it off): Gaussian noise of standard deviation 1 in 16-bit units on every frame, drawn from an
unseeded stream (kaldi-native-fbank) or from torch's global stream in file order (torchaudio, seeded once by
AutoModel). The noise matters for synthetic speech: on digital silence the mean log-mel is 4.4 with it and
-15.9 without, a region the model never saw in training. So ``dither`` defaults to 1.0, but the noise is added
here, to the waveform, from a generator seeded per utterance (``dither_waveform``), and FunASR's own dither is
set to 0: the same audio always gets the same features, whatever the batch or the order. (Kaldi draws fresh
noise per frame, so overlapping frames get independent noise there and shared noise here; the per-frame
distribution is the same.) ``dither=0`` turns it off.
"""
from __future__ import annotations

import contextlib
import io
import logging
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.devices import resolve_device, split_device
from harness.model import TRANSCRIBE, Model, ModelConfigError, unknown_options
from models.common import convert, file_revision, hub_offline, version

# FunASR 1.4's aliases (funasr/download/name_maps_from_hub.py), here so describe() needs no funasr import.
HUB_IDS = {"ms": "iic/speech_seaco_paraformer_large_asr_nat-zh-cn-16k-common-vocab8404-pytorch",
           "hf": "funasr/paraformer-zh"}
REQUIRED = ("config.yaml", "model.pt")
TOKEN_FILES = ("tokens.json", "tokens.txt")
_HAN = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_HAN_GAP = re.compile(rf"(?<={_HAN})\s+(?={_HAN})")
PUBLISHED_DITHER = 1.0   # WavFrontend's default; paraformer-zh's config.yaml sets none (see the module docstring)
DITHER_SEED = 0          # one fixed seed per utterance: the same audio always gets the same noise
INT16_SCALE = 1 << 15    # WavFrontend multiplies float samples by 2**15 before the fbank


def dither_waveform(audio: np.ndarray, dither: float, seed: int = DITHER_SEED) -> np.ndarray:
    """Kaldi-style dither, deterministic: add N(0, dither^2) noise in 16-bit units to a float waveform."""
    samples = np.asarray(audio, dtype=np.float32)
    if dither == 0:
        return samples
    noise = np.random.default_rng(seed).standard_normal(samples.shape[0]).astype(np.float32)
    return samples + noise * np.float32(dither / INT16_SCALE)


def join_han(text: str) -> str:
    """Drop whitespace between two Han characters, keep it between Latin words.

    FunASR writes character tokens space-separated in some paths (timestamps, mixed output), so the
    same recognition can come back as "你 好" or "你好". A space inside Chinese text is no word
    boundary, and left in it would shift every later character in an alignment.
    """
    return _HAN_GAP.sub("", text).strip()


@contextlib.contextmanager
def _quiet():
    """FunASR prints banners to stdout and logs at INFO through the root logger (which importing it
    configures). Silence both while it runs, and give the root logger back as we found it."""
    root = logging.getLogger()
    handlers, level, disabled = list(root.handlers), root.level, logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.disable(disabled)
        root.handlers[:] = handlers
        root.setLevel(level)


class Paraformer(Model):
    capabilities = frozenset({TRANSCRIBE})
    languages = frozenset({"zh"})
    allowed: ClassVar[frozenset[str]] = frozenset({"path", "hub", "device", "dither"})

    def __init__(self, name: str, **options: Any):
        unknown_options(name, options, self.allowed)
        self.path = Path(options["path"]).expanduser() if options.get("path") else None
        self.hub = options.get("hub") or "ms"  # FunASR's default hub, as seed-tts-eval uses it
        if self.hub not in ("ms", "hf"):
            raise ModelConfigError(f"model {name}: hub={self.hub!r}; use ms (ModelScope) or hf (Hugging Face)")
        try:
            self.device = resolve_device(options.get("device"))  # auto: this rank's GPU, else the CPU
        except ValueError as exc:
            raise ModelConfigError(f"model {name}: {exc}") from None
        self.dither = convert(name, "dither", options.get("dither", PUBLISHED_DITHER), float)
        if self.dither < 0:
            raise ModelConfigError(f"model {name}: dither must be >= 0 (got {self.dither})")
        # The device kind, not this rank's index: describe() keys the stage cache that data-parallel ranks share.
        super().__init__(name, **({"path": str(self.path)} if self.path else {"hub": self.hub}),
                         device=split_device(self.device)[0], dither=self.dither)
        if self.path is not None:
            self._check_folder(self.path)
        self._model = None
        self._resolved: Path | None = self.path
        self._revision: dict[str, str | None] | None = None

    def _check_folder(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ModelConfigError(f"model {self.name}: path {folder} is not a folder; pass a FunASR model folder "
                                   f"(config.yaml, model.pt, tokens.json)")
        for need in REQUIRED:
            if not (folder / need).is_file():
                raise ModelConfigError(f"model {self.name}: {folder} has no {need}; a FunASR model folder needs "
                                       f"config.yaml, model.pt and tokens.json (am.mvn optional)")
        if not any((folder / t).is_file() for t in TOKEN_FILES):
            raise ModelConfigError(f"model {self.name}: {folder} has no tokens.json (or tokens.txt), the token "
                                   f"list of the model's CharTokenizer")

    # -- lifecycle ------------------------------------------------------------------------
    def _hub_id(self) -> str:
        return HUB_IDS[self.hub]

    def _snapshot(self, local_only: bool) -> Path:
        repo = self._hub_id()
        if self.hub == "ms":
            from modelscope.hub.snapshot_download import snapshot_download

            return Path(snapshot_download(repo, local_files_only=local_only))
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo, local_files_only=local_only))

    def _prepare(self) -> Path:
        """A local folder: the path given, else the hub snapshot (cached, else downloaded)."""
        if self.path is not None:
            return self.path
        hint = ("Offline, copy a paraformer-zh folder (config.yaml, model.pt, tokens.json, am.mvn) here and pass "
                "--model-arg path=DIR")
        try:
            with _quiet():
                return self._snapshot(local_only=True)
        except Exception:  # noqa: BLE001 -- not cached (the hub clients raise several types)
            if hub_offline():
                raise ModelConfigError(f"model {self.name}: HF_HUB_OFFLINE is set and {self._hub_id()} is not "
                                       f"cached. {hint}") from None
        try:
            with _quiet():
                return self._snapshot(local_only=False)
        except Exception as exc:  # noqa: BLE001 -- network and hub errors alike mean "no weights"
            raise ModelConfigError(f"model {self.name}: cannot download {self._hub_id()} from {self.hub} ({exc}). "
                                   f"{hint}") from None

    def load(self) -> None:
        folder = self._resolved = self._prepare()
        self._check_folder(folder)
        with _quiet():
            import torch
            from funasr import AutoModel

            # A local folder never touches the network. ncpu: keep the process's thread count
            # (FunASR would set 4). FunASR's own dither is off: the published dither (1.0) is applied
            # by dither_waveform from a seeded generator instead, so runs repeat exactly.
            self._model = AutoModel(model=str(folder), device=self.device, disable_update=True,
                                    disable_pbar=True, log_level="ERROR", ncpu=torch.get_num_threads(),
                                    frontend_conf={"dither": 0.0})

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(backend="funasr", hub_id=self._hub_id() if self.path is None else None,
                    path=str(self.path) if self.path else None,
                    frontend={"dither": self.dither, "dither_seed": DITHER_SEED, "funasr_frontend_dither": 0.0},
                    versions={"funasr": version("funasr")}, **self._revisions())
        return info

    def _revisions(self) -> dict[str, str | None]:
        if self._revision is None:
            folder = self._resolved
            if folder is None:  # hub weights: a cached snapshot is enough, no download here
                try:
                    with _quiet():
                        folder = self._resolved = self._snapshot(local_only=True)
                except Exception:  # noqa: BLE001 -- not cached
                    return {"revision": None, "config_revision": None}  # known once load() fetches it
            self._revision = {"revision": file_revision(folder / "model.pt"),  # sampled above 512 MiB
                              "config_revision": file_revision(folder / "config.yaml")}
        return self._revision

    # -- capability -----------------------------------------------------------------------
    def transcribe(self, audios: list[np.ndarray], lang: str) -> list[str]:
        if lang != "zh":
            raise ModelConfigError(f"model {self.name} transcribes Chinese only (asked for {lang!r})")
        self.ensure_loaded()
        texts = []
        # One utterance per call: on CPU FunASR decodes one at a time anyway, and when the
        # predictor finds no token it returns one empty result for a whole batch, which would
        # misalign a batched call.
        for audio in audios:
            with _quiet():
                res = self._model.generate(input=[dither_waveform(audio, self.dither)], disable_pbar=True)
            texts.append(join_han(str(res[0].get("text", ""))) if res else "")
        return texts
