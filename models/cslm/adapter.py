"""CSLM as a harness model: speech tokenizer -> prompt -> Llama generation -> channels -> unit vocoder.

Registered as ``cslm-sft`` and ``cslm-base`` (released Hub checkpoints; ``--model-path`` overrides) and ``cslm``
(any local folder). Capabilities:
- ``transcribe``: ASR prompt (units in, text out) -> text channel;
- ``synthesize``: TTS prompt (text in, units out) -> unit vocoder -> Audio;
- ``respond``: released general / cross-lingual prompt -> harness.response.Response (both channels, timing).
Each request runs alone with its own seed (options.sample_seed), so outputs do not depend on batching.
"""
from __future__ import annotations

import copy
import json
import logging
import time
from typing import Any

import numpy as np

from harness.audio import Audio
from harness.devices import resolve_device
from harness.errors import CodedError
from harness.model import RESPOND, SYNTHESIZE, TRANSCRIBE, Model, ModelConfigError, unknown_options
from harness.response import Response
from models.cslm import checkpoint
from models.cslm.options import GENERATION_KEYS, CSLMGenerationOptions
from models.cslm.parsing import ParsedGeneration, parse_generation
from models.cslm.prompts import Prompt, PromptBuilder, load_prompt_table
from models.cslm.speech_tokenizer import SAMPLE_RATE, SpeechTokenizer, default_cache_dir, file_sha256
from models.cslm.units import SPAN_CLOSE, SPAN_OPEN, detect_units, merge_repeats
from models.cslm.vocoder import COSYVOICE_25HZ, VocoderPending, make_vocoder

log = logging.getLogger(__name__)
TOKENIZER_FILE = "speech_tokenizer_v1.onnx"
ADAPTER_KEYS = {"path", "revision", "speech_tokenizer", "long_audio", "unit_cache", "vocoder", "vocoder_speaker",
                "vocoder_prompt_wav", "prompts", "device", "unit_format"}


class CSLMOutputError(CodedError, RuntimeError):
    """A generation that cannot serve the request (e.g. TTS output without units); ``code`` is counted."""


class CSLM(Model):
    capabilities = frozenset({TRANSCRIBE, SYNTHESIZE, RESPOND})
    input_sample_rate = SAMPLE_RATE

    def __init__(self, name: str = "cslm", **options: Any):
        unknown_options(name, options, ADAPTER_KEYS | GENERATION_KEYS)
        super().__init__(name, **options)
        self.table = load_prompt_table(options.get("prompts"))
        self.ckpt = checkpoint.resolve(name, options.get("path"), options.get("revision"))
        self.gen = CSLMGenerationOptions.from_args({**self._checkpoint_defaults(), **options})
        try:  # this rank's GPU under torchrun / accelerate, else the CPU
            self.device = resolve_device(options.get("device", "auto"))
        except ValueError as exc:
            raise ModelConfigError(f"{name}: {exc}") from None
        self.vocoder_spec = options.get("vocoder") or ("cosyvoice" if self.ckpt.hub_id else "none")
        self.vocoder = make_vocoder(self.vocoder_spec, options.get("vocoder_speaker"),
                                    options.get("vocoder_prompt_wav"))
        self._vocoder_explicit = "vocoder" in options
        self.tokenizer_spec = self._tokenizer_spec(options.get("speech_tokenizer"))
        self._describe: dict[str, Any] | None = None
        self._memo: dict[bytes, tuple[list[int], dict]] = {}

    def _checkpoint_defaults(self) -> dict[str, Any]:
        """Decoding defaults the checkpoint's trainer wrote (checkpoint.CSLM_DEFAULTS_FILE), if any."""
        path = self.ckpt.local_dir / checkpoint.CSLM_DEFAULTS_FILE if self.ckpt.local_dir else None
        if path is None or not path.is_file():
            return {}
        try:
            defaults = json.loads(path.read_text(encoding="utf-8")).get("generation", {})
        except (ValueError, AttributeError) as exc:
            raise ModelConfigError(f"{path}: not a JSON object with a 'generation' mapping ({exc})") from None
        unknown_options(f"{self.name} ({path.name})", defaults, set(GENERATION_KEYS))
        return defaults

    def _tokenizer_spec(self, given: str | None) -> str | None:
        if given:
            return None if given == "none" else given
        if self.ckpt.local_dir is not None and (self.ckpt.local_dir / TOKENIZER_FILE).is_file():
            return str(self.ckpt.local_dir / TOKENIZER_FILE)
        return f"hub:{COSYVOICE_25HZ}/{TOKENIZER_FILE}" if self.ckpt.hub_id else None

    def supports_language(self, lang: str) -> bool:
        return any(lang in self.table.get(task, {}) for task in ("asr", "tts", "general", "cross"))

    # -- provenance --------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        if self._describe is None:  # stable before and after load(): it keys the stage caches
            tok = self.tokenizer_spec
            tok_id = {"path": tok, "sha256": file_sha256(tok)} if tok and not tok.startswith("hub:") else tok
            dtype, note = self._dtype()
            self._describe = {
                "id": self.name, "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "checkpoint": self.ckpt.source, "hub_id": self.ckpt.hub_id, "revision": self.ckpt.revision,
                "dtype": dtype, "dtype_requested": self.gen.requested_dtype(), "dtype_note": note,
                # the device kind, not the index: data-parallel ranks (cuda:0, cuda:1) share stage caches
                "device": self.device.split(":")[0], "generation": self.gen.to_dict(),
                "prompt_mode": self.gen.prompt_mode, "max_new_tokens": self.gen.max_new_tokens,
                "eoa_cut": self.gen.eoa_cut, "prompts": self.table,
                "speech_tokenizer": tok_id, "long_audio": self.options.get("long_audio", "error"),
                "vocoder": self.vocoder.describe() if self.vocoder else None}
        return self._describe

    def _dtype(self) -> tuple[str, str | None]:
        """(dtype the weights load in, note when it differs from the requested one)."""
        bf16 = False
        if self.device.startswith("cuda"):
            import torch

            bf16 = torch.cuda.is_bf16_supported()
        return self.gen.resolve_dtype(self.device, bf16)

    # -- loading -----------------------------------------------------------------------------------
    def load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = self.ckpt.fetch()
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.vocab = detect_units(self.tokenizer, prefer=self.options.get("unit_format"))
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, self._dtype()[0]))
        self.model.to(self.device).eval()
        self.prompts = PromptBuilder(self.tokenizer, self.vocab, self.table, self.gen.prompt_mode,
                                     self.gen.max_input_tokens)
        self.prompts.self_check()
        self.gen_config = self._generation_config()
        self.end_ids = set(self.gen_config.eos_token_id if isinstance(self.gen_config.eos_token_id, list)
                           else [self.gen_config.eos_token_id])
        vocab = self.tokenizer.get_vocab()
        self.marker_ids = {vocab[t] for t in (SPAN_OPEN, SPAN_CLOSE) if t in vocab}
        self.specials = tuple(t for t in self.tokenizer.all_special_tokens if t)
        self.speech_tokenizer = self._load_speech_tokenizer()
        if self.vocoder is not None and self._vocoder_explicit:
            self.vocoder.load()  # asked for by name: configuration errors stop the run before any sample
            self._vocoder_ready = True
        else:
            self._vocoder_ready = False  # default vocoder: loaded on first use (ASR never needs it)

    def _generation_config(self):
        cfg = copy.deepcopy(self.model.generation_config)
        g = self.gen
        cfg.do_sample, cfg.max_new_tokens = g.do_sample, g.max_new_tokens
        cfg.temperature, cfg.top_p, cfg.top_k = (g.temperature, g.top_p, g.top_k) if g.do_sample else (None,) * 3
        if cfg.eos_token_id is None:
            cfg.eos_token_id = self.tokenizer.eos_token_id
        if cfg.pad_token_id is None:  # released: pad_token_id=tokenizer.eos_token_id
            cfg.pad_token_id = self.tokenizer.eos_token_id
        return cfg

    def _load_speech_tokenizer(self) -> SpeechTokenizer | None:
        spec = self.tokenizer_spec
        if spec is None:
            return None
        if spec.startswith("hub:"):
            from huggingface_hub import hf_hub_download

            repo, _, filename = spec[4:].rpartition("/")
            try:
                spec = hf_hub_download(repo, filename)
            except Exception as exc:  # noqa: BLE001 -- any Hub failure gets the same how-to
                raise ModelConfigError(f"cannot get {repo}/{filename} ({type(exc).__name__}); download it and "
                                       f"pass --model-arg speech_tokenizer=PATH") from None
        cache = self.options.get("unit_cache")
        cache_dir = None if cache == "none" else (cache or default_cache_dir())
        return SpeechTokenizer(spec, self.options.get("long_audio", "error"), cache_dir)

    # -- one request -------------------------------------------------------------------------------
    def _generate(self, prompt: Prompt, t0: float, memo: bool = True) -> tuple[list[int], dict[str, Any]]:
        import torch

        from models.cslm.streaming import UnitTimingStreamer

        key = prompt.ids.tobytes()
        if memo and key in self._memo:  # a batch retried sample by sample after one bad item: reuse outputs
            return self._memo[key]
        ids = torch.as_tensor(prompt.ids, device=self.device)[None]
        streamer = UnitTimingStreamer(self.vocab, self.marker_ids, self.end_ids, t0=t0)
        torch.manual_seed(self.gen.sample_seed(prompt.ids))
        with torch.inference_mode():
            self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                generation_config=self.gen_config, streamer=streamer)
        out = (streamer.ids, {**streamer.events, "prompt_tokens": len(prompt.ids),
                              "prompt_truncated": prompt.truncated})
        if memo:
            if len(self._memo) > 256:
                self._memo.clear()
            self._memo[key] = out
        return out

    def _parse(self, ids: list[int], expect_units: bool, expect_text: bool) -> tuple[str, ParsedGeneration]:
        raw = self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        # raw stays whole (diagnostics); the channels come from what the released postprocess keeps
        parsed = parse_generation(self.gen.cut_at_eoa(raw), self.vocab.pattern, self.vocab.n_units, self.gen.chain,
                                  expect_units=expect_units, expect_text=expect_text, drop=self.specials)
        return raw, parsed

    def _units(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.speech_tokenizer is None:
            raise ModelConfigError(f"{self.name} has no speech tokenizer for audio input: pass --model-arg "
                                   f"speech_tokenizer=PATH/{TOKENIZER_FILE} (CosyVoice-300M-25Hz's)")
        units = self.speech_tokenizer.tokenize(np.asarray(samples, dtype=np.float32))
        return merge_repeats(units) if self.gen.merge_input_units else (units, np.ones_like(units))

    def prepare(self, needs: set[str]) -> None:
        if SYNTHESIZE in needs and self.vocoder is None:
            self._vocoder()  # raises the how-to: synthesize cannot produce audio without a vocoder

    def _vocoder(self):
        if self.vocoder is None:
            raise ModelConfigError(f"{self.name} has no unit vocoder, so it cannot produce audio: pass --model-arg "
                                   f"vocoder=cosyvoice[:MODEL_DIR] (needs the cosyvoice extra), "
                                   f"vocoder=external:DIR (audio made by another tool) or vocoder=unit-sine (test tones)")
        if not self._vocoder_ready:
            self.vocoder.load()
            self._vocoder_ready = True
        return self.vocoder

    # -- capabilities ------------------------------------------------------------------------------
    def transcribe(self, audios: list[np.ndarray], lang: str) -> list[str]:
        self.ensure_loaded()
        texts = []
        for samples in audios:
            units, _ = self._units(samples)
            ids, _ = self._generate(self.prompts.units_prompt("asr", lang, units), time.perf_counter())
            texts.append(self._parse(ids, expect_units=False, expect_text=True)[1].text)
        return texts

    def synthesize(self, texts: list[str], lang: str) -> list[Audio]:
        self.ensure_loaded()
        vocoder = self._vocoder()  # no vocoder: a ModelConfigError naming the options, before generating
        out = []
        for text in texts:
            ids, _ = self._generate(self.prompts.text_prompt("tts", lang, text), time.perf_counter())
            raw, parsed = self._parse(ids, expect_units=True, expect_text=False)
            if not parsed.units:
                raise CSLMOutputError("no_units", f"generation has no speech units ({parsed.malformed}): {raw[:200]!r}")
            audio = vocoder.render(parsed.units)
            if parsed.malformed:
                audio.warnings.append(f"malformed generation: {parsed.malformed}")
            out.append(audio)
        return out

    def respond(self, audio: np.ndarray | Audio, instruction: str | None = None, out_lang: str = "en") -> Response:
        """Speech in -> text and speech out, with the released ``decoding`` prompt in ``out_lang``."""
        self.ensure_loaded()
        t0 = time.perf_counter()
        samples = audio.samples if isinstance(audio, Audio) else np.asarray(audio, dtype=np.float32)
        if isinstance(audio, Audio) and audio.sample_rate != SAMPLE_RATE:
            import soxr

            samples = soxr.resample(samples, audio.sample_rate, SAMPLE_RATE).astype(np.float32)
        units, _ = self._units(samples)
        tokenized = time.perf_counter() - t0
        prompt = self.prompts.units_prompt(self.gen.decoding, out_lang, units, instruction)
        ids, events = self._generate(prompt, t0, memo=False)  # timing is measured afresh on every call
        raw, parsed = self._parse(ids, expect_units=True, expect_text=True)
        events = {**events, "speech_tokenizer_end": round(tokenized, 6), "input_units": len(units)}
        wav = None
        if parsed.units and self.vocoder is not None:
            try:
                wav = self._vocoder().render(parsed.units)
                events["audio_end"] = round(time.perf_counter() - t0, 6)
            except VocoderPending as exc:
                events["vocoder_pending"] = str(exc)
        return Response(text=parsed.text, units=parsed.units, unit_runs=None, audio=wav, events=events,
                        malformed=parsed.malformed, raw=raw, segments=parsed.segments)
