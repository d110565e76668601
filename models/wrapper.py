"""A model around another registered model (fault injection, degraded speech): the parts every wrapper shares."""
from __future__ import annotations

from typing import Any

from harness.model import Model, ModelConfigError
from harness.registry import MODELS


class WrappedModel(Model):
    """Holds ``self.inner`` (built from ``inner=NAME`` and the remaining options) and defers to it for loading,
    capability checks, languages and the vocoder; subclasses change what its outputs are."""

    def __init__(self, name: str, inner: str | None, what: str, inner_options: dict[str, Any], **own: Any):
        if not inner:
            raise ModelConfigError(f"model {name}: inner=MODEL is required ({what})")
        self.inner = MODELS.get(inner)(name=inner, **inner_options)
        super().__init__(name, inner=inner, **own, **inner_options)
        self.input_sample_rate = self.inner.input_sample_rate

    def load(self) -> None:
        self.inner.ensure_loaded()

    def prepare(self, needs: set[str]) -> None:
        missing = sorted(set(needs) - set(self.inner.capabilities))
        if missing:
            raise ModelConfigError(f"inner model {self.inner.name} cannot {', '.join(missing)}")
        self.inner.prepare(needs)

    def supports_language(self, lang: str) -> bool:
        return self.inner.supports_language(lang)

    @property
    def vocoder(self):  # the latency task renders the first chunk with the model's own vocoder
        return getattr(self.inner, "vocoder", None)
