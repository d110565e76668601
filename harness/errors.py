"""The one shape of a per-sample (or per-record) failure: a stable ``code`` counted in reports, a message, and
whose failure it is.

Whose failure decides how the headline treats the sample (see harness.failures):
- ``system``: the system under test failed (it raised, gave no/empty/silent/NaN/over-long output, no units, a
  missing precomputed output, output that cannot be scored). Scored at the metric's worst value.
- ``measurement``: the measurement failed (an ASR or LLM judge, a MOS model, the network, an unreadable
  manifest row or input file). Left out of the headline, counted, and the result is marked incomplete.
A stage declares the kind its failures have by default; an error may override it with ``kind``.
"""
from __future__ import annotations

SYSTEM = "system"
MEASUREMENT = "measurement"
KINDS = (SYSTEM, MEASUREMENT)


class CodedError(Exception):
    """Base of errors whose ``code`` the runner and the data builders count (failed_by_reason, build reports).

    Subclasses also derive from the builtin that fits (ValueError for bad input, RuntimeError for failures).
    ``kind`` (None, SYSTEM or MEASUREMENT) overrides the failing stage's default classification.
    """

    kind: str | None = None

    def __init__(self, code: str, message: str, kind: str | None = None):
        super().__init__(message)
        self.code = code
        if kind is not None:
            if kind not in KINDS:
                raise ValueError(f"failure kind {kind!r}; use one of {KINDS}")
            self.kind = kind


class SystemFailure(CodedError, RuntimeError):
    """The system under test failed on this sample (counted against it)."""

    kind = SYSTEM


class MeasurementFailure(CodedError, RuntimeError):
    """The measurement failed on this sample (excluded from the headline; the result is incomplete)."""

    kind = MEASUREMENT
