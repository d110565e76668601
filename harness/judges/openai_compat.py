"""An LLM judge behind any OpenAI-compatible ``POST {base_url}/chat/completions`` endpoint, over plain HTTP.

- base URL: option ``base_url``, else ``$OPENAI_BASE_URL``, else https://api.openai.com/v1;
- key: read from the environment variable named by ``api_key_env`` (default ``OPENAI_API_KEY``) and sent
  only as the Authorization header; it never appears in describe(), results, logs or exception messages;
- retries with exponential backoff and jitter on 429, 5xx, timeouts, connection errors and bodies that are
  not a chat completion; ``Retry-After`` is honoured (capped); other 4xx fail at once;
- at most ``concurrency`` requests in flight (LLMJudge.score_many).
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from harness.judges.base import JudgeSettings, LLMJudge
from harness.judges.errors import JudgeError
from harness.options import ConfigError

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def is_loopback(host: str) -> bool:
    """Whether requests to ``host`` must bypass proxies (loopback endpoints in tests, local servers)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OpenAICompatibleJudge(LLMJudge):
    backend = "openai-compatible"

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 60.0, max_retries: int = 5, backoff: float = 1.0, max_backoff: float = 30.0,
                 concurrency: int = 4, jitter_seed: int = 0, sleep: Callable[[float], None] = time.sleep):
        super().__init__()
        if not model:
            raise ConfigError("--llm-judge openai:MODEL needs a model name, e.g. openai:gpt-4o-mini")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"LLM judge base_url {self.base_url!r} must be an http(s) URL, e.g. "
                              f"http://127.0.0.1:8000/v1")
        if parts.username or parts.password or parts.query:
            raise ConfigError("LLM judge base_url must not carry credentials or a query; put the key in "
                              f"${api_key_env}")
        self._key = os.environ.get(api_key_env) or None  # private: never described, logged or raised
        if self._key is None and parts.hostname == "api.openai.com":
            raise ConfigError(f"the LLM judge {model} at {self.base_url} needs a key: set ${api_key_env} "
                              f"(or OPENAI_BASE_URL for another OpenAI-compatible server)")
        self.timeout, self.max_retries = float(timeout), int(max_retries)
        self.backoff, self.max_backoff = float(backoff), float(max_backoff)
        self.concurrency = max(1, int(concurrency))
        if self.max_retries < 0 or self.timeout <= 0:
            raise ConfigError("LLM judge: max_retries must be >= 0 and timeout > 0")
        self._rng = random.Random(jitter_seed)
        self._sleep = sleep
        # Loopback endpoints (a local server) bypass any proxy configured in the environment.
        handlers = [urllib.request.ProxyHandler({})] if is_loopback(parts.hostname) else []
        self._opener = urllib.request.build_opener(*handlers)

    def describe(self) -> dict[str, Any]:
        # The served model and where it is served both shape the scores, so both key the cache.
        return {"id": f"openai:{self.model}", "backend": self.backend, "model": self.model,
                "base_url": self.base_url}

    def __repr__(self) -> str:
        return f"OpenAICompatibleJudge(model={self.model!r}, base_url={self.base_url!r})"

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _delay(self, attempt: int, exc: JudgeError) -> float:
        delay = min(self.max_backoff, self.backoff * (2 ** attempt))
        with self._lock:
            delay *= 0.5 + 0.5 * self._rng.random()  # jitter: spread retries of concurrent requests
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff))
        return delay

    def complete(self, messages: list[dict[str, str]], settings: JudgeSettings) -> list[str]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": settings.temperature,
                                "n": settings.n, "max_tokens": settings.max_tokens}
        if settings.top_p is not None:
            body["top_p"] = settings.top_p
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        for attempt in range(self.max_retries + 1):
            self._count("requests")
            try:
                return self._post(payload)
            except JudgeError as exc:
                exc.attempts = attempt + 1
                if not exc.retryable or attempt == self.max_retries:
                    raise
                self._count("retries")
                self._sleep(self._delay(attempt, exc))
        raise AssertionError("unreachable")

    def _post(self, payload: bytes) -> list[str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=payload, headers=headers,
                                         method="POST")
        where = f"{self.base_url} ({self.model})"
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = self._redact(exc.read(300).decode("utf-8", "replace")) if exc.fp else ""
            error = JudgeError(f"judge_http_{exc.code}", f"LLM judge {where}: HTTP {exc.code}: {detail}")
            try:
                error.retry_after = float(exc.headers.get("Retry-After")) if exc.headers else None
            except (TypeError, ValueError):
                error.retry_after = None
            raise error from None
        except TimeoutError:
            raise JudgeError("judge_timeout", f"LLM judge {where}: no answer within {self.timeout:g} s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise JudgeError("judge_timeout", f"LLM judge {where}: no answer within {self.timeout:g} s") from None
            raise JudgeError("judge_connection", self._redact(f"LLM judge {where}: {exc.reason}")) from None
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            raise JudgeError("judge_connection",
                             self._redact(f"LLM judge {where}: {type(exc).__name__}: {exc}")) from None
        return self._replies(raw, where)

    def _replies(self, raw: bytes, where: str) -> list[str]:
        try:
            data = json.loads(raw)
            replies = [choice["message"]["content"] for choice in data["choices"]]
        except (ValueError, KeyError, TypeError, IndexError):
            snippet = self._redact(raw[:200].decode("utf-8", "replace"))
            raise JudgeError("judge_invalid_json", f"LLM judge {where}: not a chat completion: {snippet!r}") from None
        if not replies or not all(isinstance(r, str) for r in replies):
            raise JudgeError("judge_invalid_json", f"LLM judge {where}: completion without text content")
        return replies
