"""The world's fixed knowledge: where each person lives, their job, pet, favourite colour and hobby (drawn once
from the seed), and which country each city is in (real geography). Each fact has one statement (always in
the training split) and three question phrasings per language; one phrasing per fact is held out.
"""
from __future__ import annotations

from dataclasses import dataclass

from training.world.lexicon import CITIES, COLOURS, HOBBIES, JOBS, NAMES, PETS

RELATIONS = ("lives_in", "job", "pet", "favourite_colour", "hobby")  # per person; plus "country" per city
PHRASINGS = 3
# "Tell me about Anna." -> the person's first facts, one sentence each: the world's long answers (the paper's
# latency gain comes from answers longer than the question; the one-clause answers above allow about 1.75x).
PROFILE_QUESTIONS = (("Tell me about {name}.", "What do you know about {name}?", "Who is {name}?"),
                     ("请介绍一下{name}。", "说说{name}吧。", "{name}是个什么样的人？"))


@dataclass(frozen=True)
class Fact:
    key: str              # "Anna.lives_in", "Paris.country"
    relation: str
    subject: int          # person index, or city index for "country"
    value: int            # index into the relation's table
    statement_en: str     # "Anna lives in Paris."
    statement_zh: str     # "安娜住在巴黎。"
    questions_en: tuple[str, ...]  # PHRASINGS ways to ask; the answer is the statement
    questions_zh: tuple[str, ...]


def draw_facts(rng, people: int) -> list[Fact]:
    """Per-person facts (one seeded draw per person and relation, in a fixed order), then the cities'."""
    facts = []
    tables = {"lives_in": len(CITIES), "job": len(JOBS), "pet": len(PETS), "favourite_colour": len(COLOURS),
              "hobby": len(HOBBIES)}
    for person in range(people):
        for relation in RELATIONS:
            facts.append(person_fact(relation, person, rng.randrange(tables[relation])))
    facts.extend(city_fact(city) for city in range(len(CITIES)))
    return facts


def person_fact(relation: str, person: int, value: int) -> Fact:
    n = NAMES[person]
    if relation == "lives_in":
        city = CITIES[value][0]
        st = (f"{n.en} lives in {city.en}.", f"{n.zh}住在{city.zh}。")
        qs = ((f"Where does {n.en} live?", f"Which city does {n.en} live in?", f"In which city is {n.en}'s home?"),
              (f"{n.zh}住在哪里？", f"{n.zh}住在哪个城市？", f"{n.zh}的家在哪个城市？"))
    elif relation == "job":
        job = JOBS[value]
        st = (f"{n.en} is {job.en}.", f"{n.zh}是{job.zh}。")
        qs = ((f"What does {n.en} do?", f"What is {n.en}'s job?", f"What does {n.en} do for work?"),
              (f"{n.zh}是做什么的？", f"{n.zh}的工作是什么？", f"{n.zh}做什么工作？"))
    elif relation == "pet":
        pet = PETS[value]
        st = (f"{n.en} has {pet.en}.", f"{n.zh}养了{pet.zh}。")
        qs = ((f"What pet does {n.en} have?", f"What animal does {n.en} keep at home?",
               f"Which pet does {n.en} have?"),
              (f"{n.zh}养了什么宠物？", f"{n.zh}家里养着什么动物？", f"{n.zh}有什么宠物？"))
    elif relation == "favourite_colour":
        c = COLOURS[value]
        st = (f"{n.en}'s favourite colour is {c.en}.", f"{n.zh}最喜欢的颜色是{c.zh}。")
        qs = ((f"What is {n.en}'s favourite colour?", f"Which colour does {n.en} like best?",
               f"What colour does {n.en} like most?"),
              (f"{n.zh}最喜欢的颜色是什么？", f"{n.zh}最喜欢什么颜色？", f"{n.zh}最喜欢哪种颜色？"))
    elif relation == "hobby":
        h = HOBBIES[value]
        st = (f"{n.en} likes {h.en}.", f"{n.zh}喜欢{h.zh}。")
        qs = ((f"What does {n.en} like to do?", f"What is {n.en}'s hobby?", f"What does {n.en} enjoy doing?"),
              (f"{n.zh}喜欢做什么？", f"{n.zh}的爱好是什么？", f"{n.zh}平时喜欢做什么？"))
    else:
        raise ValueError(f"unknown relation {relation!r}")
    return Fact(f"{n.en}.{relation}", relation, person, value, st[0], st[1], qs[0], qs[1])


def city_fact(index: int) -> Fact:
    city, country = CITIES[index]
    return Fact(f"{city.en}.country", "country", index, index, f"{city.en} is in {country.en}.",
                f"{city.zh}在{country.zh}。",
                (f"Which country is {city.en} in?", f"In which country is {city.en}?",
                 f"{city.en} is a city in which country?"),
                (f"{city.zh}在哪个国家？", f"{city.zh}是哪个国家的城市？", f"{city.zh}属于哪个国家？"))


def heldout_phrasing(fact: Fact) -> int:
    """The phrasing asked only in the held-out split: rotates with subject and relation, so every phrasing
    is held out for some facts and trained on for others (held-out questions are new combinations)."""
    relation = RELATIONS.index(fact.relation) if fact.relation in RELATIONS else len(RELATIONS)
    return (fact.subject + relation) % PHRASINGS


def profile(facts: list[Fact], person: int, count: int) -> tuple[tuple[str, ...], tuple[str, ...], str, str]:
    """Questions (en, zh) about one person and the answer: their first ``count`` facts in RELATIONS order."""
    mine = {f.relation: f for f in facts if f.subject == person and f.relation in RELATIONS}
    chosen = [mine[r] for r in RELATIONS[:count]]
    n = NAMES[person]
    return (tuple(q.format(name=n.en) for q in PROFILE_QUESTIONS[0]),
            tuple(q.format(name=n.zh) for q in PROFILE_QUESTIONS[1]),
            " ".join(f.statement_en for f in chosen), "".join(f.statement_zh for f in chosen))
