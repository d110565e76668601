"""Fault injection: any registered model, failing on chosen samples in a chosen way.

``--model faulty --model-arg inner=piper-en_US-joe-medium --model-arg fault=silent --model-arg every=2`` is Piper
with every second sample silent. As a judge (``--judge en=faulty --judge-arg en.inner=... en.fault=raise``) it
makes the measurement fail. It shows what a harness does with failures, on real models: a system's failures must
raise its error rate, a judge's must make the result incomplete.

Which samples fail: the k-th, 2k-th, ... distinct sample ids this instance sees (``every=k``; first-seen order,
so a batch retried sample by sample fails the same ones), or the ids listed in ``ids=a,b,c``.
Faults: ``raise`` (the call raises), ``silent`` (all-zero audio / empty text), ``empty`` (no samples / empty
text), ``nan`` (NaN audio), ``long`` (audio padded to ``long_seconds``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from harness.audio import Audio
from harness.model import CAPABILITIES, ModelConfigError
from models.common import convert
from models.wrapper import WrappedModel

FAULTS = ("raise", "silent", "empty", "nan", "long")


class InjectedFault(RuntimeError):
    code = "injected_fault"


class Faulty(WrappedModel):
    capabilities: ClassVar[frozenset[str]] = frozenset(CAPABILITIES)  # narrowed to the inner model's in prepare()
    wants: ClassVar[frozenset[str]] = frozenset({"id", "in_lang"})      # samples are chosen by id

    def __init__(self, name: str, inner: str | None = None, fault: str = "raise", every: Any = 2,
                 ids: str | None = None, long_seconds: Any = 120.0, **inner_options: Any):
        if fault not in FAULTS:
            raise ModelConfigError(f"model {name}: fault={fault!r}; use one of {', '.join(FAULTS)}")
        self.every = convert(name, "every", every, int)
        if self.every < 1:
            raise ModelConfigError(f"model {name}: every must be >= 1")
        self.ids = frozenset(i for i in (ids or "").split(",") if i) or None
        self.fault, self.long_seconds = fault, convert(name, "long_seconds", long_seconds, float)
        super().__init__(name, inner, "the model to inject faults into", inner_options, fault=fault,
                         every=self.every, ids=ids)
        self.window_seconds = getattr(self.inner, "window_seconds", None)
        self._order: dict[str, int] = {}

    # -- identity: the inner model's, plus the fault ------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {"id": self.name, "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "fault": self.fault, "every": self.every, "ids": sorted(self.ids) if self.ids else None,
                "inner": self.inner.describe()}

    # -- which samples fail ----------------------------------------------------------------------------
    def _faulty(self, sample_id: str | None) -> bool:
        if sample_id is None:
            return False
        if self.ids is not None:
            return sample_id in self.ids
        index = self._order.setdefault(sample_id, len(self._order) + 1)
        return index % self.every == 0

    def _inner_kwargs(self, ids: list[str]) -> dict[str, Any]:
        return {"ids": ids} if "id" in self.inner.wants else {}

    def _bad_audio(self, audio: Audio) -> Audio:
        sr = audio.sample_rate
        if self.fault == "silent":
            return Audio(np.zeros_like(audio.samples), sr)
        if self.fault == "empty":
            return Audio(np.zeros(0, dtype=np.float32), sr)
        if self.fault == "nan":
            return Audio(np.full_like(audio.samples, np.nan), sr)
        pad = max(0, int(self.long_seconds * sr) - len(audio.samples))
        return Audio(np.concatenate([audio.samples, np.full(pad, 0.1, dtype=np.float32)]), sr)

    # -- capabilities ------------------------------------------------------------------------------------
    def transcribe(self, audios, lang, ids: list[str] | None = None):
        ids = ids or [None] * len(audios)
        bad = [self._faulty(i) for i in ids]
        if self.fault == "raise" and any(bad):
            raise InjectedFault(f"{self.name}: injected fault on {[i for i, b in zip(ids, bad) if b]}")
        texts = self.inner.transcribe(audios, lang, **self._inner_kwargs(ids))
        return ["" if b else t for t, b in zip(texts, bad)]

    def synthesize(self, texts, lang, ids: list[str] | None = None):
        ids = ids or [None] * len(texts)
        bad = [self._faulty(i) for i in ids]
        if self.fault == "raise" and any(bad):
            raise InjectedFault(f"{self.name}: injected fault on {[i for i, b in zip(ids, bad) if b]}")
        audios = self.inner.synthesize(texts, lang, **self._inner_kwargs(ids))
        return [self._bad_audio(a) if b else a for a, b in zip(audios, bad)]

    def respond(self, audio, instruction=None, out_lang="en", item_id: str | None = None,
                in_lang: str | None = None):
        bad = self._faulty(item_id)
        if bad and self.fault == "raise":
            raise InjectedFault(f"{self.name}: injected fault on {item_id}")
        extra = {**({"item_id": item_id} if "id" in self.inner.wants else {}),
                 **({"in_lang": in_lang} if "in_lang" in self.inner.wants else {})}
        response = self.inner.respond(audio, instruction, out_lang, **extra)
        if not bad:
            return response
        if response.audio is None:
            return replace(response, text="" if self.fault in ("silent", "empty") else response.text)
        return replace(response, audio=self._bad_audio(response.audio))
