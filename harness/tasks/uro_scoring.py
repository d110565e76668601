"""URO-Bench's basic-track scorers (metrics/mark_gpt.py, metrics/mark_wer.py at URO_COMMIT), one answer at a time.

Modes and what one answer scores (on URO's 0-100 scale, so a set's figure is the mean of its items):
- ``open`` / ``semi-open``: the judge's n=3 replies, each read as an integer 1-5 (URO: ``int(reply)``); the item
  is 20 x their mean. ``semi-open`` adds the [Reference].
- ``qa``: the item is 100 x (the number of replies exactly equal to "Yes") / 3: a mean of the three samples,
  not a majority; case-sensitive and unstripped as URO compares, so "Yes." and "yes" count as No.
- ``wer`` (Repeat, Repeat-zh): the WER (en) / CER (zh) with the answer as jiwer's *reference* (URO's argument
  order) and the set's text as hypothesis, normalized as URO does (harness.normalize ``uro-bench``). The set's
  figure is ok_rate x (1 - mean WER of the ok items) x 100, ok meaning WER <= 0.5 (evaluate.py).
- An empty answer (only whitespace) scores 0 in every mode: SystemFailure("empty_answer"), counted at 0.

Where URO is silent or crashes, we record a failure instead: a 1-5 reply that is not an integer (URO's int()
raises and the run stops), an integer off the 1-5 scale (URO would average it), a completion with another number
of replies than asked: JudgeError("judge_malformed" / "judge_invalid_json"), the measurement's failure. A judge
call that fails after its retries is the measurement's failure too (URO scores it [0, 0, 0], silently).
"""
from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

import yaml

from harness.errors import MeasurementFailure, SystemFailure
from harness.judges.base import MAX_REPLY_CHARS, JudgeSettings, LLMJudge
from harness.judges.errors import JudgeError
from harness.judges.prompts import JudgePrompt
from harness.metrics import edit_counts
from harness.normalize import get_normalizer
from harness.options import NO_LLM_JUDGE, ConfigError

JUDGE_MODES = ("open", "semi-open", "qa")
BASIC_MODES = JUDGE_MODES + ("wer",)
DIALOGUE_MODES = ("multi", "sa")          # pro track, one judge call per dialogue (mark.py --mode multi / sa)
MULTI_ROUNDS = (2, 3, 4, 5)               # mark_gpt.py has prompt_multi2..5 only; sa is always the 3-round prompt
OK_WER = 0.5                              # mark_wer.eval_repeat: an item is "ok" when its WER <= 0.5
_INT = re.compile(r"^\s*[+-]?\d+\s*$")    # what Python's int() takes from a judge reply (ASCII digits)


@cache
def _table() -> dict[str, Any]:
    return yaml.safe_load((resources.files("harness.judges") / "uro_prompts.yaml").read_text(encoding="utf-8"))


def uro_prompt(mode: str) -> JudgePrompt:
    """URO's prompt for a judge mode, as a JudgePrompt (so settings, results and cache keys describe it)."""
    table = _table()
    entry = table["prompts"][mode]
    scale = (0.0, 1.0) if mode == "qa" else (1.0, 5.0)  # multi-N and sa: 1-5, one score for the whole dialogue
    return JudgePrompt(name=f"uro-bench-{mode}", version="1", scale=scale, system=table["system"],
                       template=entry["template"], parse="yes-count" if mode == "qa" else "integer",
                       source=f"URO-Bench {entry['source']}", defaults=dict(table["defaults"]))


def uro_settings(settings: JudgeSettings, mode: str) -> JudgeSettings:
    return replace(settings, prompt=uro_prompt(mode))


def render(prompt: JudgePrompt, question: str, answer: str, reference: str) -> list[dict[str, str]]:
    """The chat messages URO sends: system message, then the template filled in get_prompt's order."""
    user = prompt.template.replace("{question}", question).replace("{answer}", answer)
    if "{reference}" in prompt.template:
        user = user.replace("{reference}", reference)
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]


def is_empty(answer: str | None) -> bool:
    # URO zeroes "" and " " (a missing wav's ASR is " "); any whitespace-only answer is empty here.
    return not (answer or "").strip()


def parse_rating(reply: str) -> int:
    """One 1-5 reply read as URO reads it (int()), refusing what URO would crash on or average off-scale."""
    if not isinstance(reply, str) or not _INT.match(reply):
        raise JudgeError("judge_malformed", f"judge reply is not an integer 1-5 (URO-Bench reads int(reply)): "
                                            f"{str(reply)[:200]!r}")
    value = int(reply)
    if not 1 <= value <= 5:
        raise JudgeError("judge_malformed", f"judge score {value} is outside the scale 1-5: {reply[:200]!r}")
    return value


def score_replies(mode: str, replies: list[str], n: int) -> dict[str, Any]:
    """An item's score on URO's 0-100 scale from the judge's replies (every reply must be there)."""
    if len(replies) != n:
        raise JudgeError("judge_invalid_json", f"asked the judge for n={n} replies and got {len(replies)} "
                                               f"(does the endpoint ignore n?)")
    kept = [r[:MAX_REPLY_CHARS] for r in replies]
    if mode == "qa":
        yes = [r == "Yes" for r in replies]
        odd = sum(r not in ("Yes", "No") for r in replies)  # counted as No, as URO does; reported
        return {"score": 100.0 * sum(yes) / len(yes), "values": [int(y) for y in yes], "replies": kept,
                "nonstandard_replies": odd}
    values = [parse_rating(r) for r in replies]
    return {"score": 20.0 * sum(values) / len(values), "values": values, "replies": kept}


def judge_answers(judge: LLMJudge, settings: JudgeSettings, mode: str,
                  jobs: list[tuple[str, str, str]]) -> list[dict[str, Any] | Exception]:
    """(question, answer, reference) -> item score, or the exception that failed it; order kept. Empty answers
    fail as the system's (score 0) without a judge call."""
    judge.ensure_loaded()

    def one(job: tuple[str, str, str]) -> dict[str, Any] | Exception:
        question, answer, reference = job
        if is_empty(answer):
            return SystemFailure("empty_answer", "the answer is empty: URO-Bench scores it 0")
        replies = judge.complete(render(settings.prompt, question, answer, reference), settings)
        return score_replies(mode, replies, settings.n)

    return judge.map_jobs(one, jobs, "uro-judge")


def uro_wer(lang: str, first: str, second: str) -> float:
    """mark_wer.get_wer(lang, first, second): ``first`` is jiwer's reference (the denominator); an empty one
    gives 1, as URO's ``except: wer = 1`` does."""
    norm = get_normalizer("uro-bench")
    ref, hyp = norm(first, lang, "ref"), norm(second, lang, "hyp")
    if not ref:
        return 1.0
    return edit_counts(ref, hyp).rate


def repeat_item(lang: str, answer: str, reference: str) -> dict[str, Any]:
    """One Repeat answer: its WER against the set's text, and whether it is ok (WER <= 0.5)."""
    if is_empty(answer):
        raise SystemFailure("empty_answer", "the answer is empty: URO-Bench's WER is 1 (not ok)")
    wer = uro_wer(lang, answer, reference)
    return {"wer": wer, "ok": wer <= OK_WER}


def repeat_score(wers: list[float]) -> dict[str, float]:
    """evaluate.py's Repeat figure from every item's WER (failed answers enter as 1.0)."""
    ok = [w for w in wers if w <= OK_WER]
    ok_rate = len(ok) / len(wers) if wers else 0.0
    wer_ok = sum(ok) / len(ok) if ok else 0.0
    return {"score": ok_rate * (1.0 - wer_ok) * 100.0, "ok_rate": ok_rate, "final_WER_for_ok_case": wer_ok}


# -- multi-round (pro track: MtBenchEval-en, SpeakerAware-en/-zh) -----------------------------------------------
def dialogue_prompt(mode: str, rounds: int) -> JudgePrompt:
    """The prompt URO's get_prompt picks: prompt_multi<rounds> (multi) or prompt_sa (sa, whatever the count)."""
    if mode == "sa":
        return uro_prompt("sa")
    if rounds not in MULTI_ROUNDS:  # URO's get_prompt returns None and the run crashes
        raise MeasurementFailure("no_prompt_for_rounds", f"the dialogue has {rounds} round(s); URO-Bench has "
                                                         f"multi-round judge prompts for 2-5 rounds only")
    return uro_prompt(f"multi-{rounds}")


def render_dialogue(prompt: JudgePrompt, rounds: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    """The chat messages for a whole dialogue: (question, answer, reference) per round fill {questionK},
    {answerK}, {referenceK} (K from 1) in get_prompt's order -- all questions, then answers, then references;
    a slot past the dialogue's rounds gets "" (mark.py pads its lists to 5 with "")."""
    user = prompt.template
    for field, index in (("question", 0), ("answer", 1), ("reference", 2)):
        for k in range(1, 6):
            user = user.replace(f"{{{field}{k}}}", rounds[k - 1][index] if k <= len(rounds) else "")
    return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]


def judge_dialogues(judge: LLMJudge, settings: JudgeSettings, mode: str,
                    dialogues: list[list[tuple[str, str, str]]]) -> list[dict[str, Any] | Exception]:
    """One judge call per dialogue -> its score (20 x the mean of the n replies, each int 1-5), or the exception
    that failed it; order kept. No empty-answer rule: mark.py has none for multi / sa, so an empty round is
    judged as it is (a missing wav's ASR is " ")."""
    judge.ensure_loaded()

    def one(rounds: list[tuple[str, str, str]]) -> dict[str, Any] | Exception:
        try:
            prompt = dialogue_prompt(mode, len(rounds))
        except MeasurementFailure as exc:
            return exc
        replies = judge.complete(render_dialogue(prompt, rounds), replace(settings, prompt=prompt))
        return {**score_replies(mode, replies, settings.n), "prompt": prompt.name}

    return judge.map_jobs(one, dialogues, "uro-judge")


def judge_args(judge_spec: str | None, llm_judge_args: dict[str, str], set_name: str, mode: str) -> dict[str, str]:
    """The LLM judge's options for a judged URO-Bench set, refusing what URO's protocol rules out: no judge, or a
    prompt of the user's (each mode has its own)."""
    if not judge_spec or judge_spec == NO_LLM_JUDGE:
        raise ConfigError(f"URO-Bench set {set_name} (mode {mode}) needs an LLM judge: --llm-judge openai:MODEL "
                          f"(URO uses gpt-4o-mini) or hf:DIR")
    args = dict(llm_judge_args)
    if "prompt" in args:
        raise ConfigError(f"--llm-judge-arg prompt={args['prompt']} conflicts with URO-Bench: each mode has its "
                          f"own prompt (harness/judges/uro_prompts.yaml); drop it")
    return args
