"""Whisper through the openai-whisper package: ``whisper-<size>`` (official names) or ``path=MODEL.pt``.

Decoding follows seed-tts-eval's Whisper-large-v3 judge (transformers generate with forced
<|lang|><|transcribe|><|notimestamps|>): temperature 0 without fallback, greedy unless ``beam_size``
is set, the task's language forced, no timestamps. Audio is given as float32 16 kHz arrays, so no
ffmpeg binary is needed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.devices import resolve_device, split_device
from harness.model import TRANSCRIBE, Model, ModelConfigError, unknown_options
from models.common import convert, file_revision, hub_offline, version
from models.whisper_faster import MULTILINGUAL_VOCAB

# openai-whisper's official names (whisper._MODELS), kept here so a typo fails without importing torch.
SIZES = ("tiny.en", "tiny", "base.en", "base", "small.en", "small", "medium.en", "medium", "large-v1",
         "large-v2", "large-v3", "large", "large-v3-turbo", "turbo")
N_SAMPLES = 30 * 16000  # one Whisper window; longer audio goes through whisper.transcribe's sliding window
DECODE_BATCH = 16       # mels decoded together (greedy only; see transcribe)


class WhisperOpenAI(Model):
    capabilities = frozenset({TRANSCRIBE})
    languages = None  # instance-level {"en"} for .en models
    allowed: ClassVar[frozenset[str]] = frozenset({"path", "device", "fp16", "beam_size", "language_forced",
                                                   "sample_len"})

    def __init__(self, name: str, **options: Any):
        unknown_options(name, options, self.allowed)
        self.size = name.removeprefix("whisper-")
        self.path = Path(options["path"]).expanduser() if options.get("path") else None
        if self.path is None and self.size not in SIZES:
            raise ModelConfigError(f"model {name}: unknown size {self.size!r}; official sizes: {', '.join(SIZES)}; "
                                   f"or pass a local checkpoint with --model-arg path=MODEL.pt")
        if self.path is not None and not self.path.is_file():
            raise ModelConfigError(f"model {name}: checkpoint {self.path} does not exist; pass path= a .pt file "
                                   f"holding {{'dims', 'model_state_dict'}} (openai-whisper's format)")
        try:
            self.device = resolve_device(options.get("device"))  # auto: this rank's GPU, else the CPU
        except ValueError as exc:
            raise ModelConfigError(f"model {name}: {exc}") from None
        kind = split_device(self.device)[0]
        # openai-whisper's own default: fp16 on a GPU, fp32 on the CPU (which cannot compute in fp16).
        self.fp16 = convert(name, "fp16", options.get("fp16", kind == "cuda"), bool)
        if self.fp16 and kind != "cuda":
            raise ModelConfigError(f"model {name}: fp16=true needs device=cuda (device resolved to {self.device}, "
                                   f"which computes in fp32); drop fp16 or set device=cuda")
        self.beam_size = convert(name, "beam_size", options.get("beam_size"), int)  # None: greedy
        if self.beam_size is not None and self.beam_size < 1:
            raise ModelConfigError(f"model {name}: beam_size must be >= 1 (got {self.beam_size})")
        self.language_forced = convert(name, "language_forced", options.get("language_forced", True), bool)
        # Tokens generated per window; None keeps Whisper's n_text_ctx // 2. Bounding it keeps a
        # degenerate (or random test) model from looping to the end of the context.
        self.sample_len = convert(name, "sample_len", options.get("sample_len"), int)
        # The device kind, not this rank's index: describe() keys the stage cache that data-parallel ranks share.
        shaping = {"device": kind, "fp16": self.fp16, "beam_size": self.beam_size,
                   "language_forced": self.language_forced, "sample_len": self.sample_len}
        super().__init__(name, **({"path": str(self.path)} if self.path else {}), **shaping)
        # A .en size is English-only; a local checkpoint is checked again once loaded (n_vocab).
        self.english_only = self.size.endswith(".en") or (self.path is not None and ".en." in self.path.name)
        if self.english_only:
            self.languages = frozenset({"en"})
        self._model = None
        self._revision: str | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def load(self) -> None:
        import whisper

        if self.path is not None:
            self._model = whisper.load_model(str(self.path), device=self.device)
        else:
            self._model = self._load_official(whisper)
        self.english_only = self._model.dims.n_vocab < MULTILINGUAL_VOCAB
        self.languages = frozenset({"en"}) if self.english_only else type(self).languages

    def _load_official(self, whisper):
        import os

        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "whisper")
        cached = os.path.join(root, os.path.basename(whisper._MODELS[self.size]))
        hint = (f"Offline, put the checkpoint at {cached} or pass --model-arg path=MODEL.pt "
                f"(a .pt with {{'dims', 'model_state_dict'}})")
        if hub_offline() and not os.path.isfile(cached):
            raise ModelConfigError(f"model {self.name}: HF_HUB_OFFLINE is set and {cached} is missing. {hint}")
        try:  # whisper checks the cached file's sha256 and downloads only when it is absent or wrong
            return whisper.load_model(self.size, device=self.device, download_root=root)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError
            raise ModelConfigError(f"model {self.name}: cannot get the {self.size} checkpoint ({exc}). {hint}"
                                   ) from None

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(backend="openai-whisper", size=self.size, path=str(self.path) if self.path else None,
                    revision=self._checkpoint_revision(), task="transcribe", temperature=0.0,
                    without_timestamps=True, versions={"openai-whisper": version("openai-whisper")})
        return info

    def _checkpoint_revision(self) -> str:
        if self._revision is None:
            if self.path is not None:
                self._revision = file_revision(self.path)  # full sha256 up to 512 MiB, sampled above
            else:  # official checkpoints: whisper's URL carries the file's sha256
                import whisper

                self._revision = "sha256:" + whisper._MODELS[self.size].split("/")[-2]
        return self._revision

    # -- capability -----------------------------------------------------------------------
    def transcribe(self, audios: list[np.ndarray], lang: str) -> list[str]:
        if self.english_only and lang != "en":
            raise ModelConfigError(f"model {self.name} is English-only and cannot transcribe {lang!r}")
        self.ensure_loaded()
        import torch
        import whisper

        language = lang if self.language_forced else None
        out = [""] * len(audios)
        short = [i for i, a in enumerate(audios) if len(a) <= N_SAMPLES]
        # openai-whisper 20250625's beam search breaks on a batch of mels (kv-cache shape mismatch),
        # so beam decoding goes one window at a time; greedy decodes DECODE_BATCH windows at once.
        step = DECODE_BATCH if self.beam_size is None else 1
        options = whisper.DecodingOptions(task="transcribe", language=language, temperature=0.0,
                                          sample_len=self.sample_len, beam_size=self.beam_size,
                                          fp16=self.fp16, without_timestamps=True)
        for start in range(0, len(short), step):
            idx = short[start:start + step]
            mels = torch.stack([self._mel(audios[i]) for i in idx])
            with torch.no_grad():
                results = whisper.decode(self._model, mels, options)
            for i, res in zip(idx, results):
                out[i] = self._text(res.tokens, res.language or lang)
        for i in sorted(set(range(len(audios))) - set(short)):
            res = whisper.transcribe(self._model, np.asarray(audios[i], dtype=np.float32), language=language,
                                     task="transcribe", temperature=0.0, condition_on_previous_text=False,
                                     fp16=self.fp16, beam_size=self.beam_size, sample_len=self.sample_len,
                                     without_timestamps=True, verbose=None)
            out[i] = res["text"].strip()
        return out

    def _mel(self, audio: np.ndarray):
        import torch
        import whisper

        samples = whisper.pad_or_trim(torch.from_numpy(np.asarray(audio, dtype=np.float32)))
        return whisper.log_mel_spectrogram(samples, n_mels=self._model.dims.n_mels, device=self.device)

    def _text(self, tokens: list[int], language: str) -> str:
        from whisper.tokenizer import get_tokenizer

        tok = get_tokenizer(self._model.is_multilingual, num_languages=self._model.num_languages,
                            language=language, task="transcribe")
        # Only text tokens: Whisper's own .text keeps special tokens (<|notimestamps|> ...) a weak
        # model may emit, and they would count as words in WER.
        return tok.decode([t for t in tokens if t < tok.eot]).strip()
