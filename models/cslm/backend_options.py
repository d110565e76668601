"""Where CSLM generation runs: local transformers (batched) or an OpenAI-compatible completions server.

Frozen, commented, checked in one place (``from_args``), and written into describe() -- so into every
results file and stage-cache key -- as ``backend`` (only the fields that can change outputs).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from harness.model import ModelConfigError
from models.common import convert

LOCAL_ONLY = ("gen_batch_size", "device", "dtype")  # options that shape local weights/batches only
SERVER_ONLY = ("served_model", "concurrency", "timeout", "max_retries", "backoff", "max_backoff", "api_key_env")


@dataclass(frozen=True)
class CSLMBackendOptions:
    # Local backend: requests decoded together in one left-padded batch (grouped by prompt length), each
    # sampled from its own seeded stream. A stage hands the adapter at most --batch-size items, so the
    # effective batch is min(gen_batch_size, --batch-size). 1 = one request at a time. Greedy outputs do not
    # depend on it; sampled ones can, through float rounding in padded kernels (rare; see README).
    gen_batch_size: int = 8
    # Base URL of an OpenAI-compatible completions server (``vllm serve CKPT``): http://HOST:PORT/v1.
    # None: generate locally with transformers. The adapter still builds prompts and parses outputs.
    server: str | None = None
    served_model: str | None = None  # the request's "model"; None: the server's only model (GET /models)
    concurrency: int = 8             # server: requests in flight at once (the server batches them)
    timeout: float = 600.0           # server: seconds without a byte before a request counts as timed out
    max_retries: int = 4             # server: retries after 429 / 5xx / timeout / dropped stream
    backoff: float = 1.0             # server: first retry delay in seconds, doubled per retry (jittered)
    max_backoff: float = 30.0        # server: cap of one delay (Retry-After is honoured up to this)
    api_key_env: str = "VLLM_API_KEY"  # server: env var whose value is sent as the Bearer key (never recorded)

    def __post_init__(self) -> None:
        if self.gen_batch_size < 1 or self.concurrency < 1:
            raise ModelConfigError("gen_batch_size and concurrency must be at least 1")
        if self.max_retries < 0 or self.timeout <= 0 or self.backoff < 0 or self.max_backoff < 0:
            raise ModelConfigError("max_retries, backoff and max_backoff must be >= 0 and timeout > 0")
        if self.server is not None:
            parts = urlsplit(self.server)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ModelConfigError(f"server={self.server!r}: give the base URL, e.g. http://127.0.0.1:8000/v1")
            if parts.username or parts.password or parts.query:
                raise ModelConfigError(f"server= must not carry credentials or a query; put the key in "
                                       f"${self.api_key_env}")

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> CSLMBackendOptions:
        """Build from ``--model-arg`` strings; refuse options that the chosen backend would ignore."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in args:
                base = str(f.type).split(" | ")[0]
                kind = {"bool": bool, "int": int, "float": float}.get(base, str)
                values[f.name] = convert("cslm", f.name, args[f.name], kind)
        served = bool(values.get("server"))
        if not served:
            values.pop("server", None)
        wrong = [k for k in (LOCAL_ONLY if served else SERVER_ONLY)
                 if k in args and not (k in ("dtype", "device") and args[k] == "auto")]
        if wrong:
            where = ("server= (the server owns weights, dtype and batching: pass them to `vllm serve`)" if served
                     else "the local backend (they configure server=)")
            raise ModelConfigError(f"cslm: option(s) {', '.join(sorted(wrong))} do not apply to {where}")
        return cls(**values)

    @property
    def served(self) -> bool:
        return self.server is not None

    def describe(self) -> dict[str, Any]:
        """What can change outputs (and so keys the caches): the backend, its batch or its endpoint."""
        if not self.served:
            return {"kind": "local-transformers", "gen_batch_size": self.gen_batch_size}
        return {"kind": "openai-completions-server", "base_url": self.server.rstrip("/"),
                "served_model": self.served_model, "concurrency": self.concurrency}


BACKEND_KEYS = frozenset(f.name for f in fields(CSLMBackendOptions))
