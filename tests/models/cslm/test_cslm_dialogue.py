"""Multi-turn CSLM prompts: round 2's prompt holds round 1's question units and the model's own round-1 answer,
written as the SFT data writes a multi-turn record (training.chat / training.sft_data)."""
import numpy as np
import pytest

from harness.response import Turn
from models.cslm.adapter import CSLM
from tests.fixtures.scripted_cslm import build_scripted_cslm

INSTRUCTION = "Please directly answer the questions in the user's speech."


@pytest.fixture(scope="module")
def scripted(speech_tokenizer_onnx, tmp_path_factory):
    """Greedy output: text chunk, unit chunk, ... (released prompts end with <|eot_id|>, the script's cue)."""
    from transformers import AutoTokenizer

    from models.cslm.tiny import build_tiny_cslm

    root = tmp_path_factory.mktemp("scripted")
    base = build_tiny_cslm(root / "base")  # the default corpus leaves enough English word tokens for the script
    eot = AutoTokenizer.from_pretrained(base).convert_tokens_to_ids("<|eot_id|>")
    ckpt = build_scripted_cslm(base, root / "ckpt", "interleaved", [eot])
    model = CSLM("cslm", path=str(ckpt), speech_tokenizer=str(speech_tokenizer_onnx), do_sample="false",
                 unit_cache="none", max_new_tokens="80")
    model.ensure_loaded()
    return model


def test_round_two_prompt_is_the_sft_multi_turn_record(scripted, speechlike):
    from training.sft_data import Chunk, SFTOptions, render_response

    q1, q2 = speechlike, np.ascontiguousarray(speechlike[::-1]) * 0.5
    r1 = scripted.respond(q1, None, "en")
    assert r1.text and r1.units and r1.malformed is None  # bare units: the script writes no <sosp>
    _, units1 = scripted.prompt_for(q1, "en")
    prompt, units2 = scripted.prompt_for(q2, "en", None, [Turn(q1, r1)])
    assert scripted.vocab.format == "angle" and len(units1) and len(units2)

    def user(units):
        return f"{INSTRUCTION} This is input: <sosp>{''.join(f'<{u}>' for u in units)}<eosp>."

    # the model's own answer as the SFT target writes it: TA1<sosp>SA1<eosp>TA2<sosp>SA2<eosp>...
    pairs = list(zip(r1.segments[0::2], r1.segments[1::2]))
    assert [k for (k, _), _ in pairs] == ["text"] * len(pairs) and len(pairs) * 2 == len(r1.segments)
    chunks = [Chunk(text, units, 0, 0) for (_, text), (_, units) in pairs]
    own = render_response(None, "".join(c.text for c in chunks), chunks, SFTOptions(unit_format="angle"))
    assert own.count("<sosp>") == len(chunks) and "<eosp>" in own and own.startswith(" ")
    assert scripted._assistant_turn(r1) == own  # the assistant turn handed to the chat template, byte for byte
    # Llama-3's chat template trims each message, as it does when training renders the SFT record
    expected = (f"{user(units1)}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{own.strip()}<|eot_id|>"
                f"<|start_header_id|>user<|end_header_id|>\n\n{user(units2)}<|eot_id|>"
                f"<|start_header_id|>assistant<|end_header_id|>\n\n<|eot_id|>")
    assert prompt.text.endswith(expected)
    assert prompt.text.count("<|start_header_id|>user") == 2
    # released mode: the whole string tokenized with the tokenizer's own BOS as well (double BOS)
    assert prompt.ids.tolist() == scripted.tokenizer(prompt.text, add_special_tokens=True)["input_ids"]
    # respond with the history generates from exactly that prompt; round 1 alone is the single-turn prompt
    r2 = scripted.respond(q2, None, "en", history=[Turn(q1, r1)])
    assert r2.events["prompt_tokens"] == len(prompt.ids) and r1.events["prompt_tokens"] < len(prompt.ids)
    single, _ = scripted.prompt_for(q2, "en")
    assert single.text.endswith(expected[expected.index(user(units2)) - len("<|start_header_id|>user<|end_header_id|>\n\n"):])
    batch = scripted.respond_batch([q2, q1], None, ["en", "en"], histories=[[Turn(q1, r1)], []])
    assert batch[0].raw == r2.raw and batch[1].raw == r1.raw


def test_sft_question_tag_and_full_chain_rendering(scripted):
    from models.cslm.dialogue import assistant_turn

    segments = [("text", " Hello there."), ("units", [1, 2]), ("text", " Bye."), ("units", [3])]
    assert assistant_turn("hi?", segments, scripted.vocab, "interleaved") == \
        "[question]hi?[answer] Hello there.<sosp><1><2><eosp> Bye.<sosp><3><eosp>"
    assert assistant_turn(None, segments, scripted.vocab, "full") == "Hello there. Bye.<sosp><1><2><3><eosp>"
