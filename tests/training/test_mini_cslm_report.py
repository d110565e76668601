"""The mini-CSLM board's data section: the tokenizer's held-out coverage and tokens per record by kind, and what
each training step read (distinct records of each source), from the pipeline's data reports."""
import json

from training.mini_cslm.report import data_sections


def test_data_section_reports_coverage_tokens_and_records_seen(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tokens_report.json").write_text(json.dumps({
        "vocabulary": 6150, "heldout_coverage": {"en": {"heldout_strings": 400, "with_unseen_token": 0},
                                                 "zh": {"heldout_strings": 400, "with_unseen_token": 3}},
        "per_kind": {"asr-en": {"records": 300, "tokens_per_record": 90.5, "target_tokens_per_record": 9.5,
                                "other_tokens_per_record": 81.0}}}))
    (tmp_path / "cpt").mkdir()
    (tmp_path / "cpt" / "data_report.json").write_text(json.dumps({"seen": {
        "/x/data/asr-en.jsonl": {"records": 2000, "draws": 4300, "distinct_seen": 2000}}}))
    text = "\n".join(data_sections(tmp_path))
    assert "en: 0 of 400, zh: 3 of 400" in text
    assert "| asr-en | 90.5 | 9.5 | 81 |" in text
    assert "| cpt | asr-en.jsonl | 2000 | 4300 | 2000 (100 %) |" in text
    assert data_sections(tmp_path / "nothing") == []
