"""The cascade baseline: ASR -> text LLM -> TTS, assembled from registered models.

``--model cascade --model-arg asr=whisper-base-bundled --model-arg llm=hf:DIR --model-arg tts=piper-en_US-joe-medium``
- ``asr`` / ``tts``: registered model names, with per-language overrides ``asr_<lang>=`` / ``tts_<lang>=``
  (e.g. ``tts_zh=...``: no Chinese TTS installs offline);
- ``llm``: ``hf:DIR`` (a local transformers chat model, timed with a token streamer) or ``openai:MODEL``
  (an OpenAI-compatible endpoint, as the LLM judge's client: OPENAI_BASE_URL / OPENAI_API_KEY);
- ``max_new_tokens`` (256), ``temperature`` (0: greedy); the system prompt per answer language is below
  (``instruction`` from the task replaces it).
The question's language comes from the task (``wants = {"in_lang"}``). Timing events: ``asr_end``,
``first_text_token`` (the LLM's first token; for an HTTP LLM, when the whole reply arrived), ``llm_end``,
``first_audio`` (the TTS is not streamed, so when it returns), ``end``.
"""
from __future__ import annotations

import re
import threading
import time
from typing import Any

import numpy as np

from harness.audio import Audio
from harness.devices import resolve_device
from harness.errors import CodedError
from harness.model import RESPOND, Model, ModelConfigError
from harness.response import Response

SYSTEM_PROMPTS = {"en": "Answer the user's question in English, briefly and directly.",
                  "zh": "请用中文简洁、直接地回答用户的问题。"}
FIXED_KEYS = {"asr", "llm", "tts", "max_new_tokens", "temperature", "device"}
PER_LANG = re.compile(r"^(asr|tts)_([a-z]{2,3})$")


class CascadeError(CodedError, RuntimeError):
    """A cascade step (ASR, LLM or TTS) that failed for one sample."""


class Cascade(Model):
    """ASR -> text LLM -> TTS from registered models (a baseline for the S2S tasks)."""
    capabilities = frozenset({RESPOND})
    wants = frozenset({"in_lang"})

    def __init__(self, name: str = "cascade", **options: Any):
        from harness.registry import MODELS, UnknownNameError

        extra = sorted(k for k in options if k not in FIXED_KEYS and not PER_LANG.match(k))
        if extra:
            raise ModelConfigError(f"model {name}: unknown option(s) {', '.join(extra)}; accepted: "
                                   f"{', '.join(sorted(FIXED_KEYS))}, asr_<lang>, tts_<lang>")
        for need in ("asr", "llm", "tts"):
            if not options.get(need):
                raise ModelConfigError(f"model {name}: pass --model-arg {need}=... (asr/tts: registered model "
                                       f"names; llm: hf:DIR or openai:MODEL)")
        super().__init__(name, **options)
        self.max_new_tokens = int(options.get("max_new_tokens", 256))
        self.temperature = float(options.get("temperature", 0.0))
        try:  # the local LLM's device; auto: this rank's GPU under torchrun/accelerate, else the CPU
            self.device = resolve_device(options.get("device", "auto"))
        except ValueError as exc:
            raise ModelConfigError(f"model {name}: {exc}") from None
        self.parts: dict[str, Any] = {}  # "asr" / "tts" / "asr_zh" ... -> constructed model
        for key in sorted(k for k in options if k in ("asr", "tts") or PER_LANG.match(k)):
            model_name = options[key]
            try:
                factory = MODELS.get(model_name)
            except UnknownNameError as exc:
                raise ModelConfigError(f"model {name}: {key}: {exc}") from None
            role = "transcribe" if key.startswith("asr") else "synthesize"
            if role not in getattr(factory, "capabilities", ()):
                raise ModelConfigError(f"model {name}: {key}={model_name} cannot {role}")
            self.parts[key] = factory(name=model_name)
        self.llm_spec = options["llm"]
        if not self.llm_spec.startswith(("hf:", "openai:")):
            raise ModelConfigError(f"model {name}: llm={self.llm_spec!r}; use hf:DIR or openai:MODEL")
        self._lock = threading.Lock()

    def part(self, role: str, lang: str) -> Any:
        return self.parts.get(f"{role}_{lang}") or self.parts[role]

    def supports_language(self, lang: str) -> bool:
        return self.part("tts", lang).supports_language(lang) and lang in SYSTEM_PROMPTS

    def describe(self) -> dict[str, Any]:
        return {"id": self.name, "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "parts": {key: model.describe() for key, model in sorted(self.parts.items())},
                "llm": self.llm_spec, "max_new_tokens": self.max_new_tokens, "temperature": self.temperature,
                "device": self.device.split(":")[0],
                "system_prompts": SYSTEM_PROMPTS}

    def load(self) -> None:
        for model in self.parts.values():
            model.ensure_loaded()
        kind, _, target = self.llm_spec.partition(":")
        if kind == "openai":
            from harness.judges.openai_compat import OpenAICompatibleJudge

            self.client = OpenAICompatibleJudge(target)
        else:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(target)
            self.llm = AutoModelForCausalLM.from_pretrained(target, dtype=torch.float32).to(self.device).eval()

    # -- one request -----------------------------------------------------------------------------
    def _generate_local(self, messages: list[dict[str, str]], t0: float) -> tuple[str, float | None]:
        import torch
        from transformers.generation.streamers import BaseStreamer

        class FirstToken(BaseStreamer):  # token-level stamp (TextIteratorStreamer waits for whitespace)
            def __init__(self):
                self.first, self.prompt_seen = None, False

            def put(self, value):
                if not self.prompt_seen:
                    self.prompt_seen = True
                elif self.first is None:
                    self.first = round(time.perf_counter() - t0, 6)

            def end(self):
                pass

        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = self.tokenizer(text, return_tensors="pt", add_special_tokens=False).to(self.device)
        streamer = FirstToken()
        sample = self.temperature > 0
        extra = {"temperature": self.temperature} if sample else {"temperature": None, "top_p": None, "top_k": None}
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with torch.inference_mode():
            out = self.llm.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=sample,
                                    pad_token_id=pad, streamer=streamer, **extra)
        reply = self.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        return reply.strip(), streamer.first

    def _generate_remote(self, messages: list[dict[str, str]], t0: float) -> tuple[str, float | None]:
        from harness.judges.base import JudgeSettings

        settings = JudgeSettings(prompt=None, temperature=self.temperature, max_tokens=self.max_new_tokens)
        reply = self.client.complete(messages, settings)[0]
        return reply.strip(), round(time.perf_counter() - t0, 6)

    def respond(self, audio: Any, instruction: str | None = None, out_lang: str = "en",
                in_lang: str | None = None) -> Response:
        self.ensure_loaded()
        t0 = time.perf_counter()
        samples = audio.samples if isinstance(audio, Audio) else np.asarray(audio, dtype=np.float32)
        asr = self.part("asr", in_lang or out_lang)
        with self._lock:  # one request at a time through the shared models
            question = asr.transcribe([samples], in_lang or out_lang)[0]
            events: dict[str, Any] = {"asr_end": round(time.perf_counter() - t0, 6)}
            messages = [{"role": "system", "content": instruction or SYSTEM_PROMPTS[out_lang]},
                        {"role": "user", "content": question}]
            generate = self._generate_remote if self.llm_spec.startswith("openai:") else self._generate_local
            text, first = generate(messages, t0)
            events.update(first_text_token=first, llm_end=round(time.perf_counter() - t0, 6))
            if not text:
                raise CascadeError("empty_answer", f"the LLM gave an empty answer to {question[:80]!r}")
            wav = self.part("tts", out_lang).synthesize([text], out_lang)[0]
        now = round(time.perf_counter() - t0, 6)
        events.update(first_audio=now, audio_end=now, end=now, question_transcript=question)
        return Response(text=text, audio=wav, events=events)
