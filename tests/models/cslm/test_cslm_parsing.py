"""Channel splitting on interleaved, full and malformed generations: a reason string, never an exception."""
import pytest

from models.cslm.parsing import join_text, parse_generation
from models.cslm.units import UNIT_FORMATS

ANGLE = UNIT_FORMATS["angle"][1]


def parse(raw, **kw):
    return parse_generation(raw, ANGLE, 4096, **kw)


def test_interleaved_bare_units():
    p = parse("Machine learning is<1><2><3> a way to<4><5> learn from data.<6>")
    assert p.segments == [("text", "Machine learning is"), ("units", [1, 2, 3]), ("text", " a way to"),
                          ("units", [4, 5]), ("text", " learn from data."), ("units", [6])]
    assert p.text == "Machine learning is a way to learn from data."
    assert p.units == [1, 2, 3, 4, 5, 6] and p.unit_chunks == [[1, 2, 3], [4, 5], [6]]
    assert p.malformed is None


def test_interleaved_with_spans_and_chinese():
    p = parse("机器学习是<sosp><1><2><eosp>一种方法。<sosp><3><eosp>")
    assert p.text == "机器学习是一种方法。" and p.units == [1, 2, 3] and p.malformed is None


def test_full_chain():
    ok = parse("All the text first. <sosp><1><2><3><eosp>", chain="full")
    assert ok.malformed is None and ok.text == "All the text first." and ok.units == [1, 2, 3]
    bad = parse("Some text<1><2> more text<3>", chain="full")
    assert bad.malformed == "units_inside_text"
    assert bad.units == [1, 2, 3] and bad.text == "Some text more text"
    assert parse("Some text<1><2> more text<3>", chain="interleaved").malformed is None


@pytest.mark.parametrize("raw,reason", [
    ("Only text, no speech.", "no_units"),
    ("", "no_units; no_text"),
    ("Text <sosp><1><2>", "unclosed_span"),
    ("Text <1><eosp>", "stray_eosp"),
    ("Text <sosp><1> words <2><eosp>", "text_inside_span"),
    ("Text <sosp><eosp><1>", "empty_span; units_outside_span"),
    ("Text <sosp><1><sosp><2><eosp>", "nested_span"),
    ("Text <5000><1>", "unit_out_of_range"),
    ("<1><2><3>", "no_text"),
    ("<sosp>\x00<<>>\ufffd garbage <eosp", "text_inside_span; unclosed_span; no_units"),
])
def test_malformed_outputs_are_recorded(raw, reason):
    p = parse(raw)
    assert p.malformed == reason


def test_asr_expectations_and_dropped_specials():
    p = parse("hello world<|eot_id|>", expect_units=False, drop=("<|eot_id|>",))
    assert p.text == "hello world" and p.malformed is None
    assert parse("hello <7> world", expect_units=False).malformed == "unexpected_units"


def test_project_unit_format():
    p = parse_generation("hi<|s_1|><|s_2|> there", UNIT_FORMATS["s-pipe"][1], 4096)
    assert p.units == [1, 2] and p.text == "hi there"


def test_join_text_keeps_the_models_own_spacing():
    assert join_text(["Hello,", " world"]) == "Hello, world"
    assert join_text(["你好，", "世界"]) == "你好，世界"
    # a model that drops the space after a unit span is shown as it wrote, not repaired
    assert join_text(["We", "went"]) == "Wewent"
    assert join_text([" a", " b ", ""]) == "a b"


def test_sft_question_transcript_is_not_part_of_the_answer():
    # The SFT layout (training/sft_data.py, after the released sft.py): [question]TQ[answer]TA1<sosp>SA1<eosp>...
    p = parse("[question]What is AI?[answer]AI is<sosp><1><2><eosp> software.<sosp><3><eosp>")
    assert p.question == "What is AI?"
    assert p.text == "AI is software." and p.unit_chunks == [[1, 2], [3]] and p.malformed is None
