"""The mini-CSLM's stage-0 tokenizer: it learns from the training split only (no held-out string reaches its
corpus), splits Chinese per character, and tokenizes the chat scaffold in a few tokens; the tokens report says
so on the data."""
import json

import pytest

from models.cslm.tiny import build_tokenizer
from training.chat import ChatEncoder
from training.mini_cslm import data as D
from training.world.world import build_world, qa_rows, sentence_rows


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    w = build_world(seed=0, people=12, sentences=600, context_qa=300, heldout_fraction=0.2, profile_facts=3)
    D.write_jsonl(folder / "sentences.jsonl", sentence_rows(w))
    D.write_jsonl(folder / "qa.jsonl", qa_rows(w))
    return folder


def test_no_heldout_string_reaches_the_tokenizer_corpus(world):
    corpus = set(D.text_corpus(world))
    heldout = [r["text"] for r in D.read_jsonl(world / "sentences.jsonl") if r["split"] != "train"]
    heldout += [r[k] for r in D.read_jsonl(world / "qa.jsonl") if r["split"] != "train"
                for k in ("question", "answer", "context") if r.get(k)]
    train = {r["text"] for r in D.read_jsonl(world / "sentences.jsonl") if r["split"] == "train"}
    assert heldout and train <= corpus
    # a held-out string may equal a training one (answers state facts), never be there because it is held out
    trained_qa = {r[k] for r in D.read_jsonl(world / "qa.jsonl") if r["split"] == "train"
                  for k in ("question", "answer", "context") if r.get(k)}
    assert not {h for h in heldout if h in corpus} - train - trained_qa


def test_chinese_is_one_token_per_character_and_the_scaffold_is_whole_words(world):
    tokenizer = build_tokenizer(D.text_corpus(world), n_units=16, vocab_size=2000)
    zh = "安娜星期六去了悉尼。"
    assert [tokenizer.decode([i]) for i in tokenizer(zh, add_special_tokens=False).input_ids] == list(zh)
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    pieces = [tokenizer.decode([i]) for i in tokenizer(chat, add_special_tokens=False).input_ids]
    for word in ("system", "Cutting", " Knowledge", " December", "user", "assistant"):
        assert word in pieces, pieces
    # an English ASR record: the scaffold and prompt no longer dwarf the 20 units and the target
    units = "".join(f"<{i}>" for i in range(10)) * 2
    record = {"prompt": f"Please transcribe the user's speech into text. This is input: <sosp>{units}<eosp>.",
              "response": "Anna went to Sydney on Saturday."}
    encoded = ChatEncoder(tokenizer, 4096).encode(record)
    assert len(encoded["input_ids"]) < 90  # 163 before (scaffold tokenized byte by byte)


def test_tokens_report_counts_heldout_coverage_and_tokens_per_kind(world, tmp_path):
    tokenizer = build_tokenizer(D.text_corpus(world), n_units=16, vocab_size=2000)
    tokenizer.save_pretrained(tmp_path / "tok")
    data = tmp_path / "data"
    D.write_jsonl(data / "instruct.jsonl", [{"prompt": "Where did Anna go?", "response": "Sydney."}] * 3)
    D.write_jsonl(data / "asr-en.jsonl", [{"prompt": "Please transcribe the user's speech into text. This is input: "
                                                     "<sosp><1><2><eosp>.", "response": "Sydney."}])
    report = D.tokens_report(tmp_path / "tok", world, data)
    assert set(report["heldout_coverage"]) == {"en", "zh"}
    assert report["heldout_coverage"]["zh"]["with_unseen_token"] == 0  # per-character Chinese: none unseen
    assert report["per_kind"]["instruct"]["records"] == 3
    kind = report["per_kind"]["asr-en"]
    assert kind["tokens_per_record"] == kind["target_tokens_per_record"] + kind["other_tokens_per_record"]
    json.dumps(report)


def test_a_generation_prompt_tokenizes_as_the_start_of_a_training_record(world):
    """The prompt the model is decoded with ("...assistant<|end_header_id|>\\n\\n") must be the very tokens that
    precede the answer in training; with a "\\n\\n" merge, GPT-2's split read it as one token at the end of the
    prompt and as two before the answer, and the trained model did not know how to start (measured: ASR
    transcripts that began mid-sentence or in the other language)."""
    tokenizer = build_tokenizer(D.text_corpus(world), n_units=16, vocab_size=2000)
    for content in ("Please transcribe the user's speech into text. This is input: <sosp><1><2><eosp>.",
                    "安娜住在哪里？"):
        user = [{"role": "user", "content": content}]
        prompt = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(user + [{"role": "assistant", "content": "Anna lives in Rome."}],
                                             tokenize=False)
        head = tokenizer(prompt, add_special_tokens=False).input_ids
        assert tokenizer(full, add_special_tokens=False).input_ids[:len(head)] == head
