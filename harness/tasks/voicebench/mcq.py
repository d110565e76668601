"""VoiceBench's multiple-choice scorer (openbookqa, mmsu): src/evaluator/mcq.py at UPSTREAM_COMMIT.

extract_choice(response) reads the chosen letter as VoiceBench does:
1. lower-case; a leading ``<1>``/``<2>``/``<3>`` is dropped (3 characters) and the rest stripped;
2. templates in their order (data/mcq_templates.json), and for each template the choices a, b, c, d in order: the
   first template-with-letter found as a substring wins (so an earlier template beats a later one, and within one
   template ``a`` beats ``b``);
3. else the bare letter: the response equals it, or starts with it followed by ``.`` ``,`` ``:`` ``)``;
4. else three hard-coded phrases that mean A; else None (nothing extracted).

VoiceBench replaces every None by ``random.choice('ABCD')`` unseeded. Here the headline does the same draw, seeded
per item (``draw(seed, item_id)``), so a rerun gives the same figure and one item's draw never depends on which
other items ran; ``acc_strict`` (None = wrong) and the extraction-failure rate (VoiceBench's ``fail``) stand beside.
"""
from __future__ import annotations

import random
from functools import cache

from harness.tasks.voicebench import data_file

LETTERS = ("A", "B", "C", "D")
_PREFIXES = ("<1>", "<2>", "<3>")
_BARE_PUNCT = (".", ",", ":", ")")
# mcq.py lines 186-191: checked last, each means A.
_SPECIAL_A = ("would be a.", 'would be "a.', "the best option from the given choices would be a scorpion (a)")


@cache
def _candidates() -> tuple[tuple[str, str], ...]:
    """(needle, letter) in the order VoiceBench tries them."""
    table = data_file("mcq_templates.json")
    return tuple((template.replace("[CHOICE]", choice), choice.upper())
                 for template in table["templates"] for choice in table["choices"])


def extract_choice(response: str) -> str | None:
    text = response.lower()
    if text.startswith(_PREFIXES):
        text = text[3:].strip()
    for needle, letter in _candidates():
        if needle in text:
            return letter
    for letter in LETTERS:
        low = letter.lower()
        if text == low or any(text.startswith(low + p) for p in _BARE_PUNCT):
            return letter
    if any(phrase in text for phrase in _SPECIAL_A):
        return "A"
    return None


def draw(seed: int, item_id: str) -> str:
    """The letter VoiceBench's random fallback would pick, seeded by (seed, item id)."""
    return random.Random(f"voicebench-mcq:{seed}:{item_id}").choice(LETTERS)


def score_item(response: str, reference: str, seed: int, item_id: str) -> dict:
    """One answer: the extracted letter (or None), the drawn letter when none, correct with the draw and strictly."""
    extracted = extract_choice(response)
    pred = extracted if extracted is not None else draw(seed, item_id)
    gold = str(reference)  # VoiceBench compares with the reference as stored (an upper-case letter)
    return {"extracted": extracted, "pred": pred, "correct": pred == gold,
            "correct_strict": extracted is not None and extracted == gold}


def drawn_choice_figures(items: list[dict], wrong: int, unread: str, choices: int) -> dict:
    """The figures of a scorer that draws among ``choices`` answers when it reads none (mcq: 4 letters, bbh: 0/1):
    acc (with the draw), acc_strict (no answer read = wrong), acc_expected (each such item credited 1/choices, the
    draw's expectation) and fail, in percent; ``unread``: the item field that is None when nothing was read;
    ``wrong``: items with no answer at all (the system failed), wrong and not extraction failures."""
    n = len(items) + wrong
    if not n:
        return {"acc": None, "acc_strict": None, "acc_expected": None, "fail": None, "n": 0}
    correct = sum(i["correct"] for i in items)
    strict = sum(i["correct_strict"] for i in items)
    failed = sum(i[unread] is None for i in items)
    return {"acc": 100.0 * correct / n, "acc_strict": 100.0 * strict / n,
            "acc_expected": 100.0 * (strict + failed / choices) / n, "fail": 100.0 * failed / n,
            "n": n, "correct": correct, "correct_strict": strict, "failed": failed}


def figures(items: list[dict], wrong: int = 0) -> dict:
    """VoiceBench's MCQEvaluator.evaluate over scored items (score_item outputs): acc (with the draw) and fail, in
    percent, plus acc_strict and acc_expected (each failure credited 1/4, the draw's expectation)."""
    return drawn_choice_figures(items, wrong, "extracted", len(LETTERS))
