"""VoiceBench's MCQ reading (src/evaluator/mcq.py @ 5338154): each expected letter is what the original's rules give
(template list in order, a..d within a template, then the bare letter, then its three special phrases)."""
import pytest

from harness.tasks.voicebench import UPSTREAM_COMMIT, data_file
from harness.tasks.voicebench.mcq import LETTERS, draw, extract_choice, figures, score_item

CASES = [
    ("B", "B"),                                    # the bare letter
    ("b) photosynthesis", "B"),                    # bare letter + ')' (no template: ' b)' needs a space before)
    ("The answer is C.", "C"),                     # 'the answer is [CHOICE]'
    ("The answer is about cells, so D.", "A"),     # plain substring: 'the answer is a' is in 'the answer is about'
    ("答案是B", "B"),                              # Chinese template, lower-cased letter
    ("选项C是最合适的", "C"),
    ("The final answer is \\( \\boxed{D} \\)", "D"),  # 'is \( \boxed{[CHOICE]}'
    ("\\boxed{B}", None),                          # a bare LaTeX box is no template: nothing extracted
    ("Option A, or maybe option C.", "C"),         # 'option [CHOICE].' comes before 'option [CHOICE],' in the list
    ("I'd say B. Definitely not A.", "B"),         # "i'd say [CHOICE]." before the generic ' [CHOICE].'
    ("<2>c. the mitochondria", "C"),               # '<2>' dropped, then the bare 'c.'
    ("There are several candidates: (b) and (d).", "B"),  # '([CHOICE])': a before b before c before d
    ("ANSWER IS **D**", "D"),                      # upper case: the response is lower-cased first
    ("The correct answer is: \n\n**C**", "C"),     # a template with newlines
    ("It would be A.", "A"),                       # 'would be [CHOICE]'
    ("", None),
    ("no idea", None),
]


@pytest.mark.parametrize("response,letter", CASES)
def test_extracts_the_letter_voicebench_reads(response, letter):
    assert extract_choice(response) == letter


def test_template_file_is_the_upstream_list():
    table = data_file("mcq_templates.json")
    assert table["commit"] == UPSTREAM_COMMIT and "mcq.py" in table["source"]
    templates = table["templates"]
    assert len(templates) == 163 and len(set(templates)) == 162  # 'is [CHOICE],' twice, as upstream
    assert templates[0] == "答案是[CHOICE]" and templates[-1] == '"[CHOICE]"'
    assert all("[CHOICE]" in t for t in templates)


def test_the_draw_is_seeded_per_item():
    assert draw(0, "7") == draw(0, "7")  # same seed and item: same letter, whatever ran before
    picks = {draw(seed, "7") for seed in range(60)}
    assert picks == set(LETTERS)  # it is a draw over A-D, not a constant
    assert [draw(3, str(i)) for i in range(20)] != [draw(4, str(i)) for i in range(20)]


def test_figures_headline_draw_strict_and_failure_rate():
    seed = 11
    # item 2's answer cannot be read: the headline draws for it (correct only if the draw hits the reference)
    items = [score_item("The answer is B.", "B", seed, "0"), score_item("A", "C", seed, "1"),
             score_item("\\boxed{D}", "D", seed, "2"), score_item("答案是D", "D", seed, "3")]
    assert [i["extracted"] for i in items] == ["B", "A", None, "D"]
    drawn_hit = draw(seed, "2") == "D"
    assert items[2]["pred"] == draw(seed, "2") and items[2]["correct"] is drawn_hit
    fig = figures(items)
    assert fig["acc"] == pytest.approx(100 * (2 + drawn_hit) / 4)
    assert fig["acc_strict"] == pytest.approx(50.0) and fig["fail"] == pytest.approx(25.0)
    assert fig["acc_expected"] == pytest.approx(100 * (2 + 0.25) / 4)
    # no-answer items (the system failed) are wrong, and not extraction failures
    fig = figures(items, wrong=4)
    assert fig["n"] == 8 and fig["acc_strict"] == pytest.approx(25.0) and fig["fail"] == pytest.approx(12.5)


def test_reference_compared_as_stored():
    # VoiceBench compares the upper-case letter with the reference exactly: a lower-case reference never matches
    assert score_item("B", "b", 0, "x")["correct_strict"] is False
