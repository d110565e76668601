"""Interleaved chain-of-modality records: chunks at punctuation, unit slices at 25 Hz from one tokenization
of the whole answer, TQ first; the full layout for the ablation; cross-lingual prompts."""
import pytest

from training.aligner import WordTime
from training.chunking import split_words
from training.sft_data import SFTBuilder, SFTOptions, interleave, unit_index
from training.sources import Row, UnitsFile

ANSWER = "Machine learning is a field of study, which lets computers learn from data. It is used everywhere."


def times_for(text, lang="en", step=0.4, gap=0.1):
    words = [w for w, _, _ in split_words(text, lang)]
    return [WordTime(w, round(i * step + gap, 3), round((i + 1) * step, 3)) for i, w in enumerate(words)]


def test_slices_follow_word_times_at_25_hz():
    words = split_words(ANSWER, "en")
    times = times_for(ANSWER)
    raw = [1000 + i for i in range(int(times[-1].end * 25) + 5)]  # distinct units: merging changes nothing
    chunks = interleave(ANSWER, "en", words, times, raw, SFTOptions())
    assert [c.text for c in chunks] == ["Machine learning is a field of study,",
                                        " which lets computers learn from data. It is used everywhere."]
    cut = unit_index(times[6].end)  # end of "study," = 2.8 s -> unit 70
    assert cut == 70
    assert chunks[0].units == raw[:cut] and chunks[1].units == raw[cut:]
    assert [u for c in chunks for u in c.units] == raw  # every unit once, in order


def test_repeats_are_merged_per_slice_and_empty_slices_join_the_next_chunk():
    text = "One, two, three, four."
    words = split_words(text, "en")
    times = [WordTime("One,", 0.0, 0.2), WordTime("two,", 0.2, 0.21), WordTime("three,", 0.21, 0.6),
             WordTime("four.", 0.6, 1.0)]
    raw = [5, 5, 5, 6, 6, 7, 7, 7, 8, 8, 9, 9, 9, 9, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]  # 25 units = 1 s
    chunks = interleave(text, "en", words, times, raw, SFTOptions(chunk_size={"en": 1}))
    # "two," ends at 0.21 s -> index 5, same as "One," (0.2 s -> 5): its slice is empty, it joins "three,"
    assert [c.text for c in chunks] == ["One,", " two, three,", " four."]
    # merged per slice: the run of 2s cut at 0.6 s shows up at the end of one slice and the start of the next
    assert [c.units for c in chunks] == [[5, 6], [7, 8, 9, 2], [2, 3, 4]]
    assert [(c.start, c.end) for c in chunks] == [(0, 5), (5, 15), (15, 25)]


def dialogue(**kw):
    base = {"id": "d1", "question_text": "什么是机器学习？", "question_lang": "zh", "answer_text": ANSWER,
            "answer_lang": "en", "question_units": [3, 3, 4, 5, 5], "answer_units": list(range(150))}
    return Row("d1", "dialogues.jsonl:1", {**base, **kw})


def builder(options=SFTOptions(), answer=ANSWER, lang="en"):
    return SFTBuilder(UnitsFile.__new__(UnitsFile), word_times={"d1": times_for(answer, lang)}, options=options)


def test_interleaved_record_cross_lingual():
    rec = builder().record(dialogue())
    assert rec["prompt"] == ("Please answer the questions in the user's speech in English. "
                             "This is input: <sosp><3><4><5><eosp>.")
    assert rec["response"].startswith("[question]什么是机器学习？[answer]Machine learning is a field of study,<sosp><0><1>")
    assert rec["response"].count("<sosp>") == 2 and rec["response"].endswith("<149><eosp>")
    assert "study,<sosp>" in rec["response"] and "<69><eosp> which lets" in rec["response"]


def test_general_prompt_when_languages_agree_and_full_layout():
    rec = builder(SFTOptions(layout="full")).record(dialogue(question_lang="en", question_text="What is ML?"))
    assert rec["prompt"].startswith("Please directly answer the questions in the user's speech. This is input: <sosp>")
    assert rec["response"] == ("[question]What is ML?[answer]" + ANSWER + "<sosp>"
                               + "".join(f"<{i}>" for i in range(150)) + "<eosp>")
    assert rec["kind"] == "sft-full"


@pytest.mark.parametrize("fields,code", [
    ({"answer_text": " "}, "empty_text"),
    ({"question_text": ""}, "empty_text"),
    ({"answer_lang": ""}, "format"),
    ({"answer_units": []}, "no_units"),
])
def test_bad_dialogues_are_reported(fields, code):
    records, report = builder().build([dialogue(**fields)], [])
    assert not records and dict(report.refused) == {code: 1}
    assert report.problems[0].source == "dialogues.jsonl:1"


def test_word_times_must_match_the_answer():
    b = SFTBuilder(UnitsFile.__new__(UnitsFile), word_times={"d1": times_for("Something else entirely.")})
    _, report = b.build([dialogue()], [])
    assert dict(report.refused) == {"word_times": 1}


@pytest.mark.parametrize("text,lang,size", [
    (ANSWER, "en", 1), (ANSWER, "en", 2), ("Anna went to Sydney on Saturday.", "en", 1),
    ("机器学习是人工智能的一个分支，它让计算机从数据中学习规律。", "zh", 2), ("安娜星期六去了悉尼。", "zh", 1)])
def test_interleaved_chunks_concatenate_to_the_answer_byte_for_byte(text, lang, size):
    # The defect this guards: chunks cut from their first word's start, joined with nothing, wrote
    # "Anna<eosp>went" -- a spelling (BPE "w ent") the answer text never uses.
    rec = builder(SFTOptions(chunk_size={lang: size}), text, lang).record(dialogue(answer_text=text, answer_lang=lang))
    assert len(rec["chunks"]) > 1
    assert "".join(c["text"] for c in rec["chunks"]).encode() == text.encode()
    import re
    spoken = re.sub(r"<sosp>.*?<eosp>", "", rec["response"].split("[answer]", 1)[1])
    assert spoken == text  # the response's text, units removed, is the answer as written


def test_chinese_answer_chunks_by_characters():
    text = "机器学习是人工智能的一个分支，它让计算机从数据中学习规律。"
    words = split_words(text, "zh")
    times = [WordTime(w, i * 0.2, (i + 1) * 0.2) for i, (w, _, _) in enumerate(words)]
    chunks = interleave(text, "zh", words, times, list(range(200)), SFTOptions())
    assert [c.text for c in chunks] == ["机器学习是人工智能的一个分支，", "它让计算机从数据中学习规律。"]
    assert chunks[0].end == unit_index(times[13].end) == 70  # end of 支，(2.8 s)


def test_cli_with_a_word_times_file_and_the_full_layout(tmp_path, capsys):
    import json

    from training.cli import main

    d = dialogue().fields
    (tmp_path / "d.jsonl").write_text(json.dumps({**d, "id": "d1"}) + "\n" + json.dumps({**d, "id": "d2"}) + "\n")
    (tmp_path / "u.jsonl").write_text("")  # units are inline in the manifest
    times = [[t.word, t.start, t.end] for t in times_for(ANSWER)]
    (tmp_path / "t.jsonl").write_text(json.dumps({"id": "d1", "words": times}) + "\n")
    for layout in ("interleaved", "full"):
        out = tmp_path / f"{layout}.jsonl"
        assert main(["build-sft", "--manifest", str(tmp_path / "d.jsonl"), "--units", str(tmp_path / "u.jsonl"),
                     "--word-times", str(tmp_path / "t.jsonl"), "--layout", layout, "--out", str(out)]) == 0
        recs = [json.loads(line) for line in out.read_text().splitlines()]
        assert [r["id"] for r in recs] == ["sft-d1"] and recs[0]["kind"] == f"sft-{layout}"
        assert recs[0]["response"].count("<sosp>") == (2 if layout == "interleaved" else 1)
    assert "d.jsonl:2: word_times: no word times for d2" in capsys.readouterr().out
