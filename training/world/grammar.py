"""A synchronous English/Chinese template grammar: every rule writes one sentence in both languages at once.

Declarative scene sentences (five kinds, e.g. "Anna has three red balls." / "安娜有三个红色的球。") and the
questions one can ask about a scene, with their short reference answers. Pure functions of the slots; the
world (training/world/world.py) draws the slots.
"""
from __future__ import annotations

from typing import Any, Callable

from training.world.lexicon import (
    ACTIVITIES,
    CITIES,
    COLOURS,
    DAYS,
    LOCATIONS,
    NAMES,
    NUMBERS,
    OBJECTS,
    PARTS_OF_DAY,
    PLACES,
    Phrase,
)

SCENE_KINDS = ("possession", "travel", "activity", "location", "gift")
QUESTION_KINDS = ("possession", "travel", "activity", "location")  # scenes that questions are asked about


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _quantity(num: int, colour: Phrase, obj) -> tuple[str, str]:
    """("three red balls", "三个红色的球"); one is "a red ball" / "一个红色的球"."""
    c = COLOURS[colour] if isinstance(colour, int) else colour
    en = f"{_article(c.en)} {c.en} {obj.en}" if num == 1 else f"{NUMBERS[num - 1].en} {c.en} {obj.en_pl}"
    return en, f"{NUMBERS[num - 1].zh}{obj.cl}{c.zh}的{obj.zh}"


def destinations() -> tuple[Phrase, ...]:
    return tuple(city for city, _ in CITIES) + PLACES


def scene(kind: str, s: dict[str, Any]) -> tuple[str, str]:
    """One declarative sentence pair from its slots (indices into the lexicon tables)."""
    if kind == "possession":
        p, obj = NAMES[s["person"]], OBJECTS[s["object"]]
        en, zh = _quantity(s["number"], COLOURS[s["colour"]], obj)
        return f"{p.en} has {en}.", f"{p.zh}有{zh}。"
    if kind == "travel":
        p, place, day = NAMES[s["person"]], destinations()[s["place"]], DAYS[s["day"]]
        return f"{p.en} went to {place.en} on {day.en}.", f"{p.zh}{day.zh}去了{place.zh}。"
    if kind == "activity":
        p, act, day, part = NAMES[s["person"]], ACTIVITIES[s["act"]], DAYS[s["day"]], PARTS_OF_DAY[s["part"]]
        return f"{p.en} {act.en} on {day.en} {part.en}.", f"{p.zh}{day.zh}{part.zh}{act.zh}。"
    if kind == "location":
        c, obj, loc = COLOURS[s["colour"]], OBJECTS[s["object"]], LOCATIONS[s["location"]]
        return f"The {c.en} {obj.en} is {loc.en}.", f"{c.zh}的{obj.zh}在{loc.zh}。"
    if kind == "gift":
        giver, taker, obj = NAMES[s["person"]], NAMES[s["other"]], OBJECTS[s["object"]]
        en, zh = _quantity(s["number"], COLOURS[s["colour"]], obj)
        return f"{giver.en} gave {taker.en} {en}.", f"{giver.zh}给了{taker.zh}{zh}。"
    raise ValueError(f"unknown scene kind {kind!r}")


def draw_slots(kind: str, rng, people: int) -> dict[str, Any]:
    """Random slots for one scene of ``kind`` (only the first ``people`` names)."""
    if kind in ("possession", "gift"):
        s = {"person": rng.randrange(people), "number": rng.randrange(1, len(NUMBERS) + 1),
             "colour": rng.randrange(len(COLOURS)), "object": rng.randrange(len(OBJECTS))}
        if kind == "gift":
            s["other"] = rng.choice([i for i in range(people) if i != s["person"]])
        return s
    if kind == "travel":
        return {"person": rng.randrange(people), "place": rng.randrange(len(destinations())),
                "day": rng.randrange(len(DAYS))}
    if kind == "activity":
        return {"person": rng.randrange(people), "act": rng.randrange(len(ACTIVITIES)),
                "day": rng.randrange(len(DAYS)), "part": rng.randrange(len(PARTS_OF_DAY))}
    if kind == "location":
        return {"colour": rng.randrange(len(COLOURS)), "object": rng.randrange(len(OBJECTS)),
                "location": rng.randrange(len(LOCATIONS))}
    raise ValueError(f"unknown scene kind {kind!r}")


def compatible(kind: str, a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Can scene ``b`` stand next to ``a`` in one context without making a question about ``a`` ambiguous?"""
    if kind == "location":  # "the ball on the table" and "the red ball" must each name one thing
        return a["object"] != b["object"] and a["location"] != b["location"]
    return a["person"] != b["person"]


# -- questions about a scene: kind -> {question type: slots -> (en Q, en A, zh Q, zh A)} ----------------------
def _possession_colour(s):
    p, obj, c = NAMES[s["person"]], OBJECTS[s["object"]], COLOURS[s["colour"]]
    noun, verb = (obj.en, "is") if s["number"] == 1 else (obj.en_pl, "are")
    return (f"What colour {verb} {p.en}'s {noun}?", f"{p.en}'s {noun} {verb} {c.en}.",
            f"{p.zh}的{obj.zh}是什么颜色的？", f"{p.zh}的{obj.zh}是{c.zh}的。")


def _possession_count(s):
    p, obj, n = NAMES[s["person"]], OBJECTS[s["object"]], s["number"]
    noun = obj.en if n == 1 else obj.en_pl
    return (f"How many {obj.en_pl} does {p.en} have?", f"{p.en} has {NUMBERS[n - 1].en} {noun}.",
            f"{p.zh}有几{obj.cl}{obj.zh}？", f"{p.zh}有{NUMBERS[n - 1].zh}{obj.cl}{obj.zh}。")


def _travel_where(s):
    p, day = NAMES[s["person"]], DAYS[s["day"]]
    en, zh = scene("travel", s)
    return f"Where did {p.en} go on {day.en}?", en, f"{p.zh}{day.zh}去了哪里？", zh


def _travel_when(s):
    p, place = NAMES[s["person"]], destinations()[s["place"]]
    en, zh = scene("travel", s)
    return f"When did {p.en} go to {place.en}?", en, f"{p.zh}什么时候去了{place.zh}？", zh


def _activity_what(s):
    p, day, part = NAMES[s["person"]], DAYS[s["day"]], PARTS_OF_DAY[s["part"]]
    en, zh = scene("activity", s)
    return f"What did {p.en} do on {day.en} {part.en}?", en, f"{p.zh}{day.zh}{part.zh}做了什么？", zh


def _location_where(s):
    c, obj = COLOURS[s["colour"]], OBJECTS[s["object"]]
    en, zh = scene("location", s)
    return f"Where is the {c.en} {obj.en}?", en, f"{c.zh}的{obj.zh}在哪里？", zh


def _location_colour(s):
    c, obj, loc = COLOURS[s["colour"]], OBJECTS[s["object"]], LOCATIONS[s["location"]]
    return (f"What colour is the {obj.en} {loc.en}?", f"The {obj.en} {loc.en} is {c.en}.",
            f"{loc.zh}的{obj.zh}是什么颜色的？", f"{loc.zh}的{obj.zh}是{c.zh}的。")


QUESTIONS: dict[str, dict[str, Callable[[dict], tuple[str, str, str, str]]]] = {
    "possession": {"colour": _possession_colour, "count": _possession_count},
    "travel": {"where": _travel_where, "when": _travel_when},
    "activity": {"what": _activity_what},
    "location": {"where": _location_where, "colour": _location_colour},
}
