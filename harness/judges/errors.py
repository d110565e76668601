"""Why a judge call failed: a stable ``code`` that the runner counts in ``counts.failed_by_reason``."""
from __future__ import annotations

from harness.errors import CodedError

# Codes: judge_http_<status> (429, 5xx after retries; other 4xx at once), judge_timeout, judge_connection,
# judge_invalid_json (a body that is not a chat completion, after retries; or a completion with another number
# of choices than the n asked for, not retried), judge_malformed (a reply with no score on the prompt's scale;
# not retried: the judge said what it said).
RETRYABLE_PREFIXES = ("judge_http_429", "judge_http_5", "judge_timeout", "judge_connection", "judge_invalid_json")


class JudgeError(CodedError, RuntimeError):
    def __init__(self, code: str, message: str, attempts: int = 1):
        super().__init__(code, message)
        self.attempts = attempts

    @property
    def retryable(self) -> bool:
        return self.code.startswith(RETRYABLE_PREFIXES)
