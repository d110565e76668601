"""The world's text: deterministic per seed, a split that never leaks a sentence, answers that follow from
facts or from the context, natural Simplified Chinese."""
import re

import pytest

from training.world.facts import PHRASINGS
from training.world.lexicon import (
    ACTIVITIES,
    CITIES,
    COLOURS,
    DAYS,
    LOCATIONS,
    NAMES,
    NUMBERS,
    OBJECTS,
    PLACES,
)
from training.world.world import HELDOUT, TRAIN, build_world, qa_rows, sentence_rows, vocabulary


@pytest.fixture(scope="module")
def world():
    return build_world(seed=0, people=20, sentences=1500, context_qa=1000, heldout_fraction=0.1, profile_facts=3)


def test_same_seed_same_world_other_seed_other_world():
    a = build_world(3, 8, 200, 100, 0.2)
    b = build_world(3, 8, 200, 100, 0.2)
    c = build_world(4, 8, 200, 100, 0.2)
    assert sentence_rows(a) == sentence_rows(b) and qa_rows(a) == qa_rows(b)
    assert sentence_rows(a) != sentence_rows(c)
    assert [f.statement_en for f in a.facts] != [f.statement_en for f in c.facts]


def test_sizes_and_vocabulary(world):
    scenes = [p for p in world.sentences if p.kind != "fact"]
    assert len(scenes) == 1500 and len({p.en for p in world.sentences}) == len(world.sentences)
    assert sum(p.split == HELDOUT for p in scenes) == 150
    assert len([q for q in world.qa if q.kind.startswith("ctx-")]) == 1000
    assert len([q for q in world.qa if q.kind.startswith("fact-")]) == (20 * 5 + len(CITIES)) * PHRASINGS
    vocab = vocabulary(world)
    assert 150 <= vocab["en_words"] <= 400 and 150 <= vocab["zh_characters"] <= 400
    assert {q.kind for q in world.qa if q.split == HELDOUT} == {q.kind for q in world.qa}  # every type held out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_split_never_leaks_a_sentence(world, lang):
    rows = sentence_rows(world)
    train = {r["text"] for r in rows if r["lang"] == lang and r["split"] == TRAIN}
    held = {r["text"] for r in rows if r["lang"] == lang and r["split"] == HELDOUT}
    assert held and not train & held
    qa = [r for r in qa_rows(world) if r["lang"] == lang]
    train_q = {r["question"] for r in qa if r["split"] == TRAIN}
    held_q = {r["question"] for r in qa if r["split"] == HELDOUT}
    assert held_q and not train_q & held_q and not held_q & train
    # a held-out scene sentence is never heard in training in any role (inside a context, as an answer)
    train_text = " ".join(sorted(train_q | {r["answer"] for r in qa if r["split"] == TRAIN}))
    assert not [s for s in held if s in train_text]


def test_fact_answers_are_consistent_and_taught(world):
    train_sentences = {p.en for p in world.sentences if p.split == TRAIN} | {p.zh for p in world.sentences
                                                                             if p.split == TRAIN}
    by_key = {f.key: f for f in world.facts}
    answers = {}
    for q in world.qa:
        if not q.kind.startswith("fact-"):
            continue
        fact = by_key[q.fact]
        assert (q.en_answer, q.zh_answer) == (fact.statement_en, fact.statement_zh)
        assert answers.setdefault(q.fact, q.en_answer) == q.en_answer
        assert q.en_answer in train_sentences and q.zh_answer in train_sentences  # the fact itself is taught
    for key in by_key:  # each fact: two phrasings trained, one held out
        splits = sorted(q.split for q in world.qa if q.fact == key)
        assert splits == [HELDOUT, TRAIN, TRAIN]
    # one person, one home, everywhere in the world
    homes = [f for f in world.facts if f.key == "Anna.lives_in"]
    assert len(homes) == 1 and any(c.en in homes[0].statement_en for c, _ in CITIES)


def test_profile_answers_are_the_persons_first_facts(world):
    profiles = [q for q in world.qa if q.kind == "profile"]
    assert len(profiles) == 20 * PHRASINGS
    anna = [q for q in profiles if "Anna" in q.en_query]
    statements = {f.relation: f for f in world.facts if f.key.startswith("Anna.")}
    assert {q.en_answer for q in anna} == {" ".join(statements[r].statement_en for r in ("lives_in", "job", "pet"))}
    assert {q.zh_answer for q in anna} == {"".join(statements[r].statement_zh for r in ("lives_in", "job", "pet"))}
    assert sorted(q.split for q in anna) == [HELDOUT, TRAIN, TRAIN]
    assert {q.en_query for q in anna} == {"Tell me about Anna.", "What do you know about Anna?", "Who is Anna?"}
    # the profile questions draw nothing: the rest of the world is the same without them
    plain = build_world(seed=0, people=20, sentences=1500, context_qa=1000, heldout_fraction=0.1)
    assert [q.en_query for q in plain.qa] == [q.en_query for q in world.qa if q.kind != "profile"]


def _mentions(text: str, lang: str) -> set[str]:
    words = ([n.en for n in NAMES] + [c.en for c in COLOURS] + [n.en for n in NUMBERS] + [o.en for o in OBJECTS]
             + [o.en_pl for o in OBJECTS] + [c.en for c, _ in CITIES] + [p.en for p in PLACES] + [d.en for d in DAYS]
             + [a.en for a in ACTIVITIES] + [loc.en for loc in LOCATIONS]) if lang == "en" else (
        [n.zh for n in NAMES] + [c.zh for c in COLOURS] + [o.zh for o in OBJECTS] + [c.zh for c, _ in CITIES]
        + [p.zh for p in PLACES] + [d.zh for d in DAYS] + [a.zh for a in ACTIVITIES] + [loc.zh for loc in LOCATIONS])
    if lang == "en":
        return {w for w in words if re.search(rf"\b{re.escape(w)}\b", text)}
    return {w for w in words if w in text}


def test_context_answers_follow_from_the_context(world):
    ctx = [q for q in world.qa if q.kind.startswith("ctx-")]
    with_distractor = 0
    for q in ctx:
        for lang in ("en", "zh"):
            context = q.en_context if lang == "en" else q.zh_context
            missing = _mentions(q.answer(lang), lang) - _mentions(context, lang)
            if lang == "en" and re.search(r"\ban? ", context):
                missing.discard("one")  # "has a purple bowl" -> "has one bowl"
            assert not missing, (q, lang, missing)
        with_distractor += len(q.context_ids) == 2
        sentences = {p.id: p for p in world.sentences}
        assert {sentences[i].split for i in q.context_ids} == {q.split}
    assert 0.4 < with_distractor / len(ctx) < 0.9


def test_examples_read_as_expected():
    w = build_world(0, 20, 400, 200, 0.1)
    rows = {(r["kind"], r["lang"]): r for r in qa_rows(w)}
    colour_en, colour_zh = rows[("ctx-possession-colour", "en")], rows[("ctx-possession-colour", "zh")]
    assert re.fullmatch(r"What colour (is|are) \w+'s \w+\?", colour_en["query"])
    assert re.fullmatch(r"\w+'s \w+ (is|are) \w+\.", colour_en["answer"])
    assert re.fullmatch(r"\S+的\S+是什么颜色的？", colour_zh["query"])
    assert re.fullmatch(r"\S+的\S+是\S+色的。", colour_zh["answer"])
    home = rows[("fact-lives_in", "zh")]
    assert re.fullmatch(r"\S+住在\S+。", home["answer"])


def test_chinese_is_written_in_chinese(world):
    zh = [p.zh for p in world.sentences] + [q.question("zh") for q in world.qa] + [q.zh_answer for q in world.qa]
    for text in zh:
        assert not re.search(r"[A-Za-z0-9 ]", text), text
        assert text[-1] in "。？", text
        assert "二个" not in text and "二本" not in text  # counting uses 两
    assert any("两" in t for t in zh)
