"""The URO-Bench reader on files in the released layout ({root}/{basic|pro}/{Set}/test.jsonl), names included."""
import json

import pytest

from harness.datasets.base import DatasetUnavailableError
from harness.datasets.uro_bench import BASIC_SETS, SETS, UroBench, read_uro_set, uro_set
from harness.options import ConfigError
from harness.registry import DATASETS


def write_set(root, track, name, rows):
    folder = root / track / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.jsonl").write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False))
                                               + "\n" for r in rows), encoding="utf-8")
    return folder


def test_the_twenty_basic_sets_as_urO_names_them():
    assert len(BASIC_SETS) == 20 and len(SETS) == 40
    assert {SETS[n].lang for n in BASIC_SETS} == {"en", "zh"}
    assert sum(SETS[n].lang == "zh" for n in BASIC_SETS) == 10
    assert (SETS["Repeat"].mode, SETS["Repeat"].result_file) == ("wer", "result_repeat_wer.jsonl")
    assert SETS["Repeat-zh"].result_file == "result_repeat_cer.jsonl"
    assert SETS["TruthfulEval"].result_file == "result_semi_open.jsonl"
    assert (SETS["HSK5-zh"].mode, SETS["HSK5-zh"].category, SETS["HSK5-zh"].rows) == ("qa", "understanding", 100)
    assert (SETS["Wildchat-zh"].mode, SETS["Wildchat-zh"].category) == ("open", "oral")


def test_single_round_rows(tmp_path):
    folder = write_set(tmp_path / "URO-Bench-data", "basic", "Summary", [
        {"source_wav": "audio/a.wav", "source_text": "Tell me a story.", "target_text": ["A fox.", "A dog."]},
        {"source_wav": "audio/b.wav", "source_text": "Another one."},                     # no target: the question
        {"source_wav": "audio/c.wav", "target_text": "x"},                                # no source_text
        "not json",
        {"source_wav": "audio/e.wav", "source_text": "How many?", "target_text": 42, "id": "q5"},
    ])
    load = UroBench(set="Summary", path=str(tmp_path)).load()  # the zip's own folder is found
    items = {i.id: i for i in load.items}
    assert sorted(items) == ["0000", "0001", "0004"]  # URO's keys: the row position, 4 digits
    first = items["0000"]
    assert first.audio == str(folder / "audio" / "a.wav") and first.text == "Tell me a story." and first.lang == "en"
    assert first.custom["reference"] == "A fox. / A dog."
    assert (first.custom["mode"], first.custom["category"], first.custom["track"]) == ("semi-open", "understanding",
                                                                                      "basic")
    assert items["0001"].custom["reference"] == "Another one."
    assert items["0004"].custom["reference"] == "42" and items["0004"].custom["source_id"] == "q5"
    bad = {p.id: p for p in load.problems}
    assert set(bad) == {"0002", "0003"}
    assert bad["0002"].source.endswith("basic/Summary/test.jsonl:3") and "'source_text' is missing" in bad["0002"].reason
    assert load.info["rows_expected"] == 118 and "rows_note" in load.info and load.info["mode"] == "semi-open"


def test_multi_round_records_are_read_as_turns(tmp_path):
    write_set(tmp_path, "pro", "SpeakerAware-en", [
        {"id": 7, "num_round": 2, "dialogue": [
            {"round": 1, "source_wav": "7/1.wav", "source_text": "And me?", "target_text": "You are Bob."},
            {"round": 0, "source_wav": "7/0.wav", "source_text": "I am Bob.", "target_text": "Hi Bob."}]},
        {"id": 8, "num_round": 1, "dialogue": [{"round": 2, "source_wav": "8/0.wav", "source_text": "Hi"}]},
    ])
    load = read_uro_set(tmp_path, "SpeakerAware-en")
    (item,) = load.items
    assert item.id == "7" and item.text == "I am Bob." and item.custom["num_round"] == 2
    assert [t["text"] for t in item.custom["turns"]] == ["I am Bob.", "And me?"]
    assert item.custom["turns"][1]["reference"] == "You are Bob." and item.custom["mode"] == "sa"
    assert "not numbered 0..0" in load.problems[0].reason


def test_user_mistakes_are_one_line_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="Did you mean Repeat"):
        uro_set("Repeat-en")
    with pytest.raises(ConfigError, match="set=NAME"):
        UroBench(path=str(tmp_path))
    with pytest.raises(DatasetUnavailableError, match="URO-Bench-data.zip"):
        read_uro_set(tmp_path, "Repeat")
    write_set(tmp_path, "basic", "Repeat", [{"source_wav": "a.wav", "source_text": "hi"}])
    with pytest.raises(DatasetUnavailableError, match="basic/MLC/test.jsonl"):
        read_uro_set(tmp_path, "MLC")
    monkeypatch.delenv("URO_BENCH_DIR", raising=False)
    with pytest.raises(DatasetUnavailableError, match="path=DIR"):
        UroBench(set="Repeat").load()
    assert DATASETS.get("uro-bench") is UroBench
