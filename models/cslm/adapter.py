"""CSLM as a harness model: speech tokenizer -> prompt -> Llama generation -> channels -> unit vocoder.

Registered as ``cslm-sft`` and ``cslm-base`` (released Hub checkpoints; ``--model-path`` overrides) and ``cslm``
(any local folder). Capabilities:
- ``transcribe``: ASR prompt (units in, text out) -> text channel;
- ``synthesize``: TTS prompt (text in, units out) -> unit vocoder -> Audio (the generated units are run-merged:
  the codec vocoder restores each run's frames with its duration model first, see ``vocoder_durations``);
- ``respond`` / ``respond_batch``: released general / cross-lingual prompt -> harness.response.Response (both
  channels, timing).
Generation runs locally (transformers, ``gen_batch_size`` requests per left-padded batch) or on an
OpenAI-compatible completions server (``server=``); models.cslm.generation has both. Each request draws
from its own seed (options.sample_seed), so its sample does not depend on which requests share its batch.
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
from harness.model import HISTORY, RESPOND, SYNTHESIZE, TRANSCRIBE, Model, ModelConfigError, unknown_options
from harness.response import Response
from models.cslm import checkpoint
from models.cslm.backend_options import BACKEND_KEYS, CSLMBackendOptions
from models.cslm.dialogue import assistant_turn
from models.cslm.options import GENERATION_KEYS, CSLMGenerationOptions
from models.cslm.parsing import ParsedGeneration, parse_generation
from models.cslm.prompts import Prompt, PromptBuilder, load_prompt_table
from models.cslm.speech_tokenizer import SAMPLE_RATE, SpeechTokenizer, default_cache_dir, file_sha256
from models.cslm.units import SPAN_CLOSE, SPAN_OPEN, detect_units, merge_repeats
from models.cslm.vocoder import COSYVOICE_25HZ, VocoderPending, make_vocoder

log = logging.getLogger(__name__)
TOKENIZER_FILE = "speech_tokenizer_v1.onnx"
ADAPTER_KEYS = {"path", "revision", "speech_tokenizer", "long_audio", "unit_cache", "vocoder", "vocoder_speaker",
                "vocoder_prompt_wav", "vocoder_durations", "prompts", "device", "unit_format"}
# vocoder_durations: how the generated (run-merged) units get their frames before the vocoder -- "predicted" (the
# codec vocoder's duration model; vocoders without one render one frame per run) or "none" (one frame per run
# everywhere: the path before the duration model). describe()["unit_durations"] records which ran.
DURATION_CHOICES = ("predicted", "none")


class CSLMOutputError(CodedError, RuntimeError):
    """A generation that cannot serve the request (e.g. TTS output without units); ``code`` is counted."""


class CSLM(Model):
    capabilities = frozenset({TRANSCRIBE, SYNTHESIZE, RESPOND})
    input_sample_rate = SAMPLE_RATE
    wants = frozenset({HISTORY})  # multi-turn: earlier rounds in the prompt (models.cslm.dialogue)

    def __init__(self, name: str = "cslm", **options: Any):
        unknown_options(name, options, ADAPTER_KEYS | GENERATION_KEYS | BACKEND_KEYS)
        super().__init__(name, **options)
        self.backend = CSLMBackendOptions.from_args(options)  # refuses options the chosen backend ignores
        self.table = load_prompt_table(options.get("prompts"))
        self.ckpt = checkpoint.resolve(name, options.get("path"), options.get("revision"))
        self.gen = CSLMGenerationOptions.from_args({**self._checkpoint_defaults(), **options})
        try:  # this rank's GPU under torchrun / accelerate, else the CPU
            self.device = resolve_device(options.get("device", "auto"))
        except ValueError as exc:
            raise ModelConfigError(f"{name}: {exc}") from None
        self.vocoder_spec = options.get("vocoder") or ("cosyvoice" if self.ckpt.hub_id else "none")
        durations = options.get("vocoder_durations", "predicted")
        if durations not in DURATION_CHOICES:
            raise ModelConfigError(f"{name}: vocoder_durations={durations!r}: choose {' or '.join(DURATION_CHOICES)}")
        self.vocoder = make_vocoder(self.vocoder_spec, options.get("vocoder_speaker"),
                                    options.get("vocoder_prompt_wav"), durations=durations)
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
                "device": "server" if self.backend.served else self.device.split(":")[0],
                "generation": self.gen.to_dict(), "backend": self.backend.describe(),
                "prompt_mode": self.gen.prompt_mode, "max_new_tokens": self.gen.max_new_tokens,
                "eoa_cut": self.gen.eoa_cut, "prompts": self.table,
                "speech_tokenizer": tok_id, "long_audio": self.options.get("long_audio", "error"),
                "vocoder": self.vocoder.describe() if self.vocoder else None,
                # generated units are run-merged: how their frames were restored before the vocoder
                "unit_durations": self.vocoder.merged_rendering() if self.vocoder else None}
        return self._describe

    def _dtype(self) -> tuple[str, str | None]:
        """(dtype the weights load in, note when it differs from the requested one)."""
        if self.backend.served:
            return "server", f"weights and dtype are the server's ({self.backend.server})"
        bf16 = False
        if self.device.startswith("cuda"):
            import torch

            bf16 = torch.cuda.is_bf16_supported()
        return self.gen.resolve_dtype(self.device, bf16)

    # -- loading -----------------------------------------------------------------------------------
    def load(self) -> None:
        from transformers import AutoTokenizer

        folder = self.ckpt.fetch()
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.vocab = detect_units(self.tokenizer, prefer=self.options.get("unit_format"))
        self.model = None if self.backend.served else self._load_weights(folder)
        self.prompts = PromptBuilder(self.tokenizer, self.vocab, self.table, self.gen.prompt_mode,
                                     self.gen.max_input_tokens)
        self.prompts.self_check()
        self.gen_config = self._generation_config(folder)
        self.end_ids = set(self.gen_config.eos_token_id if isinstance(self.gen_config.eos_token_id, list)
                           else [self.gen_config.eos_token_id])
        vocab = self.tokenizer.get_vocab()
        self.marker_ids = {vocab[t] for t in (SPAN_OPEN, SPAN_CLOSE) if t in vocab}
        self.specials = tuple(t for t in self.tokenizer.all_special_tokens if t)
        self.generator = self._generator()
        self.speech_tokenizer = self._load_speech_tokenizer()
        if self.vocoder is not None and self._vocoder_explicit:
            self.vocoder.load()  # asked for by name: configuration errors stop the run before any sample
            self._vocoder_ready = True
        else:
            self._vocoder_ready = False  # default vocoder: loaded on first use (ASR never needs it)

    def _load_weights(self, folder):
        import torch
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, self._dtype()[0]))
        return model.to(self.device).eval()

    def _generation_config(self, folder):
        from transformers import AutoConfig, GenerationConfig

        if self.model is not None:
            cfg = copy.deepcopy(self.model.generation_config)
        else:  # served: the checkpoint's own file, as the server reads it
            try:
                cfg = GenerationConfig.from_pretrained(folder)
            except OSError:
                cfg = GenerationConfig.from_model_config(AutoConfig.from_pretrained(folder))
        g = self.gen
        cfg.do_sample, cfg.max_new_tokens = g.do_sample, g.max_new_tokens
        cfg.temperature, cfg.top_p, cfg.top_k = (g.temperature, g.top_p, g.top_k) if g.do_sample else (None,) * 3
        if cfg.eos_token_id is None:
            cfg.eos_token_id = self.tokenizer.eos_token_id
        if cfg.pad_token_id is None:  # released: pad_token_id=tokenizer.eos_token_id
            cfg.pad_token_id = self.tokenizer.eos_token_id
        return cfg

    def _generator(self):
        """The backend that turns prompt ids into generated ids (models.cslm.generation)."""
        from models.cslm.decode import DecodeSettings
        from models.cslm.generation import LocalBackend, ServedBackend
        from models.cslm.served import CompletionsClient
        from models.cslm.streaming import UnitTimingStreamer

        streams = self.vocoder is not None and self.vocoder.streams

        def new_streamer(t0: float):  # a streaming vocoder renders each speech chunk as generation completes it
            return UnitTimingStreamer(self.vocab, self.marker_ids, self.end_ids, t0=t0, skip_prompt=False,
                                      open_audio=(lambda: self._vocoder().open_stream(merged=True)) if streams else None)

        if self.backend.served:
            client = CompletionsClient(self.backend, jitter_seed=self.gen.seed)
            client.preflight(self.gen.max_input_tokens + self.gen.max_new_tokens)
            return ServedBackend(client, self.gen, self.end_ids, self.backend.concurrency, new_streamer)
        g, pad = self.gen, self.gen_config.pad_token_id
        settings = DecodeSettings(max_new_tokens=g.max_new_tokens, end_ids=frozenset(self.end_ids),
                                  pad_id=int(pad[0] if isinstance(pad, list) else pad), do_sample=g.do_sample,
                                  temperature=g.temperature, top_k=g.top_k, top_p=g.top_p)
        return LocalBackend(self.model, settings, self.backend.gen_batch_size, new_streamer)

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

    # -- generation --------------------------------------------------------------------------------
    def _generate_many(self, prompts: list[Prompt], t0: float, memo: bool = True) -> list[Any]:
        """Per prompt: (generated ids, events) or the exception that request failed with."""
        out: list[Any] = [None] * len(prompts)
        todo = []
        for i, prompt in enumerate(prompts):
            key = prompt.ids.tobytes()
            if memo and key in self._memo:  # a batch retried sample by sample after one bad item: reuse outputs
                out[i] = self._memo[key]
            else:
                todo.append(i)
        if not todo:
            return out
        results = self.generator.run([prompts[i].ids for i in todo],
                                     [self.gen.sample_seed(prompts[i].ids) for i in todo], t0)
        for i, result in zip(todo, results):
            if not isinstance(result, BaseException):
                result = (result[0], {**result[1], "prompt_tokens": len(prompts[i].ids),
                                      "prompt_truncated": prompts[i].truncated})
                if memo:
                    if len(self._memo) > 256:
                        self._memo.clear()
                    self._memo[prompts[i].ids.tobytes()] = result
            out[i] = result
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
        t0 = time.perf_counter()
        prompts = [self.prompts.units_prompt("asr", lang, self._units(samples)[0]) for samples in audios]
        return [self._parse(ids, expect_units=False, expect_text=True)[1].text
                for ids, _ in _or_raise(self._generate_many(prompts, t0))]

    def synthesize(self, texts: list[str], lang: str) -> list[Audio]:
        self.ensure_loaded()
        vocoder = self._vocoder()  # no vocoder: a ModelConfigError naming the options, before generating
        t0 = time.perf_counter()
        prompts = [self.prompts.text_prompt("tts", lang, text) for text in texts]
        out = []
        for ids, events in _or_raise(self._generate_many(prompts, t0)):
            raw, parsed = self._parse(ids, expect_units=True, expect_text=False)
            if not parsed.units:
                raise CSLMOutputError("no_units", f"generation has no speech units ({parsed.malformed}): {raw[:200]!r}")
            audio = self._streamed(parsed, dict(events)) or vocoder.render_merged(parsed.units)
            if parsed.malformed:
                audio.warnings.append(f"malformed generation: {parsed.malformed}")
            out.append(audio)
        return out

    def respond(self, audio: np.ndarray | Audio, instruction: str | None = None, out_lang: str = "en",
                history: list | None = None) -> Response:
        """Speech in -> text and speech out, with the released ``decoding`` prompt in ``out_lang``; ``history``:
        earlier rounds (harness.response.Turn: their audio and this model's own answers) before it."""
        return _or_raise(self.respond_batch([audio], instruction, [out_lang], histories=[history or []]))[0]

    def prompt_for(self, audio: np.ndarray | Audio, out_lang: str, instruction: str | None = None,
                   history: list | None = None):
        """The prompt respond() generates from: (Prompt, question units). With ``history``, each earlier round
        is its question units (user turn) and this model's own answer as an SFT assistant turn."""
        self.ensure_loaded()
        units, _ = self._units(_samples_16k(audio))
        earlier = [(self._units(_samples_16k(turn.audio))[0], self._assistant_turn(turn.response))
                   for turn in history or []]
        return self.prompts.dialogue_prompt(self.gen.decoding, out_lang, earlier, units, instruction), units

    def _assistant_turn(self, response: Response) -> str:
        """An earlier answer of this model as the SFT data writes an assistant turn (models.cslm.dialogue)."""
        parsed = parse_generation(self.gen.cut_at_eoa(response.raw), self.vocab.pattern, self.vocab.n_units,
                                  self.gen.chain, drop=self.specials) if response.raw else None
        return assistant_turn(parsed.question if parsed else None, parsed.segments if parsed else response.segments,
                              self.vocab, self.gen.chain)

    def respond_batch(self, audios: list[np.ndarray | Audio], instruction: str | None = None,
                      out_langs: list[str] | None = None, histories: list[list] | None = None
                      ) -> list[Response | BaseException]:
        """respond() for several questions at once (decoded together; timed from this call's start). Returns,
        per question, its Response or the exception it failed with (the others are unaffected)."""
        self.ensure_loaded()
        t0 = time.perf_counter()
        out_langs = out_langs or ["en"] * len(audios)
        histories = histories or [[] for _ in audios]
        out: list[Any] = [None] * len(audios)
        prompts, owners, extras = [], [], []
        for i, (audio, lang, history) in enumerate(zip(audios, out_langs, histories)):
            try:
                prompt, units = self.prompt_for(audio, lang, instruction, history)
                prompts.append(prompt)
            except ModelConfigError:
                raise  # configuration (no speech tokenizer, no prompt for lang): stop, do not count per sample
            except Exception as exc:  # noqa: BLE001 -- e.g. audio the speech tokenizer refuses: this one fails
                out[i] = exc
                continue
            owners.append(i)
            extras.append({"speech_tokenizer_end": round(time.perf_counter() - t0, 6), "input_units": len(units)})
        # timing is measured afresh on every call: no memo
        for i, extra, result in zip(owners, extras, self._generate_many(prompts, t0, memo=False) if prompts else []):
            try:
                out[i] = result if isinstance(result, BaseException) else self._response(*result, extra, t0)
            except Exception as exc:  # noqa: BLE001 -- a vocoder failure fails this answer only
                out[i] = exc
        return out

    def _response(self, ids: list[int], events: dict[str, Any], extra: dict[str, Any], t0: float) -> Response:
        raw, parsed = self._parse(ids, expect_units=True, expect_text=True)
        events = {**events, **extra}
        wav = self._streamed(parsed, events)
        if wav is None and parsed.units and self.vocoder is not None:
            try:
                wav = self._vocoder().render_merged(parsed.units)
                events["audio_end"] = round(time.perf_counter() - t0, 6)
            except VocoderPending as exc:
                events["vocoder_pending"] = str(exc)
        return Response(text=parsed.text, units=parsed.units, unit_runs=None, audio=wav, events=events,
                        malformed=parsed.malformed, raw=raw, segments=parsed.segments)

    @staticmethod
    def _streamed(parsed: ParsedGeneration, events: dict[str, Any]) -> Audio | None:
        """The waveform rendered during generation (takes ``stream`` out of ``events``), when it is the
        answer's: the units the vocoder got are the parsed ones (an <eoa> cut or a malformed token can
        differ; then the caller renders the parsed units whole and ``first_audio`` stays the streamed one)."""
        stream = events.pop("stream", None)
        if stream is None:
            return None
        if stream.complete and stream.units == list(parsed.units):
            return Audio(stream.samples(), stream.sample_rate)
        events["stream_units_differ"] = True
        return None


def _samples_16k(audio: np.ndarray | Audio) -> np.ndarray:
    if not isinstance(audio, Audio):
        return np.asarray(audio, dtype=np.float32)
    if audio.sample_rate == SAMPLE_RATE:
        return audio.samples
    import soxr

    return soxr.resample(audio.samples, audio.sample_rate, SAMPLE_RATE).astype(np.float32)


def _or_raise(results: list[Any]) -> list[Any]:
    """Capabilities without a per-item failure channel (transcribe, synthesize, respond): the first failure
    raises; the runner then retries sample by sample, and the memo keeps what already succeeded."""
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
