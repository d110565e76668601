"""Prompt strings equal, byte for byte, what ictnlp/CSLM's decode scripts build (cslm/infer/decode_general.py
and decode_general_cross.py: template.format(prompt=..., src_units=...), chat [user, assistant ""] rendered
without a generation prompt, the conditional suffix cut, then tokenizer(prompt) with special tokens added)."""
import numpy as np
import pytest

from harness.model import ModelConfigError
from models.cslm.prompts import PromptBuilder, load_prompt_table
from models.cslm.units import detect_units

UNIT_LINE = "<12> <7> <4095> <7>"   # a line of the released --unit file; the script strips spaces
UNITS = [12, 7, 4095, 7]
SYS = ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
       "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>")
CLOSED_EMPTY_ASSISTANT = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n<|eot_id|>"

# Written out by hand for the tiny Llama-3.1-style template (the released cut never fires: see prompts.py).
RELEASED = {
    ("general", "en"): SYS + "<|start_header_id|>user<|end_header_id|>\n\nPlease directly answer the questions "
                             "in the user's speech. This is input: <sosp><12><7><4095><7><eosp>."
                       + CLOSED_EMPTY_ASSISTANT,
    ("general", "zh"): SYS + "<|start_header_id|>user<|end_header_id|>\n\n直接回答用户语音中的问题。 这是输入: "
                             "<sosp><12><7><4095><7><eosp>。" + CLOSED_EMPTY_ASSISTANT,
    ("cross", "en"): SYS + "<|start_header_id|>user<|end_header_id|>\n\nPlease answer the questions in the "
                           "user's speech in English. This is input: <sosp><12><7><4095><7><eosp>."
                     + CLOSED_EMPTY_ASSISTANT,
    ("cross", "zh"): SYS + "<|start_header_id|>user<|end_header_id|>\n\n用中文回答用户语音中的问题。 这是输入: "
                           "<sosp><12><7><4095><7><eosp>。" + CLOSED_EMPTY_ASSISTANT,
}


def released_preprocess(tokenizer, decoding: str, lang: str, unit_line: str) -> str:
    """The released scripts' preprocess(), restated from their source (lines 18-22 and 82-95)."""
    prompts = {"general": {"en": "Please directly answer the questions in the user's speech.",
                           "zh": "直接回答用户语音中的问题。"},
               "cross": {"en": "Please answer the questions in the user's speech in English.",
                         "zh": "用中文回答用户语音中的问题。"}}
    template = ("{prompt} This is input: <sosp>{src_units}<eosp>." if lang == "en"
                else "{prompt} 这是输入: <sosp>{src_units}<eosp>。")
    instruction = template.format(prompt=prompts[decoding][lang], src_units=unit_line.replace(" ", ""))
    messages = [{"role": "user", "content": instruction}, {"role": "assistant", "content": ""}]
    messages = tokenizer.apply_chat_template(messages, tokenize=False)
    cut = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    return messages[:-len(cut)] if messages.endswith(cut) else messages  # noqa: FURB188 -- as released


@pytest.fixture(scope="module")
def builder(tiny_tokenizer):
    return PromptBuilder(tiny_tokenizer, detect_units(tiny_tokenizer), load_prompt_table(), "released")


@pytest.mark.parametrize("decoding,lang", sorted(RELEASED))
def test_released_prompt_byte_for_byte(builder, tiny_tokenizer, decoding, lang):
    prompt = builder.units_prompt(decoding, lang, UNITS)
    assert prompt.text == RELEASED[(decoding, lang)]
    assert prompt.text == released_preprocess(tiny_tokenizer, decoding, lang, UNIT_LINE)
    # Token ids: what tokenizer(preprocessed_prompts) gives -- BOS from the template AND from the tokenizer.
    assert prompt.ids.tolist() == tiny_tokenizer(prompt.text)["input_ids"]
    bos = tiny_tokenizer.convert_tokens_to_ids("<|begin_of_text|>")
    assert prompt.ids[:2].tolist() == [bos, bos]


def test_generation_prompt_mode(tiny_tokenizer):
    builder = PromptBuilder(tiny_tokenizer, detect_units(tiny_tokenizer), load_prompt_table(), "generation-prompt")
    prompt = builder.units_prompt("general", "en", [3, 4])
    assert prompt.text == (SYS + "<|start_header_id|>user<|end_header_id|>\n\nPlease directly answer the "
                           "questions in the user's speech. This is input: <sosp><3><4><eosp>.<|eot_id|>"
                           "<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert prompt.ids.tolist() == tiny_tokenizer(prompt.text, add_special_tokens=False)["input_ids"]
    assert prompt.ids.tolist().count(tiny_tokenizer.convert_tokens_to_ids("<|begin_of_text|>")) == 1


def test_fast_ids_match_string_tokenization_on_long_sequences(builder, tiny_tokenizer):
    rng = np.random.default_rng(0)
    assert builder.self_check()
    for lang in ("en", "zh"):
        units = rng.integers(0, 4096, size=300).tolist()
        prompt = builder.units_prompt("asr", lang, units)
        assert prompt.ids.tolist() == tiny_tokenizer(prompt.text)["input_ids"]
    empty = builder.units_prompt("general", "en", [])  # no units: string path, still consistent
    assert empty.ids.tolist() == tiny_tokenizer(empty.text)["input_ids"]


def test_text_prompt_custom_instruction_and_truncation(tiny_tokenizer):
    vocab = detect_units(tiny_tokenizer)
    builder = PromptBuilder(tiny_tokenizer, vocab, load_prompt_table(), "released", max_input_tokens=60)
    tts = builder.text_prompt("tts", "en", "Hello {units} world.")
    assert "This is input: Hello {units} world.<|eot_id|>" in tts.text
    long = builder.units_prompt("general", "en", list(range(100)), instruction="Answer briefly.")
    assert "Answer briefly. This is input: <sosp><0><1>" in long.text
    assert long.truncated and len(long.ids) == 60  # released: input_ids[:, :max_len_input]


def test_prompt_override_file(tmp_path, tiny_tokenizer):
    override = tmp_path / "p.yaml"
    override.write_text("asr:\n  en:\n    instruction: Transcribe.\n", encoding="utf-8")
    table = load_prompt_table(override)
    assert table["asr"]["en"]["template"].startswith("{instruction} This is input:")
    assert table["asr"]["en"]["instruction"] == "Transcribe."
    builder = PromptBuilder(tiny_tokenizer, detect_units(tiny_tokenizer), table)
    assert "Transcribe. This is input: <sosp><1><eosp>." in builder.units_prompt("asr", "en", [1]).text
    with pytest.raises(ModelConfigError, match="no CSLM prompt"):
        builder.units_prompt("asr", "fr", [1])
    bad = tmp_path / "bad.yaml"
    bad.write_text("asr:\n  en:\n    template: 'no units here'\n", encoding="utf-8")
    with pytest.raises(ModelConfigError, match="exactly once"):
        PromptBuilder(tiny_tokenizer, detect_units(tiny_tokenizer), load_prompt_table(bad)).units_prompt("asr", "en", [1])
