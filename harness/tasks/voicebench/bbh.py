"""VoiceBench's BBH scorer: src/evaluator/bbh.py at UPSTREAM_COMMIT, its rules as data (data/bbh_rules.json).

extract(response, item_id) normalizes the response (lower-case; a trailing ``<|user|>`` and a leading
``<1>``/``<2>``/``<3>`` dropped; ``<|turn_end|>`` deleted; ``:`` ``**`` ``"`` ``-`` ``,`` ``.`` ``：`` to spaces;
whitespace collapsed), picks the task by a substring of the item's ``id`` (sports_understanding, hyperbaton,
navigate, web_of_lies; any other id is refused, as VoiceBench raises), and runs that task's ordered rules: the
first that fires gives 0 or 1 (the yes_no rule runs the shared yes/no list and stops only when it answers).

Nothing firing: VoiceBench draws ``random.choice([0, 1])`` unseeded; here the same draw seeded per item
(``draw``), with a strict figure (no answer = wrong) and the extraction-failure rate beside it. Rules marked
``quirk`` in the data (an inverted mapping, a pattern normalization makes unreachable) are reproduced as they
are, and every answer decided by one is counted in the results.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from functools import cache

from harness.tasks.voicebench import data_file
from harness.tasks.voicebench.mcq import drawn_choice_figures


class UnknownBBHTask(ValueError):
    """An item id naming none of the four BBH tasks VoiceBench scores (it raises NotImplementedError there)."""


@cache
def _table() -> dict:
    return data_file("bbh_rules.json")


def normalize(response: str) -> str:
    spec = _table()["normalize"]
    text = response.lower()
    if text.endswith(spec["strip_suffix"]):
        text = text[: -len(spec["strip_suffix"])].strip()
    if text.startswith(tuple(spec["strip_prefixes"])):
        text = text[3:].strip()
    for token in spec["delete"]:
        text = text.replace(token, "")
    for token in spec["to_space"]:
        text = text.replace(token, " ")
    return " ".join(text.split())


def task_of(item_id: str) -> str:
    for task in _table()["task_by_id"]:  # the source's order: the first task named in the id wins
        if task in item_id:
            return task
    raise UnknownBBHTask(f"BBH item id {item_id!r} names none of {', '.join(_table()['task_by_id'])}; VoiceBench "
                         f"scores only these four tasks")


def _fires(rule: dict, text: str) -> bool:
    test, needle = rule["test"], rule.get("text")
    if test == "contains":
        return needle in text
    if test == "equals":
        return text == needle
    if test == "startswith":
        return text.startswith(needle)
    if test == "endswith":
        return text.endswith(needle)
    if test == "search":
        return re.search(needle, text) is not None
    raise ValueError(f"bbh_rules.json: unknown test {test!r}")


def _run(rules: list[dict], text: str) -> tuple[int | None, dict | None]:
    """(answer, the rule that gave it); answer None when the list ends without one (or at a random fallback)."""
    for rule in rules:
        if rule["test"] == "yes_no":
            answer, hit = _run(_table()["rules"]["yes_no"], text)
            if answer is not None:
                return answer, hit
        elif rule["test"] == "fallback":
            return None, None
        elif _fires(rule, text):
            return rule["answer"], rule
    return None, None


def extract(response: str, item_id: str) -> dict:
    """The answer VoiceBench reads (0/1, or None where it would draw at random), the rule and any quirk it has."""
    task = task_of(item_id)
    answer, rule = _run(_table()["rules"][task], normalize(response))
    return {"task": task, "answer": answer, "rule": None if rule is None else f"{rule['test']}: {rule['text']}",
            "quirk": None if rule is None else rule.get("quirk")}


def gold(reference: str) -> int:
    mapping = _table()["reference_map"]
    key = str(reference).lower()
    if key not in mapping:
        raise ValueError(f"BBH reference {reference!r} is not one of {', '.join(mapping)}")
    return mapping[key]


def draw(seed: int, item_id: str) -> int:
    return random.Random(f"voicebench-bbh:{seed}:{item_id}").choice((0, 1))


def score_item(response: str, reference: str, item_id: str, seed: int, draw_id: str | None = None) -> dict:
    """``item_id``: the dataset's ``id`` (it names the task); ``draw_id``: what seeds the draw (default item_id)."""
    out = extract(response, item_id)
    target = gold(reference)
    pred = out["answer"] if out["answer"] is not None else draw(seed, draw_id or item_id)
    return {**out, "pred": pred, "correct": pred == target,
            "correct_strict": out["answer"] is not None and out["answer"] == target}


def figures(items: list[dict], wrong: int = 0) -> dict:
    """BBHEvaluator.evaluate: one accuracy pooled over every item (percent), plus strict, expected and fail (the
    draw is between 0 and 1), and how many answers each quirk rule decided."""
    fig = drawn_choice_figures(items, wrong, "answer", 2)
    if fig["n"]:
        fig["decided_by_quirk"] = dict(Counter(i["rule"] for i in items if i.get("quirk")))
    return fig


def quirk_rules() -> list[dict]:
    """Every rule the data marks as a quirk: task, rule and why (written into results)."""
    return [{"task": task, "rule": f"{r['test']}: {r['text']}", "answer": r["answer"], "quirk": r["quirk"]}
            for task, rules in _table()["rules"].items() for r in rules if r.get("quirk")]
