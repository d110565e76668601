"""VoiceBench's BBH reading (src/evaluator/bbh.py @ 5338154): expected answers are what the original's if-chains
give; its quirks are reproduced as they are and flagged."""
import pytest

from harness.tasks.voicebench import UPSTREAM_COMMIT, data_file
from harness.tasks.voicebench.bbh import (
    UnknownBBHTask,
    draw,
    extract,
    figures,
    gold,
    normalize,
    quirk_rules,
    score_item,
)

SPORTS, HYPER, NAV, LIES = ("bbh_sports_understanding_3", "bbh_hyperbaton_12", "bbh_navigate_7",
                            "bbh_web_of_lies_218")


def test_normalization():
    assert normalize("<1>The Answer: **Yes**.<|user|>") == "the answer yes"
    assert normalize("It's  well-known, \"no\"<|turn_end|>!") == "it's well known no !"
    assert normalize("结论：是") == "结论 是"


@pytest.mark.parametrize("response,item,answer", [
    ("The answer is no.", SPORTS, 0),                  # shared yes/no list: 'answer is no' ('.' became a space)
    ("**Answer:** Yes", NAV, 1),                       # 'answer yes': in no yes/no rule; navigate's endswith 'yes'
    ("So the final answer: NO", LIES, 0),              # 'final answer no'
    ("The answer is \\boxed{yes}", NAV, 1),            # boxed form kept ('{', '}', '\\' survive normalization)
    ("The answer is $\\boxed{\\text{true}}$", SPORTS, 1),
    ("After following these steps, you return to the starting point.", NAV, 1),
    ("You do not return to the starting point.", NAV, 0),
    ("The sentence is not plausible.", SPORTS, 0),      # a literal rule, before the inverted regex
    ("Making it plausible.", SPORTS, 1),
    ("The answer is (B)", HYPER, 1),
    ("The correct adjective order is option (a).", HYPER, 0),
    ("b) big old red car", HYPER, 1),                  # startswith 'b)'
    ("The answer is Sam tells a lie.", LIES, 0),       # regex 'answer is (.+?) tells a lie'
    ("Therefore, Delfina does tell the truth", LIES, 1),
    ("Yes, it is.", SPORTS, 1),                        # startswith 'yes'
    ("Well... I think no", NAV, 0),                    # endswith 'no'
])
def test_rules(response, item, answer):
    assert extract(response, item)["answer"] == answer


def test_rule_that_decides_is_reported():
    assert extract("**Answer:** Yes", NAV)["rule"] == "endswith: yes"
    assert extract("The answer is no.", SPORTS)["rule"] == "contains: answer is no"


def test_quirks_are_reproduced_and_flagged():
    # hyperbaton: exactly 'b' maps to 0 (option a)
    out = extract("B", HYPER)
    assert out["answer"] == 0 and "inverted" in out["quirk"]
    # sports: 'the sentence ... is not plausible' (with words between) maps to 1
    out = extract("Honestly, the sentence Tom Brady scored a touchdown is not plausible", SPORTS)
    assert out["answer"] == 1 and out["rule"].startswith("search: the sentence (.+?) is not plausible")
    # web of lies: '... must be lying' at the end maps to 1 (tells the truth)
    out = extract("So Jim must be lying", LIES)
    assert out["answer"] == 1 and out["quirk"]
    # sports: a literal containing '.' can never match after normalization: the response falls through
    out = extract("I would say that it is not a plausible sentence.", SPORTS)
    assert out["rule"] != "contains: i would say that it is not a plausible sentence."
    flagged = {(q["task"], q["rule"]) for q in quirk_rules()}
    assert ("hyperbaton", "equals: b") in flagged and ("web_of_lies", "endswith: must be lying") in flagged
    assert len(flagged) == 4


def test_nothing_read_draws_seeded_and_counts_as_a_failure():
    out = extract("Hmm, hard to tell.", NAV)
    assert out["answer"] is None
    item = score_item("Hmm, hard to tell.", "Yes", NAV, seed=5, draw_id="9")
    assert item["pred"] == draw(5, "9") and item["correct"] is (draw(5, "9") == 1) and not item["correct_strict"]
    fig = figures([item, score_item("yes", "Yes", NAV, 5, "10"), score_item("B", "(A)", HYPER, 5, "11")])
    assert fig["fail"] == pytest.approx(100 / 3) and fig["acc_strict"] == pytest.approx(200 / 3)
    assert fig["decided_by_quirk"] == {"equals: b": 1}


def test_ids_and_references():
    assert gold("Yes") == 1 and gold("no") == 0 and gold("(A)") == 0 and gold("(b)") == 1
    with pytest.raises(ValueError, match="not one of"):
        gold("maybe")
    with pytest.raises(UnknownBBHTask, match="names none of"):
        extract("yes", "bbh_date_understanding_1")


def test_rule_file_names_its_source():
    table = data_file("bbh_rules.json")
    assert table["commit"] == UPSTREAM_COMMIT and "bbh.py" in table["source"]
    assert [len(table["rules"][t]) for t in ("yes_no", "sports_understanding", "hyperbaton", "navigate",
                                              "web_of_lies")] == [31, 73, 211, 41, 33]
