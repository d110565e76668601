"""The seeded bilingual world: fact statements, scene sentences, and question -> answer pairs, with a split.

Sentences (parallel pairs, ids ``s00000``..): the fixed facts (always ``train``: the model must see them),
then ``sentences`` distinct scene sentences, ``round(heldout_fraction x sentences)`` of them held out.

Questions (parallel pairs, ids ``q00000``..), two sources of answers:
- ``fact-<relation>``: world knowledge, no context ("Where does Anna live?" -> "Anna lives in Paris."). Each
  fact is asked in three phrasings per language; one (rotating) phrasing is held out, the other two train.
  The answer is the fact's statement, which is a training sentence: held-out questions are new phrasings of
  facts the model was taught, never new facts.
- ``profile``: a long answer ("Tell me about Anna." -> "Anna lives in Paris. Anna is a doctor. Anna has a
  cat."): the person's first ``profile_facts`` facts, each a training sentence; three phrasings per language,
  one (rotating with the person) held out. Ids follow the fact questions'.
- ``ctx-<scene>-<type>``: the answer is stated in a context of one or two scene sentences spoken before the
  question ("Tom has three red balls. What colour are Tom's balls?" -> "Tom's balls are red."). A question
  inherits the split of its context sentences (both from the same split), so a held-out scene sentence is
  never heard in training in any role.

Invariant (tested): no text of a held-out sentence, and no held-out question text, occurs in the training
split, in either language. Answers may repeat across splits: they state facts.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from training.world.facts import PHRASINGS, draw_facts, heldout_phrasing, profile
from training.world.grammar import QUESTION_KINDS, QUESTIONS, SCENE_KINDS, compatible, draw_slots, scene

TRAIN, HELDOUT = "train", "heldout"
PROFILE = "profile"  # kind of the long-answer questions (build.py speaks them all, the mini-CSLM sets them apart)


@dataclass(frozen=True)
class SentencePair:
    id: str
    kind: str          # "fact" or a scene kind
    en: str
    zh: str
    split: str
    slots: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class QAPair:
    id: str
    kind: str          # "fact-<relation>" or "ctx-<scene>-<type>"
    en_context: str    # "" for fact questions
    en_query: str
    en_answer: str
    zh_context: str
    zh_query: str
    zh_answer: str
    split: str
    fact: str = ""     # the fact key ("Anna.lives_in") a fact question asks about
    context_ids: tuple[str, ...] = ()  # the scene sentences the context is made of

    def question(self, lang: str) -> str:
        """What is spoken: the context, then the question (English joined by a space, Chinese without)."""
        context, query = (self.en_context, self.en_query) if lang == "en" else (self.zh_context, self.zh_query)
        return (f"{context} {query}" if lang == "en" else f"{context}{query}") if context else query

    def answer(self, lang: str) -> str:
        return self.en_answer if lang == "en" else self.zh_answer


@dataclass
class World:
    seed: int
    people: int
    facts: list
    sentences: list[SentencePair]
    qa: list[QAPair]


def build_world(seed: int, people: int, sentences: int, context_qa: int, heldout_fraction: float,
                profile_facts: int = 0) -> World:
    rng = random.Random(seed)
    facts = draw_facts(rng, people)
    pairs = [SentencePair(f"s{i:05d}", "fact", f.statement_en, f.statement_zh, TRAIN) for i, f in enumerate(facts)]
    seen = {p.en for p in pairs} | {p.zh for p in pairs}
    scenes: list[SentencePair] = []
    attempts = 0
    while len(scenes) < sentences:
        attempts += 1
        if attempts > 50 * sentences + 1000:
            raise ValueError(f"sentences: cannot draw {sentences} distinct scene sentences with people={people}")
        kind = SCENE_KINDS[rng.randrange(len(SCENE_KINDS))]
        slots = draw_slots(kind, rng, people)
        en, zh = scene(kind, slots)
        if en in seen or zh in seen:
            continue
        seen |= {en, zh}
        scenes.append(SentencePair("", kind, en, zh, TRAIN, slots))
    held = set(rng.sample(range(len(scenes)), round(heldout_fraction * len(scenes))))
    for i, s in enumerate(scenes):
        pairs.append(SentencePair(f"s{len(pairs):05d}", s.kind, s.en, s.zh, HELDOUT if i in held else TRAIN, s.slots))
    # profile questions draw nothing from rng: the context questions are the same with or without them
    qa = _fact_questions(facts) + _profile_questions(facts, people, profile_facts) + _context_questions(
        rng, pairs, context_qa)
    qa = [replace(q, id=f"q{i:05d}") for i, q in enumerate(qa)]
    return World(seed, people, facts, pairs, qa)


def _fact_questions(facts) -> list[QAPair]:
    out = []
    for f in facts:
        held = heldout_phrasing(f)
        for k in range(PHRASINGS):
            out.append(QAPair("", f"fact-{f.relation}", "", f.questions_en[k], f.statement_en, "", f.questions_zh[k],
                              f.statement_zh, HELDOUT if k == held else TRAIN, fact=f.key))
    return out


def _profile_questions(facts, people: int, count: int) -> list[QAPair]:
    out = []
    for person in range(people if count else 0):
        questions_en, questions_zh, answer_en, answer_zh = profile(facts, person, count)
        for k in range(PHRASINGS):
            out.append(QAPair("", PROFILE, "", questions_en[k], answer_en, "", questions_zh[k], answer_zh,
                              HELDOUT if k == person % PHRASINGS else TRAIN))
    return out


def _context_questions(rng, pairs: list[SentencePair], count: int) -> list[QAPair]:
    pools: dict[tuple[str, str], list[SentencePair]] = {}
    for p in pairs:
        if p.kind in QUESTION_KINDS:
            pools.setdefault((p.kind, p.split), []).append(p)
    bases = [p for p in pairs if p.kind in QUESTION_KINDS]
    out: list[QAPair] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < count and bases:
        attempts += 1
        if attempts > 50 * count + 1000:
            raise ValueError(f"context_qa: cannot draw {count} distinct context questions; lower context_qa "
                             f"or raise sentences")
        base = bases[rng.randrange(len(bases))]
        qtype = sorted(QUESTIONS[base.kind])[rng.randrange(len(QUESTIONS[base.kind]))]
        context = [base]
        if rng.random() < 2 / 3:  # most contexts carry a distractor: the answer must be picked out
            pool = [p for p in pools[(base.kind, base.split)] if p is not base and compatible(base.kind, base.slots, p.slots)]
            if pool:
                other = pool[rng.randrange(len(pool))]
                context = [base, other] if rng.random() < 0.5 else [other, base]
        en_q, en_a, zh_q, zh_a = QUESTIONS[base.kind][qtype](base.slots)
        q = QAPair("", f"ctx-{base.kind}-{qtype}", " ".join(c.en for c in context), en_q, en_a,
                   "".join(c.zh for c in context), zh_q, zh_a, base.split, context_ids=tuple(c.id for c in context))
        if q.question("en") in seen or q.question("zh") in seen:
            continue
        seen |= {q.question("en"), q.question("zh")}
        out.append(q)
    return out


def sentence_rows(world: World) -> list[dict[str, Any]]:
    """sentences.jsonl: one row per language, parallel rows share ``pair`` and give each other's text."""
    rows = []
    for p in world.sentences:
        for lang, text, other in (("en", p.en, p.zh), ("zh", p.zh, p.en)):
            rows.append({"id": f"{p.id}-{lang}", "pair": p.id, "lang": lang, "kind": p.kind, "text": text,
                         "translation": other, "split": p.split})
    return rows


def qa_rows(world: World) -> list[dict[str, Any]]:
    """qa.jsonl: ``question`` is what is spoken (context + query); ``context``/``query`` are its parts."""
    rows = []
    for q in world.qa:
        for lang in ("en", "zh"):
            rows.append({"id": f"{q.id}-{lang}", "pair": q.id, "lang": lang, "kind": q.kind,
                         "context": q.en_context if lang == "en" else q.zh_context,
                         "query": q.en_query if lang == "en" else q.zh_query,
                         "question": q.question(lang), "answer": q.answer(lang), "fact": q.fact,
                         "context_ids": list(q.context_ids), "split": q.split})
    return rows


def vocabulary(world: World) -> dict[str, int]:
    """Distinct English words (lower-cased, punctuation and 's stripped) and distinct Chinese characters."""
    en: set[str] = set()
    zh: set[str] = set()
    texts = [(p.en, p.zh) for p in world.sentences] + [(q.en_query + " " + q.en_answer, q.zh_query + q.zh_answer)
                                                        for q in world.qa]
    for en_text, zh_text in texts:
        en |= {w.strip(".,?").removesuffix("'s").lower() for w in en_text.split()}
        zh |= {c for c in zh_text if "\u4e00" <= c <= "\u9fff"}
    en.discard("")
    return {"en_words": len(en), "zh_characters": len(zh)}
