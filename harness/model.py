"""What a model adapter is: a declared set of capabilities, a description for provenance, lazy weights.

A task checks ``cls.capabilities`` (a class attribute) before anything is constructed or loaded, so a
mismatched pairing is refused at once. Constructing an adapter must stay cheap: weights load on first
use (``load()``), so configuration mistakes surface before any model is read from disk.
"""
from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np

from harness.audio import Audio
from harness.response import Response

TRANSCRIBE = "transcribe"   # transcribe(list of 16 kHz float32 arrays, lang) -> list[str]
SYNTHESIZE = "synthesize"   # synthesize(list[str], lang) -> list[Audio]
RESPOND = "respond"         # respond(audio, instruction, out_lang) -> Response (S2S tasks)
HISTORY = "history"         # a ``wants`` entry: respond() takes history=[Turn, ...] (multi-turn conversations)
CAPABILITIES = (TRANSCRIBE, SYNTHESIZE, RESPOND)


class ModelConfigError(ValueError):
    """A model option that cannot work (unknown option, missing file, unsupported language)."""


class Model:
    capabilities: ClassVar[frozenset[str]] = frozenset()
    languages: ClassVar[frozenset[str] | None] = None  # None: any language
    input_sample_rate: ClassVar[int] = 16000            # what transcribe() expects
    # Sample context an adapter needs besides audio/text (most need none): "id" (precomputed outputs are looked
    # up by manifest id), "in_lang" (a cascade's ASR must know the question's language), "text" (the item's
    # transcript: a cascade whose ASR is replaced by it measures its text LLM alone), "history" (the model holds
    # a conversation: multi-turn tasks call respond once per round with history=[harness.response.Turn, ...], the
    # earlier rounds' user audio and the model's own answers; a multi-turn set refuses a model without it).
    # Tasks pass them as keywords: ids=[...] to transcribe/synthesize, item_id= / in_lang= / question_text= /
    # history= to respond (see sample_kwargs below).
    wants: ClassVar[frozenset[str]] = frozenset()
    # The options (--model-arg KEY=VALUE) this adapter takes. Model refuses any other key before the adapter's
    # __init__ runs, naming the known ones. None: the keyword parameters of the adapter's __init__. An adapter
    # whose own __init__ takes **options and declares no ``allowed`` receives every key and checks them itself
    # (a wrapper passes them on to its inner model; a cascade takes per-part families such as tts_zh.rate).
    allowed: ClassVar[frozenset[str] | None] = None

    def __new__(cls, *args: Any, **options: Any):
        # Here, not in __init__: adapters call Model.__init__ last, with the options they kept.
        name = options.pop("name", args[0] if args else cls.__name__)
        known = cls.known_options()
        if known is not None:
            unknown_options(name, options, set(known))
        return super().__new__(cls)

    @classmethod
    def known_options(cls) -> frozenset[str] | None:
        """The option keys the base class accepts for this adapter; None: the adapter checks its own."""
        if cls.allowed is not None:
            return cls.allowed
        params = list(inspect.signature(cls.__init__).parameters.values())[2:]  # past self and the name
        if cls.__init__ is not Model.__init__ and any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))

    def __init__(self, name: str, **options: Any):
        self.name = name
        self.options = options
        self._loaded = False

    # -- lifecycle ------------------------------------------------------------------------
    def load(self) -> None:
        """Read weights. Called once, lazily, by ``ensure_loaded``."""

    def ensure_loaded(self) -> None:
        if not self._loaded:
            self.load()
            self._loaded = True

    def prepare(self, needs: set[str]) -> None:
        """Check, before anything loads, that this configuration can serve the capabilities a task needs
        (e.g. a speech LM configured without a vocoder cannot synthesize); raise ModelConfigError if not."""

    def check_items(self, items: list[Any], needs: set[str]) -> list[str]:
        """Check, before any sample runs, that this model can serve these manifest items (e.g. precomputed outputs
        hold an output for them); raise ModelConfigError when it can serve none, return warnings (one line
        each) about the ones it cannot serve, which then fail as the system's failures."""
        return []

    def describe(self) -> dict[str, Any]:
        """Identity for cache keys and provenance: id, revision, backend, options that shape outputs."""
        return {"id": self.name, "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "options": {k: v for k, v in sorted(self.options.items())}}

    def supports_language(self, lang: str) -> bool:
        return self.languages is None or lang in self.languages

    # -- capabilities (override what the model can do) --------------------------------------
    def transcribe(self, audios: list[np.ndarray], lang: str) -> list[str]:
        """One transcript per audio (mono float32 at ``input_sample_rate``), in language ``lang`` ("en", "zh").
        With ``"id" in wants`` the call also gets ``ids=[...]``, the manifest ids of the audios."""
        raise NotImplementedError(f"{self.name} cannot transcribe")

    def synthesize(self, texts: list[str], lang: str) -> list[Audio]:
        """One ``Audio`` (samples + their rate; the task resamples) per text in language ``lang``. With
        ``"id" in wants`` the call also gets ``ids=[...]``."""
        raise NotImplementedError(f"{self.name} cannot synthesize")

    def respond(self, audio: np.ndarray, instruction: str | None, out_lang: str, **context: Any) -> Response:
        """Answer one spoken question (mono float32 at ``input_sample_rate``) with a ``harness.response.Response``:
        ``text`` (the text channel), ``audio`` (the speech channel, or None: the task counts it as missing),
        ``units`` and ``events`` (seconds since the request started, e.g. ``first_audio``, which the latency
        task reads). ``instruction`` is the task's system prompt (None: the model's own); ``out_lang`` the
        answer's language ("zh" -> "en" in the cross-lingual tasks). ``context`` holds what ``wants`` asks for:
        ``item_id``, ``in_lang``, ``question_text``, ``history`` (earlier rounds, oldest first: [] in round 1;
        ``question_text`` is then this round's transcript). A model may add ``respond_batch(audios, instruction,
        out_langs)`` (a Response or an exception per question), which the S2S tasks call instead when present;
        with ``"history"`` in ``wants`` it also takes ``histories=[[Turn, ...], ...]``, one per question.
        Raise to fail this sample alone: the system's failure, unless the error is a ``harness.errors.CodedError``
        with another ``kind``."""
        raise NotImplementedError(f"{self.name} cannot respond")


def sample_kwargs(model: Any, items: list[Any]) -> dict[str, Any]:
    """Keywords for a batch call (transcribe/synthesize) on manifest ``items``, per the model's ``wants``."""
    return {"ids": [item.id for item in items]} if "id" in getattr(model, "wants", ()) else {}


def respond_kwargs(model: Any, item: Any) -> dict[str, Any]:
    """Keywords for respond() on one manifest item, per the model's ``wants``."""
    wants = getattr(model, "wants", ())
    return {**({"item_id": item.id} if "id" in wants else {}), **({"in_lang": item.lang} if "in_lang" in wants else {}),
            **({"question_text": item.text} if "text" in wants else {})}


def turn_kwargs(model: Any, item: Any, question_text: str, history: list[Any]) -> dict[str, Any]:
    """Keywords for respond() on one round of a multi-turn item: as respond_kwargs, with this round's transcript
    and the earlier rounds (``history``: harness.response.Turn, the model's own answers)."""
    wants = getattr(model, "wants", ())
    return {**respond_kwargs(model, item), **({"question_text": question_text} if "text" in wants else {}),
            "history": list(history)}


def unknown_options(model: str, given: dict[str, Any], allowed: set[str]) -> None:
    """Fail fast on an option the adapter would otherwise ignore."""
    extra = sorted(set(given) - allowed)
    if extra:
        raise ModelConfigError(
            f"model {model}: unknown option(s) {', '.join(extra)}; accepted: {', '.join(sorted(allowed)) or 'none'}")
