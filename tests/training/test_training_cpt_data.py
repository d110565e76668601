"""CPT data builders: ASR / TTS pairs (units from the speech tokenizer stage or a units file), MT pairs,
instructions; bad rows are counted and reported with their source line; mixing ratios."""
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from models.cslm.speech_tokenizer import SpeechTokenizer
from training.cpt_data import BuildOptions, build_instruct, build_mt, build_speech_pairs, write_jsonl
from training.dataset import mix_counts
from training.sources import TokenizerUnits, UnitsFile, hub_rows, speech_rows, table_rows
from training.templates import Templates


@pytest.fixture(scope="module")
def speech_manifest(belle_dir, tmp_path_factory):
    """Three real BELLE-eval-S2S questions, one missing wav, one empty text, one 31 s file."""
    root = tmp_path_factory.mktemp("asr")
    rows = ["id\ttext"]
    for i in ("0", "1", "4"):
        shutil.copy(belle_dir / "wav" / f"{i}.wav", root / f"{i}.wav")
        text = [line.split("\t")[1] for line in (belle_dir / "test.tsv").read_text(encoding="utf-8").splitlines()
                if line.split("\t")[0] == i][0]
        rows.append(f"{i}\t{text}")
    rows.append("gone\t这个文件不存在")              # line 5: missing audio
    rows.append("blank\t ")                          # line 6: empty text
    sf.write(root / "long.wav", np.full(16000 * 31, 0.1, dtype=np.float32), 16000)
    rows.append("long\t太长了")                       # line 7: 31 s
    (root / "asr.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root / "asr.tsv"


def test_asr_and_tts_from_the_speech_tokenizer_stage(speech_manifest, tiny_onnx_tokenizer, tmp_path):
    units = TokenizerUnits(SpeechTokenizer(tiny_onnx_tokenizer, cache_dir=tmp_path / "cache"))
    rows, problems = speech_rows(speech_manifest, "zh")
    templates = Templates.load()
    asr, report = build_speech_pairs("asr", rows, problems, units, templates)
    assert report.written == 3 and [r["source"].rsplit(":", 1)[1] for r in asr] == ["2", "3", "4"]
    assert dict(report.refused) == {"missing_audio": 1, "empty_text": 1, "audio_too_long": 1}
    where = {p.code: p.source.rsplit(":", 1)[1] for p in report.problems}
    assert where == {"missing_audio": "5", "empty_text": "6", "audio_too_long": "7"}
    rec = asr[0]
    assert rec["prompt"].startswith("请将用户语音转写为文字。 这是输入: <sosp><") and rec["prompt"].endswith("<eosp>。")
    assert rec["response"] == "中国有多少个省？"
    # units are merged: no unit repeats its neighbour
    unit_ids = [int(u) for u in rec["prompt"].split("<sosp>")[1].split("<eosp>")[0][1:-1].split("><")]
    assert all(a != b for a, b in zip(unit_ids, unit_ids[1:]))
    tts, _ = build_speech_pairs("tts", rows, problems, units, templates)
    assert tts[0]["prompt"] == "请朗读下面的文字。 这是输入: 中国有多少个省？"
    assert tts[0]["response"] == "<sosp>" + rec["prompt"].split("<sosp>")[1].split("<eosp>")[0] + "<eosp>"
    out = write_jsonl(asr, tmp_path / "asr.jsonl", report)
    assert len(out.read_text().splitlines()) == 3
    saved = json.loads((tmp_path / "asr.jsonl.report.json").read_text())
    assert saved["refused_total"] == 3 and saved["problems"][0]["source"].endswith(":5")


def test_units_file_and_too_long(tmp_path):
    (tmp_path / "m.tsv").write_text("id\ttext\na\thello world\nb\tgood morning\nc\tthank you\n", encoding="utf-8")
    (tmp_path / "u.tsv").write_text("a\t<1><1><2><3><3>\nb\t" + " ".join(str(i) for i in range(40)) + "\n")
    rows, problems = speech_rows(tmp_path / "m.tsv", "en")
    recs, report = build_speech_pairs("asr", rows, problems, UnitsFile(tmp_path / "u.tsv"), Templates.load(),
                                      BuildOptions(max_units=30))
    assert [r["id"] for r in recs] == ["asr-en-a"]
    assert "<sosp><1><2><3><eosp>" in recs[0]["prompt"]
    assert dict(report.refused) == {"too_long": 1, "missing_units": 1}
    assert sorted(p.source for p in report.problems) == [f"{tmp_path / 'm.tsv'}:3", f"{tmp_path / 'm.tsv'}:4"]


def test_mt_both_directions_and_bad_rows(tmp_path):
    (tmp_path / "mt.tsv").write_text("zh\ten\n今天天气很好。\tThe weather is nice today.\n\tEmpty Chinese.\n"
                                     "一\ttwo\tthree\n", encoding="utf-8")
    rows, problems = table_rows(tmp_path / "mt.tsv")
    recs, report = build_mt(rows, problems, Templates.load())
    assert [(r["kind"], r["lang"]) for r in recs] == [("mt", "en"), ("mt", "zh")]
    assert recs[0]["prompt"].endswith("今天天气很好。") and recs[0]["response"] == "The weather is nice today."
    assert recs[1]["prompt"].endswith("The weather is nice today.") and recs[1]["response"] == "今天天气很好。"
    assert dict(report.refused) == {"empty_text": 1, "format": 1}
    assert {p.source.rsplit(":", 1)[1] for p in report.problems} == {"3", "4"}


def test_instruction_formats(tmp_path):
    lines = [{"prompt": "hi", "response": "hello"},
             {"instruction": "Add", "input": "1 and 2", "output": "3"},
             {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                           {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]},
             {"prompt": ["x", "y"], "response": ["z"]},
             {"question": "no known fields"}]
    (tmp_path / "i.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + "not json\n")
    rows, problems = table_rows(tmp_path / "i.jsonl")
    recs, report = build_instruct(rows, problems, "en")
    assert [(r["prompt"], r["response"]) for r in recs] == [("hi", "hello"), ("Add\n1 and 2", "3"),
                                                            (["a", "c"], ["b", "d"])]
    assert dict(report.refused) == {"turns": 1, "format": 2}
    assert sorted(int(p.source.rsplit(":", 1)[1]) for p in report.problems) == [4, 5, 6]


def test_hub_dataset_rows(tmp_path, belle_dir):
    """A Hub-layout dataset (parquet with an embedded audio column), read by datasets without decoding."""
    datasets = pytest.importorskip("datasets")
    wav = (belle_dir / "wav" / "3.wav").read_bytes()
    ds = datasets.Dataset.from_dict({"id": ["3", "x"], "text": ["人类存在的意义是什么？", "没有音频"],
                                     "audio": [{"bytes": wav, "path": "3.wav"}, {"bytes": b"", "path": None}]})
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    (tmp_path / "hub" / "data").mkdir(parents=True)
    ds.to_parquet(str(tmp_path / "hub" / "data" / "train-00000.parquet"))
    rows, problems = hub_rows(str(tmp_path / "hub"), split="train", lang="zh")
    assert [r.id for r in rows] == ["3", "x"] and rows[0].item.audio_bytes == wav
    assert rows[1].source.endswith("[train]#1")


def test_mixing_ratios():
    assert mix_counts([100, 100], [0.5, 0.5], None) == [100, 100]
    assert mix_counts([100, 10], [0.5, 0.5], None) == [10, 10]  # the scarce source is used once, no repeats
    assert mix_counts([100, 10], [0.8, 0.2], 100) == [80, 20]
