"""What an LLM judge is: ``complete(messages) -> n replies``, plus scoring on a prompt, concurrently.

Backends: ``openai_compat`` (any OpenAI-compatible HTTP endpoint) and ``local`` (a transformers causal LM).
The task's ``llm_judge`` stage caches every judged sample, keyed by the judge's ``describe()``, the prompt
(name, version, text hash) and the settings (temperature, n, ...), so a resumed run never re-asks.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from harness.judges.errors import JudgeError
from harness.judges.prompts import JudgePrompt

MAX_REPLY_CHARS = 2000  # replies kept in the cache and samples (for audits), cut to this length


@dataclass(frozen=True)
class JudgeSettings:
    prompt: JudgePrompt | None    # None: plain chat completion (e.g. the cascade baseline's LLM)
    temperature: float            # sampling temperature sent to the judge (0: greedy)
    n: int = 1                    # replies per request; the sample's score is their mean
    top_p: float | None = None    # nucleus threshold (None: the backend's default)
    max_tokens: int = 1024        # reply length limit
    seed: int = 0                 # sent to backends that take one; seeds local sampling

    def describe(self) -> dict[str, Any]:
        out = asdict(self)
        out["prompt"] = self.prompt.describe() if self.prompt is not None else None
        return out


class LLMJudge:
    backend = "base"
    concurrency = 1               # requests in flight at once (score_many)

    def __init__(self) -> None:
        self._loaded = False
        self._lock = threading.Lock()
        self.stats = {"requests": 0, "retries": 0, "failed": 0}  # this process only (not cached)

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def load(self) -> None:
        """Read weights or check the endpoint's configuration; called once before the first request."""

    def ensure_loaded(self) -> None:
        with self._lock:
            if not self._loaded:
                self.load()
                self._loaded = True

    def complete(self, messages: list[dict[str, str]], settings: JudgeSettings) -> list[str]:
        raise NotImplementedError

    def _count(self, key: str, amount: int = 1) -> None:
        with self._lock:
            self.stats[key] += amount

    def score(self, settings: JudgeSettings, question: str, answer: str) -> dict[str, Any]:
        """One judged answer: the mean of its n scores (VoiceBench averages its judge's 3 replies). Every reply
        must parse, else JudgeError('judge_malformed'); a completion with another number of replies than n is
        JudgeError('judge_invalid_json'): the protocol's mean is not defined for it."""
        replies = self.complete(settings.prompt.messages(question, answer), settings)
        if len(replies) != settings.n:
            raise JudgeError("judge_invalid_json", f"asked the judge for n={settings.n} replies and got "
                                                   f"{len(replies)} (does the endpoint ignore n?)")
        scores = [settings.prompt.parse_score(reply) for reply in replies]
        return {"score": sum(scores) / len(scores), "scores": scores,
                "replies": [reply[:MAX_REPLY_CHARS] for reply in replies]}

    def score_many(self, settings: JudgeSettings, jobs: list[tuple[str, str]]) -> list[dict[str, Any] | JudgeError]:
        """Score (question, answer) pairs with at most ``concurrency`` requests in flight; order kept."""
        self.ensure_loaded()
        return self.map_jobs(lambda job: self.score(settings, *job), jobs)

    def map_jobs(self, work, jobs: list, label: str = "llm-judge") -> list:
        """``work(job)`` for every job, at most ``concurrency`` at a time, order kept; a JudgeError is counted as
        failed and returned in its job's place (the measurement's failure for that sample, not the run's)."""
        def one(job):
            try:
                return work(job)
            except JudgeError as exc:
                self._count("failed")
                return exc

        if self.concurrency <= 1 or len(jobs) <= 1:
            return [one(job) for job in jobs]
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=label) as pool:
            return list(pool.map(one, jobs))
