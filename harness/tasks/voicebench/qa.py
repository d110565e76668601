"""VoiceBench's SD-QA scorer (src/evaluator/qa.py, api_judge.py at UPSTREAM_COMMIT): PEDANT and the judge's vote.

- ``panda``: PEDANT from qa-metrics **0.2.17** (VoiceBench pins it; later versions score higher, VoiceBench issue
  #11), called as VoiceBench calls it: ``evaluate([reference.lower()], response.lower(), prompt.lower())``. PEDANT
  is a pickled classifier (``lr_classifier.pkl``, ``tf-idf_vectorizer.pkl``) that qa-metrics 0.2.17 fetches from
  its GitHub repository every time it is built. ``load_pedant(folder)`` reads the two files from a folder instead
  (``$VOICEBENCH_PEDANT_DIR``, else qa-metrics' own ``classifier/`` folder when they are there), with no network;
  with neither, qa-metrics fetches them as upstream does.
- ``gpt``: the judge's n=3 replies (data/qa_judge.yaml: meta_prompt_qa, system message, temperature 0.5, top_p
  0.95), each stripped (api_judge.py) and lower-cased; the most frequent reply wins and the item is correct iff it is
  exactly ``yes`` ("yes." is not). With three different replies VoiceBench's ``max(set(...))`` picks by hash order
  (random per process); here such a three-way tie is not correct, and ties are counted.
- The leaderboard's SD-QA column is (panda + gpt) / 2, both in percent.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from harness.judges.base import MAX_REPLY_CHARS, JudgeSettings, LLMJudge
from harness.judges.errors import JudgeError
from harness.judges.prompts import JudgePrompt
from harness.tasks.voicebench import data_file

PEDANT_VERSION = "0.2.17"
PEDANT_FILES = ("lr_classifier.pkl", "tf-idf_vectorizer.pkl")
PEDANT_ENV = "VOICEBENCH_PEDANT_DIR"


class PedantUnavailable(RuntimeError):
    """qa-metrics 0.2.17 or its classifier files cannot be loaded; the message says what to do."""


# -- the judge's half ---------------------------------------------------------------------------------------------
def qa_prompt() -> JudgePrompt:
    table = data_file("qa_judge.yaml")
    return JudgePrompt(name="voicebench-qa", version="1", scale=(0.0, 1.0), system=table["system"],
                       template=table["template"], parse="yes-majority",
                       source=f"VoiceBench {table['source']}", defaults=dict(table["defaults"]))


def qa_settings(settings: JudgeSettings) -> JudgeSettings:
    return replace(settings, prompt=qa_prompt())


def render(prompt: JudgePrompt, question: str, reference: str, answer: str) -> list[dict[str, str]]:
    """api_judge.generate: the template filled with str.replace in its order (prompt, reference, response)."""
    user = prompt.template.replace("{prompt}", question).replace("{reference}", reference).replace("{response}", answer)
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]


def majority(replies: list[str]) -> dict[str, Any]:
    """qa.py's majority_vote over stripped replies; a three-way (no plurality) tie counts as not correct."""
    votes = [r.strip().lower() for r in replies]
    counts = {v: votes.count(v) for v in votes}
    top = max(counts.values())
    winners = [v for v, c in counts.items() if c == top]
    tie = len(winners) > 1
    return {"correct": (not tie) and winners[0] == "yes", "votes": votes, "tie": tie,
            "nonstandard_replies": sum(v not in ("yes", "no") for v in votes)}


def judge_items(judge: LLMJudge, settings: JudgeSettings,
                jobs: list[tuple[str, str, str]]) -> list[dict[str, Any] | Exception]:
    """(question, reference, answer) -> the vote, or the JudgeError that failed it (a measurement failure)."""
    judge.ensure_loaded()

    def one(job: tuple[str, str, str]) -> dict[str, Any]:
        replies = judge.complete(render(settings.prompt, *job), settings)
        if len(replies) != settings.n:
            raise JudgeError("judge_invalid_json", f"asked the judge for n={settings.n} replies and got "
                                                   f"{len(replies)} (does the endpoint ignore n?)")
        return {**majority(replies), "replies": [r[:MAX_REPLY_CHARS] for r in replies]}

    return judge.map_jobs(one, jobs, "voicebench-qa")


# -- PEDANT ------------------------------------------------------------------------------------------------------
def pedant_folder() -> Path | None:
    """Where the classifier files are read from: $VOICEBENCH_PEDANT_DIR, else qa-metrics' own folder when it holds
    them; None: qa-metrics fetches them (network)."""
    given = os.environ.get(PEDANT_ENV)
    if given:
        return Path(given).expanduser()
    try:
        import qa_metrics
    except ImportError:
        return None
    own = Path(qa_metrics.__file__).parent / "classifier"
    return own if all((own / f).is_file() for f in PEDANT_FILES) else None


def _check_version() -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("qa-metrics")
    except PackageNotFoundError:
        raise PedantUnavailable(f"PEDANT needs qa-metrics=={PEDANT_VERSION}: pip install --no-deps "
                                f"qa-metrics=={PEDANT_VERSION} (scripts/setup.sh does)") from None
    if found != PEDANT_VERSION:
        raise PedantUnavailable(f"qa-metrics {found} is installed; VoiceBench's PEDANT figure needs {PEDANT_VERSION} "
                                f"(later versions score higher): pip install --no-deps qa-metrics=={PEDANT_VERSION}")


@cache
def load_pedant(folder: str | None) -> tuple[Any, dict[str, Any]]:
    """A PEDANT whose classifier comes from ``folder`` (no network), or, with None, built by qa-metrics (which
    fetches it). Returns it and its description (version, files' sha256)."""
    _check_version()
    from qa_metrics.pedant import PEDANT

    if folder is None:
        pedant = PEDANT()
        base = Path(__import__("qa_metrics").__file__).parent / "classifier"
    else:
        base = Path(folder)
        missing = [f for f in PEDANT_FILES if not (base / f).is_file()]
        if missing:
            raise PedantUnavailable(f"PEDANT classifier file(s) {', '.join(missing)} not in {base} (set by "
                                    f"${PEDANT_ENV}); copy qa-metrics' classifier files there")
        import joblib

        pedant = PEDANT.__new__(PEDANT)  # skips __init__, which always tries to download the files
        pedant.model = joblib.load(base / PEDANT_FILES[0])
        pedant.tokenizer = joblib.load(base / PEDANT_FILES[1])
    digests = {f: hashlib.sha256((base / f).read_bytes()).hexdigest()[:16] for f in PEDANT_FILES
               if (base / f).is_file()}
    return pedant, {"package": f"qa-metrics {PEDANT_VERSION}", "classifier_sha256": digests,
                    "classifier_from": str(base) if folder else "fetched by qa-metrics"}


def pedant_correct(pedant: Any, prompt: str, reference: str, response: str) -> bool:
    """qa.py: ``PEDANT().evaluate([reference.lower()], response.lower(), prompt.lower())``."""
    return bool(pedant.evaluate([reference.lower()], response.lower(), prompt.lower()))
