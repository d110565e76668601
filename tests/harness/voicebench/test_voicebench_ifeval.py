"""VoiceBench's IFEval scorer through lm-eval's copy of Google's checks: every registered instruction id, strict and
loose; expected values are what VoiceBench's own vendored code (src/evaluator/ifeval.py @ 5338154) gives."""
import pytest

from harness.tasks.voicebench import ifeval

# Each parquet row holds, per instruction, the union of all kwargs (unused ones None): VoiceBench filters by `if v`.
ALL_KWARGS = ("keywords", "keyword", "frequency", "relation", "forbidden_words", "letter", "let_frequency",
              "let_relation", "language", "num_sentences", "num_paragraphs", "num_words", "nth_paragraph",
              "first_word", "num_placeholders", "postscript_marker", "num_bullets", "num_highlights",
              "section_spliter", "num_sections", "prompt_to_repeat", "end_phrase", "capital_frequency",
              "capital_relation")


def kw(**given):
    return {k: given.get(k) for k in ALL_KWARGS}


PROMPT = "Tell me about the weather."
# (instruction id, kwargs, response, strict, loose)
CASES = [
    ("keywords:existence", kw(keywords=["banana"]), "I like a ripe Banana.", True, True),
    ("keywords:frequency", kw(keyword="cat", frequency=3, relation="at least"), "cat Cat dog", False, False),
    ("keywords:forbidden_words", kw(forbidden_words=["apple"]), "I ate an Apple today.", False, False),
    ("keywords:letter_frequency", kw(letter="z", let_frequency=2, let_relation="at least"), "Zebras zigzag.", True,
     True),
    ("language:response_language", kw(language="fr"),
     "Il fait beau aujourd'hui et le soleil brille sur toute la ville.", True, True),
    ("length_constraints:number_sentences", kw(num_sentences=3, relation="less than"),
     "Dr. Smith came home. He slept. Then he ate.", False, False),
    ("length_constraints:number_paragraphs", kw(num_paragraphs=2), "First part.\n***\nSecond part.", True, True),
    ("length_constraints:number_words", kw(num_words=5, relation="less than"), "It is sunny and warm today",
     False, False),
    ("length_constraints:nth_paragraph_first_word", kw(num_paragraphs=2, nth_paragraph=2, first_word="weather"),
     "Hello there.\n\nWeather: sunny all day.", False, False),  # ':' is kept: 'weather:' != 'weather'
    ("length_constraints:nth_paragraph_first_word", kw(num_paragraphs=2, nth_paragraph=2, first_word="weather"),
     "Hello there.\n\nWeather, sunny all day.", True, True),    # ',' ends the word
    ("detectable_content:number_placeholders", kw(num_placeholders=2), "Meet [name] at [address].", True, True),
    ("detectable_content:postscript", kw(postscript_marker="P.S."), "Sunny.\nP.S. bring a hat", True, True),
    ("detectable_format:number_bullet_lists", kw(num_bullets=2), "Here:\n* sun\n* wind\n- rain", False, True),
    ("detectable_format:constrained_response", kw(), "My answer is yes.", True, True),
    ("detectable_format:number_highlighted_sections", kw(num_highlights=2), "It is *sunny* and **warm**.", True,
     True),
    ("detectable_format:multiple_sections", kw(section_spliter="Section", num_sections=2),
     "Section 1\nsun\nSection 2\nrain", True, True),
    ("detectable_format:json_format", kw(), 'Here is the JSON:\n{"weather": "sunny"}', False, True),
    ("detectable_format:title", kw(), "<<Weather Today>>\nIt is sunny.", True, True),
    ("combination:two_responses", kw(), "It is sunny.\n******\nIt is warm.", True, True),
    ("combination:repeat_prompt", kw(prompt_to_repeat=PROMPT), "tell me about the weather. It is sunny.", True,
     True),
    ("startend:end_checker", kw(end_phrase="Any other questions?"), "It is sunny. Any other questions?\n", True,
     True),
    ("startend:quotation", kw(), 'Sure:\n"It is sunny."', False, True),
    ("change_case:capital_word_frequency", kw(capital_frequency=2, capital_relation="at least"),
     "The SUN is VERY bright.", True, True),
    ("change_case:english_capital", kw(),
     "THE WEATHER TODAY IS SUNNY AND WARM WITH A LIGHT BREEZE FROM THE WEST.", True, True),
    ("change_case:english_lowercase", kw(),
     "Sure!\nthe weather today is sunny and warm with a light breeze from the west.", False, True),
    ("punctuation:no_comma", kw(), "Well, here it is\nThe weather is sunny", False, True),
]


def item(instruction_ids, kwargs, key=1, prompt=PROMPT):
    return {"key": key, "prompt": prompt, "instruction_id_list": instruction_ids, "kwargs": kwargs}


def test_every_registered_instruction_has_a_case():
    assert sorted({c[0] for c in CASES}) == ifeval.describe()["instruction_ids"]
    assert len({c[0] for c in CASES}) == 25


@pytest.mark.parametrize("instruction,kwargs,response,strict,loose", CASES, ids=[c[0] for c in CASES])
def test_instruction(instruction, kwargs, response, strict, loose):
    assert ifeval.score_item(item([instruction], [kwargs]), response) == {"strict": [strict], "loose": [loose]}


def test_empty_response_follows_nothing():
    ids = ["punctuation:no_comma", "detectable_format:constrained_response"]
    assert ifeval.score_item(item(ids, [kw(), kw()]), "  ") == {"strict": [False, False], "loose": [False, False]}


def test_report_and_final_over_prompts():
    items = [item(["punctuation:no_comma", "keywords:existence"], [kw(), kw(keywords=["sun"])], key=1),
             item(["detectable_format:title"], [kw()], key=2, prompt="Give it a title.")]
    results, repeated = ifeval.score_all(items, ["Sunny, warm\nno comma here, sun", "<1><<Sun>> <|user|>"])
    assert repeated == 0
    assert results[0] == {"strict": [False, True], "loose": [False, True]}  # both lines have a comma
    assert results[1] == {"strict": [True], "loose": [True]}                # '<1>' and '<|user|>' stripped first
    fig = ifeval.figures(results)
    assert fig["strict-prompt"] == 0.5 and fig["strict-instruction"] == pytest.approx(2 / 3)
    assert fig["final"] == pytest.approx((0.5 + 2 / 3 + 0.5 + 2 / 3) / 4)


def test_same_prompt_uses_the_last_response_as_voicebench_does():
    items = [item(["punctuation:no_comma"], [kw()], key=1), item(["punctuation:no_comma"], [kw()], key=2)]
    results, repeated = ifeval.score_all(items, ["no commas", "a, b"])
    assert repeated == 1 and results[0] == results[1] == {"strict": [False], "loose": [False]}


def test_offline_punkt_and_lm_eval_described():
    info = ifeval.describe()
    assert info["implementation"].startswith("lm-eval ") and "seed 0" in info["langdetect"]
    import nltk

    assert nltk.sent_tokenize("Dr. Smith came home. He slept.") == ["Dr. Smith came home.", "He slept."]
