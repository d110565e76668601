"""The released loss mask, tokenization and truncation (ictnlp/CSLM cslm/train/pretrain.py, sft.py), checked
against a restatement of the released rule written from token positions; a short run with the released recipe."""
import json

import pytest
from transformers import AutoTokenizer

from training.chat import IGNORE, ChatEncoder, RecordError
from training.recipe import load_recipe
from training.trainer import train

TWO_TURNS = {"prompt": ["hello world", "This is input: <sosp><1><2><eosp>."], "response": ["good morning", "thank you"]}


@pytest.fixture(scope="module")
def tok(tiny_merged):
    return AutoTokenizer.from_pretrained(tiny_merged)


def released(tok, max_length=512, truncate=False):
    return ChatEncoder(tok, max_length, truncate=truncate, loss_mask="released", encoding="released")


def layout(tok, ids):
    """Positions of the five header starts of a two-turn conversation: system, user, assistant, user, assistant."""
    tokens = tok.convert_ids_to_tokens(ids)
    starts = [i for i, t in enumerate(tokens) if t == "<|start_header_id|>"]
    roles = [tok.decode(ids[i + 1:tokens.index("<|end_header_id|>", i)]) for i in starts]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    return tokens, starts


def masked(enc):
    return {i for i, label in enumerate(enc["labels"]) if label == IGNORE}


def test_released_mask_on_a_two_turn_example(tok):
    enc = released(tok).encode(TWO_TURNS)
    ids = enc["input_ids"]
    tokens, (system, user1, asst1, user2, asst2) = layout(tok, ids)
    # Released layout: the tokenizer's BOS, then the template's (double BOS); the text ends with <|eot_id|>,
    # the tokenizer's EOS, so nothing is appended.
    assert tokens[:2] == ["<|begin_of_text|>"] * 2 and system == 2 and tokens[-1] == "<|eot_id|>"
    # Released rule: labels are the ids except the first BOS and each [user header, assistant header) span.
    expected = {0} | set(range(user1, asst1)) | set(range(user2, asst2))
    assert masked(enc) == expected
    assert all(label == i for label, i, pos in zip(enc["labels"], ids, range(len(ids))) if pos not in expected)
    # So it trains the second BOS, the system block, the assistant headers and the eot closing each answer,
    # while each user turn's own <|eot_id|> (just before the assistant header) is masked.
    assert {1, system, asst1, asst2, user2 - 1, len(ids) - 1}.isdisjoint(masked(enc))
    assert tokens[asst1 - 1] == tokens[user2 - 1] == "<|eot_id|>" and asst1 - 1 in masked(enc)
    # The project's default trains the two answers (and their eots) only.
    default = ChatEncoder(tok, 512).encode(TWO_TURNS)
    trained = tok.decode([i for i, lab in zip(default["input_ids"], default["labels"]) if lab != IGNORE])
    assert trained == "good morning<|eot_id|>thank you<|eot_id|>" and default["input_ids"] == ids[1:]


def test_released_truncation_cuts_before_masking(tok):
    ids = released(tok).encode(TWO_TURNS)["input_ids"]
    tokens, (_, user1, asst1, user2, asst2) = layout(tok, ids)
    header_end = tokens.index("<|end_header_id|>", asst2) + 1  # the second assistant header ends here
    answer = header_end + len(tok.encode("\n\n", add_special_tokens=False))  # its first answer token
    with pytest.raises(RecordError) as err:
        released(tok, max_length=len(ids) - 1).encode(TWO_TURNS)
    assert err.value.code == "too_long"
    # Cut inside the second answer: max_length tokens, no EOS appended (no room), same mask as uncut.
    cut = released(tok, max_length=answer + 1, truncate=True).encode(TWO_TURNS)
    assert cut["input_ids"] == ids[:answer + 1]
    assert masked(cut) == {0} | set(range(user1, asst1)) | set(range(user2, asst2))
    # Cut right after the second assistant header: the released scan stops at a header that ends the sequence,
    # so the second user turn stays trained (as released).
    edge = released(tok, max_length=header_end, truncate=True).encode(TWO_TURNS)
    assert edge["input_ids"] == ids[:header_end]
    assert masked(edge) == {0} | set(range(user1, asst1))
    # The project's encoding (one BOS, so one position earlier) truncates too: the cut answer keeps its first token.
    plain = ChatEncoder(tok, answer, truncate=True).encode(TWO_TURNS)
    assert plain["input_ids"] == ids[1:answer + 1] and plain["labels"][-1] == ids[answer]
    assert plain["labels"][-2] == IGNORE


def test_released_encoding_appends_a_missing_eos(tiny_merged):
    tok = AutoTokenizer.from_pretrained(tiny_merged, eos_token="<|end_of_text|>")
    enc = released(tok).encode({"prompt": "hello world", "response": "red"})
    assert tok.convert_ids_to_tokens(enc["input_ids"][-2:]) == ["<|eot_id|>", "<|end_of_text|>"]
    assert enc["labels"][-1] == enc["input_ids"][-1]  # trained, as released (labels copy the ids)


def test_released_mask_needs_llama3_headers():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]")
    with pytest.raises(ValueError, match="loss_mask=released.*<\\|start_header_id\\|>"):
        ChatEncoder(tok, 64, loss_mask="released")


def mapping_records(n=8):
    from models.cslm.units import UNIT_FORMATS

    fmt = UNIT_FORMATS["angle"][0]
    words = ["red", "green", "blue", "yellow", "black", "white", "orange", "purple"]
    out = []
    for i, word in enumerate(words[:n]):
        units = "".join(fmt.format((37 * i + 5 * k) % 4096) for k in range(4))
        out.append({"prompt": f"Please transcribe the user's speech into text. This is input: <sosp>{units}<eosp>.",
                    "response": word})
    return out


def test_short_run_with_the_released_recipe_options(tiny_merged, tmp_path):
    """The released CPT recipe itself, shrunk to the tiny model on CPU: padded batches, released mask and
    encoding, truncation keeps an over-long record, evaluation every eval_steps; the loss falls."""
    long = {"prompt": "This is input: <sosp>" + "<7>" * 200 + "<eosp>.", "response": "red"}  # > max_length
    data = tmp_path / "map.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in mapping_records() + [long]))
    recipe = load_recipe("cpt_llama31_8b_released", [
        f"model={tiny_merged}", f"data=[{data}]", f"output_dir={tmp_path / 'out'}", "device=cpu", "precision=fp32",
        "deepspeed=null", "pad_token_id=null", "num_proc=1", "max_length=128", "eval_size=1", "eval_steps=15", "max_steps=30",
        "per_device_train_batch_size=2", "gradient_accumulation_steps=1", "learning_rate=5e-3",
        "warmup_ratio=0.0", "logging_steps=5", "save_steps=1000"])
    assert (recipe.loss_mask, recipe.encoding, recipe.truncate, recipe.packing) == ("released", "released", True, False)
    summary = train(recipe)
    report = json.loads((tmp_path / "out" / "data_report.json").read_text())
    assert report["refused"] == {} and report["eval_examples"] == 1  # long one kept
    assert report["planned"][str(data)]["records"] == 8 and report["seen"][str(data)]["distinct_seen"] == 8
    assert summary["rows"] == summary["examples"] == report["train_examples"] >= 60  # padded: one example per row
    losses = [h["loss"] for h in summary["log_history"] if "loss" in h]
    assert losses[-1] < 0.5 * losses[0], losses
    assert [h["step"] for h in summary["log_history"] if "eval_loss" in h] == [15, 30]
    harness = json.loads((tmp_path / "out" / "cslm_harness.json").read_text())
    assert harness["generation"]["prompt_mode"] == "released"  # decoded as the release decodes
