"""Whisper through transformers (WhisperForConditionalGeneration + WhisperProcessor): seed-tts-eval's English judge.

Names: ``hf-whisper-<size>`` loads ``openai/whisper-<size>`` from the Hub (or its local cache); ``hf-whisper``
with ``path=DIR`` loads a local transformers folder. ``trust_remote_code`` is never set.

What seed-tts-eval does (BytedanceSpeech/seed-tts-eval, run_wer.py at 752f429), and what this adapter does:
- ``WhisperProcessor.from_pretrained("openai/whisper-large-v3")`` and
  ``WhisperForConditionalGeneration.from_pretrained(...)`` without a dtype: float32 under the transformers 4.x
  it ran on. transformers 5 loads the checkpoint's own dtype (large-v3 is stored in float16) unless told, so
  the dtype is passed explicitly: float32 by default, float16 only with ``fp16=true`` on a GPU.
- ``processor(wav, sampling_rate=16000)``: log-mel features of the first 30 s, padded to 30 s. Longer audio is
  judged on its first 30 s here too (``window_seconds``; the harness flags such samples), never refused.
- ``forced_decoder_ids = processor.get_decoder_prompt_ids(language="english", task="transcribe")`` passed to
  ``generate``: the prompt <|startoftranscript|><|en|><|transcribe|><|notimestamps|>. transformers 5 builds
  the same prompt from ``generate(language=..., task="transcribe")`` (forced_decoder_ids are deprecated), which
  is what a multilingual model gets here. An English-only model (.en) takes no language or task: its
  generation config starts it with <|startoftranscript|><|notimestamps|>, as openai-whisper decodes .en models.
- Greedy decoding with the model's generation config (max_length 448, its suppress lists), no timestamps.
- ``processor.batch_decode(ids, skip_special_tokens=True)[0]``; the text is stripped here (seed-tts-eval's
  jiwer call strips it too, so WER is unchanged).
Differences, all outside the model call: seed-tts-eval decodes one file at a time where this decodes a batch
(every input is padded to the same 30 s, so only float rounding can differ); it resamples with
``scipy.signal.resample`` where the harness resamples with soxr before calling ``transcribe``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.devices import resolve_device, split_device
from harness.model import TRANSCRIBE, Model, ModelConfigError, unknown_options
from models.common import convert, file_revision, hub_offline, version

# The openai/whisper-* repositories on the Hugging Face Hub.
HUB_SIZES = ("tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en", "large",
             "large-v2", "large-v3", "large-v3-turbo")
GENERIC = "hf-whisper"          # the name that takes path= (any local transformers Whisper folder)
DECODE_BATCH = 16               # 30 s windows decoded together
CONFIG_FILES = ("config.json", "generation_config.json", "preprocessor_config.json", "processor_config.json",
                "tokenizer.json", "tokenizer_config.json")


class WhisperTransformers(Model):
    capabilities = frozenset({TRANSCRIBE})
    languages = None  # instance-level {"en"} for English-only models
    window_seconds: ClassVar[float] = 30.0  # WhisperFeatureExtractor keeps the first 30 s
    allowed: ClassVar[frozenset[str]] = frozenset({"path", "hub_id", "revision", "device", "fp16",
                                                   "language_forced"})

    def __init__(self, name: str, **options: Any):
        unknown_options(name, options, self.allowed)
        self.name = name
        self.path = Path(options["path"]).expanduser() if options.get("path") else None
        self.hub_id = None if self.path else (options.get("hub_id") or self._default_hub_id(name))
        self.hub_revision = options.get("revision")  # a Hub branch, tag or commit; None: main
        if self.path is not None and (options.get("hub_id") or self.hub_revision):
            raise ModelConfigError(f"model {name}: path= is a local folder; hub_id= and revision= name a Hub "
                                   f"repository; give one or the other")
        try:
            self.device = resolve_device(options.get("device"))
        except ValueError as exc:
            raise ModelConfigError(f"model {name}: {exc}") from None
        self.device_kind = split_device(self.device)[0]
        self.fp16 = convert(name, "fp16", options.get("fp16", False), bool)  # seed-tts-eval: float32
        if self.fp16 and self.device_kind != "cuda":
            raise ModelConfigError(f"model {name}: fp16=true needs a GPU (device resolved to {self.device}); "
                                   f"drop fp16 or set device=cuda")
        self.language_forced = convert(name, "language_forced", options.get("language_forced", True), bool)
        source = {"path": str(self.path)} if self.path else {"hub_id": self.hub_id, "revision": self.hub_revision}
        # The device kind, not this rank's index: describe() keys the stage cache that data-parallel ranks share.
        super().__init__(name, **source, device=self.device_kind, fp16=self.fp16,
                         language_forced=self.language_forced)
        if self.path is not None:
            self._check_folder()
        self.english_only = self._english_only_before_load()
        if self.english_only:
            self.languages = frozenset({"en"})
        self._model = self._processor = None
        self._revision: dict[str, str | None] | None = None

    @staticmethod
    def _default_hub_id(name: str) -> str:
        size = name.removeprefix("hf-whisper-")
        if name == GENERIC or size == name:
            raise ModelConfigError(f"model {name}: pass a local transformers Whisper folder with --model-arg "
                                   f"path=DIR (or --judge-arg LANG.path=DIR), or use hf-whisper-<size>")
        if size not in HUB_SIZES:
            raise ModelConfigError(f"model {name}: unknown size {size!r}; Hub sizes: {', '.join(HUB_SIZES)}; "
                                   f"or pass path=DIR (a local folder) or hub_id=ORG/NAME")
        return f"openai/whisper-{size}"

    def _check_folder(self) -> None:
        if not self.path.is_dir():
            raise ModelConfigError(f"model {self.name}: path {self.path} is not a folder; pass a transformers "
                                   f"Whisper folder (config.json, model.safetensors, tokenizer and processor files)")
        for need in ("config.json", "preprocessor_config.json"):
            if need == "preprocessor_config.json" and (self.path / "processor_config.json").is_file():
                continue  # transformers 5 writes the feature extractor into processor_config.json
            if not (self.path / need).is_file():
                raise ModelConfigError(f"model {self.name}: {self.path} has no {need}; save the model and its "
                                       f"WhisperProcessor there with save_pretrained")
        if not self._weight_files(self.path):
            raise ModelConfigError(f"model {self.name}: {self.path} has no weights (*.safetensors or "
                                   f"pytorch_model*.bin)")

    @staticmethod
    def _weight_files(folder: Path) -> list[Path]:
        return sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))

    def _english_only_before_load(self) -> bool:
        if self.path is None:
            return self.hub_id.endswith(".en")
        gen = self.path / "generation_config.json"
        if gen.is_file():
            flag = json.loads(gen.read_text(encoding="utf-8")).get("is_multilingual")
            if flag is not None:
                return not flag
        from models.whisper_faster import MULTILINGUAL_VOCAB

        vocab = json.loads((self.path / "config.json").read_text(encoding="utf-8")).get("vocab_size")
        return vocab is not None and vocab < MULTILINGUAL_VOCAB

    # -- lifecycle ------------------------------------------------------------------------
    def load(self) -> None:
        import torch
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        source = str(self.path) if self.path else self.hub_id
        hub = {} if self.path else {"revision": self.hub_revision, "local_files_only": hub_offline()}
        dtype = torch.float16 if self.fp16 else torch.float32
        try:
            self._processor = WhisperProcessor.from_pretrained(source, trust_remote_code=False, **hub)
            model = WhisperForConditionalGeneration.from_pretrained(source, dtype=dtype, trust_remote_code=False,
                                                                    **hub)
        except OSError as exc:  # not cached offline, no network, missing files
            where = "HF_HUB_OFFLINE is set and it is not cached" if hub_offline() and not self.path else str(exc)
            raise ModelConfigError(f"model {self.name}: cannot load {source} ({where}). Offline, save a "
                                   f"transformers Whisper folder and pass path=DIR") from None
        self._model = model.to(self.device).eval()
        self.english_only = not getattr(model.generation_config, "is_multilingual", True)
        self.languages = frozenset({"en"}) if self.english_only else type(self).languages

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(backend="transformers", hub_id=self.hub_id, path=str(self.path) if self.path else None,
                    device=self.device_kind, dtype="float16" if self.fp16 else "float32",
                    decoding={"task": "transcribe", "language_forced": self.language_forced, "num_beams": 1,
                              "do_sample": False, "timestamps": False, "window_seconds": self.window_seconds,
                              "skip_special_tokens": True},
                    versions={"transformers": version("transformers"), "torch": version("torch")},
                    **self._revisions())
        return info

    def _revisions(self) -> dict[str, str | None]:
        if self._revision is None:
            if self.path is not None:  # content hashes: weights (sampled above 512 MiB) and everything else
                configs = [self.path / f for f in CONFIG_FILES if (self.path / f).is_file()]
                self._revision = {"revision": file_revision(*self._weight_files(self.path)),
                                  "config_revision": file_revision(*configs)}
            else:
                commit = self._hub_commit()
                if commit is None:
                    return {"revision": None, "config_revision": None}  # known once load() downloads it
                self._revision = {"revision": commit, "config_revision": commit}
        return self._revision

    def _hub_commit(self) -> str | None:
        """The commit of the cached snapshot (its folder name), without any network call."""
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(self.hub_id, "config.json", revision=self.hub_revision)
        return Path(cached).parent.name if isinstance(cached, str) else None

    # -- capability -----------------------------------------------------------------------
    def transcribe(self, audios: list[np.ndarray], lang: str) -> list[str]:
        if self.english_only and lang != "en":
            raise ModelConfigError(f"model {self.name} is English-only and cannot transcribe {lang!r}")
        self.ensure_loaded()
        import torch

        # English-only models take no language/task (their generation config forces <|notimestamps|>);
        # a multilingual model gets the task always and the language unless language_forced=false.
        prompt = {} if self.english_only else {"task": "transcribe",
                                                **({"language": lang} if self.language_forced else {})}
        dtype = torch.float16 if self.fp16 else torch.float32
        texts: list[str] = []
        for start in range(0, len(audios), DECODE_BATCH):
            batch = [np.asarray(a, dtype=np.float32) for a in audios[start:start + DECODE_BATCH]]
            features = self._processor.feature_extractor(batch, sampling_rate=16000, return_tensors="pt")
            inputs = features.input_features.to(self.device, dtype)
            with torch.inference_mode():
                ids = self._model.generate(inputs, **prompt)
            texts.extend(t.strip() for t in self._processor.batch_decode(ids, skip_special_tokens=True))
        return texts
