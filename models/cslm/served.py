"""CSLM generation on an OpenAI-compatible completions server (``vllm serve CKPT``), streamed over SSE.

One request per prompt: ``POST {server}/completions`` with the prompt as token ids, the request's own
``seed``, temperature / top_p / top_k / max_tokens / stop_token_ids sent explicitly (a server otherwise
fills unset fields from the checkpoint's generation_config), ``stream: true``. Token ids come back in
every chunk: vLLM's ``return_token_ids`` (``choices[0].token_ids``, the chunk's new ids) or, on servers
without it, ``logprobs: 0`` + ``return_tokens_as_token_ids`` (``logprobs.tokens`` = ``"token_id:N"``). The
adapter decodes those ids with its own tokenizer, so parsing is the same as the local backend's.

Faults, as the LLM-judge client treats them (exponential backoff with jitter, ``Retry-After`` honoured):
retried: 429, 5xx, timeouts, connection errors, a stream that breaks off before ``[DONE]``, an error event
in the stream, a chunk that is not JSON. After the last retry the request fails with a coded error whose
kind says whose failure it is:
- the served model's (``system``: the model is the system under test): 5xx, a timeout, a dropped or
  broken stream, an error event -- as a local model that raised or hung would be scored;
- the measurement's (``measurement``: left out and counted, the result is incomplete, --retry-failed
  redoes it): 429 (the request was refused before reaching the model), connection errors (no server),
  other 4xx (a request the server would not take).
"""
from __future__ import annotations

import http.client
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from harness.errors import MEASUREMENT, SYSTEM, CodedError
from harness.judges.openai_compat import is_loopback
from harness.model import ModelConfigError
from models.cslm.backend_options import CSLMBackendOptions

TOKEN_ID_PREFIX = "token_id:"  # vLLM's format_token_id_placeholder


class ServerError(CodedError, RuntimeError):
    """A request the server did not answer; ``code`` is counted, ``kind`` says whose failure it is."""

    def __init__(self, code: str, message: str, kind: str, retryable: bool, retry_after: float | None = None):
        super().__init__(code, message, kind=kind)
        self.retryable, self.retry_after, self.attempts = retryable, retry_after, 1


class CompletionsClient:
    def __init__(self, options: CSLMBackendOptions, jitter_seed: int = 0,
                 sleep: Callable[[float], None] = time.sleep):
        self.opts = options
        self.base = options.server.rstrip("/")
        self._key = os.environ.get(options.api_key_env) or None  # private: never described or logged
        handlers = [urllib.request.ProxyHandler({})] if is_loopback(urlsplit(self.base).hostname or "") else []
        self._opener = urllib.request.build_opener(*handlers)
        self._rng, self._lock, self._sleep = random.Random(jitter_seed), threading.Lock(), sleep
        self.model: str | None = options.served_model
        self.card: dict[str, Any] = {}
        self.stats = {"requests": 0, "retries": 0}

    # -- startup check -------------------------------------------------------------------------------
    def preflight(self, needed_len: int) -> dict[str, Any]:
        """GET /models once, before any sample: the server answers, serves the model, and its context fits
        the longest prompt plus max_new_tokens. Any problem is a configuration error naming the fix."""
        try:
            with self._opener.open(self._request("/models"), timeout=min(self.opts.timeout, 30)) as resp:
                cards = json.loads(resp.read()).get("data") or []
        except Exception as exc:  # noqa: BLE001 -- unreachable, refused, not JSON: one how-to
            raise ModelConfigError(f"cslm server={self.base}: GET /models failed ({type(exc).__name__}: "
                                   f"{self._redact(str(exc))[:160]}); start it with `vllm serve CKPT` "
                                   f"(README, CSLM checkpoints)") from None
        ids = [c.get("id") for c in cards if isinstance(c, dict)]
        if self.model is None:
            if len(ids) != 1:
                raise ModelConfigError(f"cslm server={self.base} serves {ids or 'no model'}; pick one with "
                                       f"--model-arg served_model=NAME")
            self.model = ids[0]
        elif self.model not in ids:
            raise ModelConfigError(f"cslm served_model={self.model!r} is not served at {self.base} (it has "
                                   f"{', '.join(map(str, ids)) or 'none'})")
        self.card = next(c for c in cards if c.get("id") == self.model)
        limit = self.card.get("max_model_len")
        if isinstance(limit, int) and limit < needed_len:
            raise ModelConfigError(f"cslm server={self.base}: max_model_len {limit} < max_input_tokens + "
                                   f"max_new_tokens ({needed_len}); serve with --max-model-len {needed_len}")
        return self.card

    def describe(self) -> dict[str, Any]:
        return {"model": self.model, "root": self.card.get("root"), "max_model_len": self.card.get("max_model_len")}

    # -- one request ---------------------------------------------------------------------------------
    def body(self, prompt_ids, seed: int, gen, end_ids) -> dict[str, Any]:
        """The request for one prompt; ``gen``: CSLMGenerationOptions (sampling fields sent explicitly)."""
        sample = gen.do_sample
        return {"model": self.model, "prompt": [int(i) for i in prompt_ids], "max_tokens": gen.max_new_tokens,
                "temperature": gen.temperature if sample else 0.0, "top_p": gen.top_p if sample else 1.0,
                "top_k": (gen.top_k or -1) if sample else -1,  # -1: disabled (vLLM accepts -1 and 0)
                "repetition_penalty": 1.0, "min_p": 0.0, "seed": int(seed), "n": 1,
                "stop_token_ids": sorted(int(i) for i in end_ids), "ignore_eos": False,
                "skip_special_tokens": False, "spaces_between_special_tokens": False,
                "stream": True, "return_token_ids": True, "logprobs": 0, "return_tokens_as_token_ids": True}

    def stream(self, body: dict[str, Any], on_token: Callable[[int], None], on_attempt: Callable[[int], None]
               ) -> dict[str, Any]:
        """Send ``body`` (retrying as documented); ``on_attempt(n)`` before each try (reset partial output),
        ``on_token(id)`` as ids arrive. Returns {"finish_reason", "attempts"}; raises ServerError."""
        payload = json.dumps(body).encode("utf-8")
        for attempt in range(self.opts.max_retries + 1):
            with self._lock:
                self.stats["requests"] += 1
            on_attempt(attempt + 1)
            try:
                finish = self._stream_once(payload, on_token)
                return {"finish_reason": finish, "attempts": attempt + 1}
            except ServerError as exc:
                exc.attempts = attempt + 1
                if not exc.retryable or attempt == self.opts.max_retries:
                    raise
                with self._lock:
                    self.stats["retries"] += 1
                self._sleep(self._delay(attempt, exc))
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, exc: ServerError) -> float:
        delay = min(self.opts.max_backoff, self.opts.backoff * (2 ** attempt))
        with self._lock:
            delay *= 0.5 + 0.5 * self._rng.random()  # jitter: spread retries of concurrent requests
        if exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, self.opts.max_backoff))
        return delay

    def _request(self, path: str, payload: bytes | None = None) -> urllib.request.Request:
        headers = {"Accept": "text/event-stream" if payload else "application/json"}
        if payload:
            headers["Content-Type"] = "application/json"
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return urllib.request.Request(self.base + path, data=payload, headers=headers,
                                      method="POST" if payload else "GET")

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _stream_once(self, payload: bytes, on_token: Callable[[int], None]) -> str | None:
        where = f"{self.base} ({self.model})"
        try:
            response = self._opener.open(self._request("/completions", payload), timeout=self.opts.timeout)
        except urllib.error.HTTPError as exc:
            detail = self._redact(exc.read(300).decode("utf-8", "replace")) if exc.fp else ""
            status = exc.code
            try:
                retry_after = float(exc.headers.get("Retry-After")) if exc.headers else None
            except (TypeError, ValueError):
                retry_after = None
            kind = SYSTEM if status >= 500 else MEASUREMENT
            raise ServerError(f"server_http_{status}", f"cslm server {where}: HTTP {status}: {detail}", kind,
                              retryable=status == 429 or status >= 500, retry_after=retry_after) from None
        except (TimeoutError, socket.timeout):
            raise ServerError("server_timeout", f"cslm server {where}: no answer within {self.opts.timeout:g} s",
                              SYSTEM, True) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise ServerError("server_timeout", f"cslm server {where}: no answer within "
                                  f"{self.opts.timeout:g} s", SYSTEM, True) from None
            raise ServerError("server_connection", self._redact(f"cslm server {where}: {exc.reason}"),
                              MEASUREMENT, True) from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            raise ServerError("server_connection", self._redact(f"cslm server {where}: {type(exc).__name__}: "
                                                                f"{exc}"), MEASUREMENT, True) from None
        with response:
            return self._read_events(response, on_token, where)

    def _read_events(self, response, on_token: Callable[[int], None], where: str) -> str | None:
        finish = None
        try:
            for line in response:
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue  # blank separators, comments (": ping"), event names
                data = line[5:].strip()
                if data == b"[DONE]":
                    return finish
                try:
                    event = json.loads(data)
                except ValueError:
                    raise ServerError("server_invalid_response", f"cslm server {where}: a stream event is not "
                                      f"JSON: {self._redact(data[:120].decode('utf-8', 'replace'))!r}",
                                      SYSTEM, True) from None
                if "error" in event or event.get("object") == "error":
                    raise ServerError("server_stream_error", self._redact(f"cslm server {where}: error in the "
                                      f"stream: {json.dumps(event)[:200]}"), SYSTEM, True)
                for choice in event.get("choices") or []:
                    for token in self._token_ids(choice, where):
                        on_token(token)
                    finish = choice.get("finish_reason") or finish
        except (TimeoutError, socket.timeout):
            raise ServerError("server_timeout", f"cslm server {where}: the stream stalled for "
                              f"{self.opts.timeout:g} s", SYSTEM, True) from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            raise ServerError("server_stream_dropped", f"cslm server {where}: the stream broke off "
                              f"({type(exc).__name__})", SYSTEM, True) from None
        raise ServerError("server_stream_dropped", f"cslm server {where}: the stream ended before [DONE]",
                          SYSTEM, True)

    @staticmethod
    def _token_ids(choice: dict[str, Any], where: str) -> list[int]:
        if choice.get("token_ids") is not None:
            return [int(t) for t in choice["token_ids"]]
        tokens = (choice.get("logprobs") or {}).get("tokens")
        if tokens is not None and all(isinstance(t, str) and t.startswith(TOKEN_ID_PREFIX) for t in tokens):
            return [int(t[len(TOKEN_ID_PREFIX):]) for t in tokens]
        if not choice.get("text") and not tokens:
            return []  # e.g. a final chunk that only carries finish_reason
        raise ServerError("server_no_token_ids", f"cslm server {where}: the stream carries no token ids "
                          f"(needs vLLM's return_token_ids, or logprobs with return_tokens_as_token_ids)",
                          MEASUREMENT, False)
