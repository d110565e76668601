"""The cascade baseline: ASR -> text LLM -> TTS, assembled from registered models.

``--model cascade --model-arg asr=whisper-base-bundled --model-arg llm=hf:DIR --model-arg tts=piper-en_US-joe-medium``
- ``asr`` / ``tts``: registered model names, with per-language overrides ``asr_<lang>=`` / ``tts_<lang>=``
  (e.g. ``tts_zh=...``: no Chinese TTS installs offline); ``<part>.<option>=`` passes an option to one part
  (``tts_zh.rate=110``, ``tts.noise_scale=0``); ``asr=reference`` (or ``asr_<lang>=reference``) is no ASR at
  all: the LLM gets the item's own transcript (the manifest's text), which measures the text LLM alone on the
  spoken questions (the ceiling of the cascade's spoken figure);
- ``llm``: ``hf:DIR`` (a local transformers chat model, timed with a token streamer) or ``openai:MODEL``
  (an OpenAI-compatible endpoint, as the LLM judge's client: OPENAI_BASE_URL / OPENAI_API_KEY);
- ``max_new_tokens`` (256), ``temperature`` (0: greedy);
- ``system_prompt``: ``default`` (the system prompt per answer language below), ``none`` (no system turn: what a
  chat model trained without one expects) or ``cross-lingual`` (the system prompt only when the answer language
  differs from the question's: the only case the question alone does not say it); ``instruction`` from the
  task replaces the system prompt in every mode;
- ``label``: the name the system goes by in results and leaderboards (default: the registered name).
The question's language comes from the task (``wants = {"in_lang"}``; with a ``reference`` ASR also its transcript,
``"text"``). Multi-turn sets (``"history"``): earlier rounds enter the LLM's chat as user = this cascade's transcript
of that round, assistant = its own text answer. Timing events (seconds since the
request, the ASR included): ``asr_end``, ``first_text_token`` (the LLM's first token; for an HTTP LLM, when the
whole reply arrived), ``llm_end``, ``first_audio`` (the TTS is not streamed: when it returns the whole answer),
``end``; counts: ``text_tokens`` (the answer's tokens, the end-of-turn token excluded) and, as the latency task
reads it, ``tokens_before_first_chunk_end`` = ``text_tokens`` (the TTS speaks the whole answer at once, so its
first audio waits for every text token; there are no speech units). An HTTP LLM reports no token counts.
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
FIXED_KEYS = {"asr", "llm", "tts", "max_new_tokens", "temperature", "device", "system_prompt", "label"}
PER_LANG = re.compile(r"^(asr|tts)_([a-z]{2,3})$")
PART_OPTION = re.compile(r"^((?:asr|tts)(?:_[a-z]{2,3})?)\.([A-Za-z_][A-Za-z0-9_]*)$")  # tts_zh.rate=110
SYSTEM_PROMPT_MODES = ("default", "none", "cross-lingual")
REFERENCE = "reference"  # asr=reference: the item's own transcript instead of an ASR model


class CascadeError(CodedError, RuntimeError):
    """A cascade step (ASR, LLM or TTS) that failed for one sample."""


class Cascade(Model):
    """ASR -> text LLM -> TTS from registered models (a baseline for the S2S tasks)."""
    capabilities = frozenset({RESPOND})
    wants = frozenset({"in_lang", "history"})  # history: a text chat history across rounds (multi-turn sets)

    def __init__(self, name: str = "cascade", **options: Any):
        from harness.registry import MODELS, UnknownNameError

        extra = sorted(k for k in options if k not in FIXED_KEYS and not PER_LANG.match(k) and not PART_OPTION.match(k))
        if extra:
            raise ModelConfigError(f"model {name}: unknown option(s) {', '.join(extra)}; accepted: "
                                   f"{', '.join(sorted(FIXED_KEYS))}, asr_<lang>, tts_<lang>, <part>.<option>")
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
        self.system_prompt = str(options.get("system_prompt", "default"))
        if self.system_prompt not in SYSTEM_PROMPT_MODES:
            raise ModelConfigError(f"model {name}: system_prompt={self.system_prompt!r}; use one of "
                                   f"{', '.join(SYSTEM_PROMPT_MODES)}")
        self.label = str(options.get("label") or name)
        keys = sorted(k for k in options if k in ("asr", "tts") or PER_LANG.match(k))
        part_options: dict[str, dict[str, str]] = {}
        for key in options:
            match = PART_OPTION.match(key)
            if match:
                if match.group(1) not in keys:
                    raise ModelConfigError(f"model {name}: {key} sets an option of {match.group(1)}, which is not "
                                           f"given (pass --model-arg {match.group(1)}=MODEL)")
                part_options.setdefault(match.group(1), {})[match.group(2)] = options[key]
        self.parts: dict[str, Any] = {}  # "asr" / "tts" / "asr_zh" ... -> constructed model (None: reference)
        for key in keys:
            model_name = options[key]
            if key.startswith("asr") and model_name == REFERENCE:
                if key in part_options:
                    raise ModelConfigError(f"model {name}: {key}={REFERENCE} is no model: it takes no options")
                self.parts[key] = None
                continue
            try:
                factory = MODELS.get(model_name)
            except UnknownNameError as exc:
                raise ModelConfigError(f"model {name}: {key}: {exc}") from None
            role = "transcribe" if key.startswith("asr") else "synthesize"
            if role not in getattr(factory, "capabilities", ()):
                raise ModelConfigError(f"model {name}: {key}={model_name} cannot {role}")
            self.parts[key] = factory(name=model_name, **part_options.get(key, {}))
        if any(model is None for model in self.parts.values()):  # the task passes each item's transcript
            self.wants = frozenset({"in_lang", "text", "history"})
        self.llm_spec = options["llm"]
        if not self.llm_spec.startswith(("hf:", "openai:")):
            raise ModelConfigError(f"model {name}: llm={self.llm_spec!r}; use hf:DIR or openai:MODEL")
        self._lock = threading.Lock()

    def part(self, role: str, lang: str) -> Any:
        key = f"{role}_{lang}"
        return self.parts[key] if key in self.parts else self.parts[role]

    def supports_language(self, lang: str) -> bool:
        return self.part("tts", lang).supports_language(lang) and lang in SYSTEM_PROMPTS

    def describe(self) -> dict[str, Any]:
        return {"id": self.label, "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "parts": {key: {"id": REFERENCE, "what": "the item's own transcript (no ASR)"} if model is None
                          else model.describe() for key, model in sorted(self.parts.items())},
                "llm": self.llm_spec, "max_new_tokens": self.max_new_tokens, "temperature": self.temperature,
                "device": self.device.split(":")[0], "system_prompt": self.system_prompt,
                "system_prompts": SYSTEM_PROMPTS}

    def load(self) -> None:
        for model in self.parts.values():
            if model is not None:
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
    def _generate_local(self, messages: list[dict[str, str]], t0: float) -> tuple[str, float | None, int | None]:
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
        new = out[0, inputs["input_ids"].shape[1]:].tolist()
        ends = self.llm.generation_config.eos_token_id
        ends = set(ends if isinstance(ends, (list, tuple)) else [ends])
        tokens = len(new) - (1 if new and new[-1] in ends else 0)  # the end-of-turn token is no answer text
        reply = self.tokenizer.decode(new, skip_special_tokens=True)
        return reply.strip(), streamer.first, tokens

    def _generate_remote(self, messages: list[dict[str, str]], t0: float) -> tuple[str, float | None, int | None]:
        from harness.judges.base import JudgeSettings

        settings = JudgeSettings(prompt=None, temperature=self.temperature, max_tokens=self.max_new_tokens)
        reply = self.client.complete(messages, settings)[0]
        return reply.strip(), round(time.perf_counter() - t0, 6), None

    def _system(self, instruction: str | None, in_lang: str, out_lang: str) -> list[dict[str, str]]:
        if instruction:
            return [{"role": "system", "content": instruction}]
        if self.system_prompt == "none" or (self.system_prompt == "cross-lingual" and in_lang == out_lang):
            return []
        return [{"role": "system", "content": SYSTEM_PROMPTS[out_lang]}]

    @staticmethod
    def _history(history: list | None) -> list[dict[str, str]]:
        """Earlier rounds as chat turns: the user's words as this cascade heard them (its own transcript of that
        round) and its own text answer, as URO-Bench's cascade examples (llm-test/inference_multi.py) keep them."""
        messages = []
        for turn in history or []:
            heard = turn.response.events.get("question_transcript")
            if heard is None:
                raise ModelConfigError("a history turn without question_transcript was not answered by a cascade")
            messages += [{"role": "user", "content": heard}, {"role": "assistant", "content": turn.response.text}]
        return messages

    def respond(self, audio: Any, instruction: str | None = None, out_lang: str = "en",
                in_lang: str | None = None, question_text: str | None = None, history: list | None = None) -> Response:
        """``question_text``: the item's transcript (this round's), passed by the task when an ``asr`` part is
        ``reference``; ``history``: earlier rounds (harness.response.Turn), kept as a text chat history."""
        self.ensure_loaded()
        t0 = time.perf_counter()
        samples = audio.samples if isinstance(audio, Audio) else np.asarray(audio, dtype=np.float32)
        lang = in_lang or out_lang
        asr = self.part("asr", lang)
        with self._lock:  # one request at a time through the shared models
            if asr is None:
                if question_text is None:
                    raise ModelConfigError(f"model {self.name}: asr={REFERENCE} needs the item's transcript, which "
                                           f"this task does not pass")
                question = question_text
            else:
                question = asr.transcribe([samples], lang)[0]
            events: dict[str, Any] = {"asr_end": round(time.perf_counter() - t0, 6)}
            messages = [*self._system(instruction, lang, out_lang), *self._history(history),
                        {"role": "user", "content": question}]
            generate = self._generate_remote if self.llm_spec.startswith("openai:") else self._generate_local
            text, first, tokens = generate(messages, t0)
            events.update(first_text_token=first, llm_end=round(time.perf_counter() - t0, 6))
            if tokens is not None:
                events.update(text_tokens=tokens, tokens_before_first_chunk_end=tokens)
            if not text:
                raise CascadeError("empty_answer", f"the LLM gave an empty answer to {question[:80]!r}")
            wav = self.part("tts", out_lang).synthesize([text], out_lang)[0]
        now = round(time.perf_counter() - t0, 6)
        events.update(first_audio=now, audio_end=now, end=now, question_transcript=question)
        return Response(text=text, audio=wav, events=events)
