"""What a model adapter is: a declared set of capabilities, a description for provenance, lazy weights.

A task checks ``cls.capabilities`` (a class attribute) before anything is constructed or loaded, so a
mismatched pairing is refused at once. Constructing an adapter must stay cheap: weights load on first
use (``load()``), so configuration mistakes surface before any model is read from disk.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from harness.audio import Audio

TRANSCRIBE = "transcribe"   # transcribe(list of 16 kHz float32 arrays, lang) -> list[str]
SYNTHESIZE = "synthesize"   # synthesize(list[str], lang) -> list[Audio]
RESPOND = "respond"         # respond(audio, instruction, out_lang) -> Response (S2S tasks)
CAPABILITIES = (TRANSCRIBE, SYNTHESIZE, RESPOND)


class ModelConfigError(ValueError):
    """A model option that cannot work (unknown option, missing file, unsupported language)."""


class Model:
    capabilities: ClassVar[frozenset[str]] = frozenset()
    languages: ClassVar[frozenset[str] | None] = None  # None: any language
    input_sample_rate: ClassVar[int] = 16000            # what transcribe() expects
    # Sample context an adapter needs besides audio/text (most need none): "id" (precomputed outputs are looked
    # up by manifest id), "in_lang" (a cascade's ASR must know the question's language), "text" (the item's
    # transcript: a cascade whose ASR is replaced by it measures its text LLM alone). Tasks pass them as
    # keywords: ids=[...] to transcribe/synthesize, item_id= / in_lang= / question_text= to respond (see
    # sample_kwargs below).
    wants: ClassVar[frozenset[str]] = frozenset()

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

    def describe(self) -> dict[str, Any]:
        """Identity for cache keys and provenance: id, revision, backend, options that shape outputs."""
        return {"id": self.name, "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "options": {k: v for k, v in sorted(self.options.items())}}

    def supports_language(self, lang: str) -> bool:
        return self.languages is None or lang in self.languages

    # -- capabilities (override what the model can do) --------------------------------------
    def transcribe(self, audios: list[np.ndarray], lang: str) -> list[str]:
        raise NotImplementedError(f"{self.name} cannot transcribe")

    def synthesize(self, texts: list[str], lang: str) -> list[Audio]:
        raise NotImplementedError(f"{self.name} cannot synthesize")


def sample_kwargs(model: Any, items: list[Any]) -> dict[str, Any]:
    """Keywords for a batch call (transcribe/synthesize) on manifest ``items``, per the model's ``wants``."""
    return {"ids": [item.id for item in items]} if "id" in getattr(model, "wants", ()) else {}


def respond_kwargs(model: Any, item: Any) -> dict[str, Any]:
    """Keywords for respond() on one manifest item, per the model's ``wants``."""
    wants = getattr(model, "wants", ())
    return {**({"item_id": item.id} if "id" in wants else {}), **({"in_lang": item.lang} if "in_lang" in wants else {}),
            **({"question_text": item.text} if "text" in wants else {})}


def unknown_options(model: str, given: dict[str, Any], allowed: set[str]) -> None:
    """Fail fast on an option the adapter would otherwise ignore."""
    extra = sorted(set(given) - allowed)
    if extra:
        raise ModelConfigError(
            f"model {model}: unknown option(s) {', '.join(extra)}; accepted: {', '.join(sorted(allowed)) or 'none'}")
