"""The local JSONL/TSV loader carries an S2S question's reference answer (``reference``) into the item."""
import json

from harness.datasets.local import read_manifest


def test_reference_answers_are_carried_and_checked(tmp_path):
    rows = [{"id": "a", "text": "What is the capital of France?", "reference": "  Paris \n"},
            {"id": "b", "text": "How many legs has a spider?", "reference": 8},
            {"id": "c", "text": "An open question."}]
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    load = read_manifest(path, lang="en", require_audio=False)
    assert [item.id for item in load.items] == ["a", "c"]
    assert load.items[0].custom == {"reference": "Paris"} and load.items[1].custom == {}
    assert [p.id for p in load.problems] == ["b"] and "must be a string" in load.problems[0].reason
    assert load.problems[0].source == f"{path}:2"

    tsv = tmp_path / "qa.tsv"
    tsv.write_text("id\ttext\treference\nq1\tWhat is two plus two?\tfour\n", encoding="utf-8")
    assert read_manifest(tsv, lang="en", require_audio=False).items[0].custom == {"reference": "four"}
