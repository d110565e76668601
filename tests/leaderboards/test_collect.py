"""Collecting results files from real runs: schema checks, skipped files, protocol keys."""
import json

import pytest

from leaderboards.collect import SchemaError, collect, load_run, metric_rows
from tests.leaderboards.helpers import copy_run, read_results


def _write(path, data):
    path.mkdir(parents=True, exist_ok=True)
    (path / "results.json").write_text(json.dumps(data), encoding="utf-8")


def test_bad_files_are_named_and_skipped_while_the_rest_is_collected(asr_runs, tmp_path):
    good = read_results(asr_runs["hello"])
    no_value = json.loads(json.dumps(good))
    del no_value["metrics"][1]["value"]
    no_model = {k: v for k, v in good.items() if k != "model"}
    _write(tmp_path / "bad" / "no-value", no_value)
    _write(tmp_path / "bad" / "no-model", no_model)
    (tmp_path / "bad" / "not-json").mkdir()
    (tmp_path / "bad" / "not-json" / "results.json").write_text("{oops", encoding="utf-8")

    found = collect([asr_runs["hello"].parent, tmp_path / "bad"])
    assert sorted(r.dir.name for r in found.runs) == ["dummy-nihao", "dummy-province"]
    reasons = {path.parent.name: reason for path, reason in found.skipped}
    assert set(reasons) == {"no-value", "no-model", "not-json"}
    assert "metrics[1].value" in reasons["no-value"] and str(tmp_path / "bad" / "no-value") in reasons["no-value"]
    assert "'model'" in reasons["no-model"]
    assert "unreadable" in reasons["not-json"]
    with pytest.raises(SchemaError) as err:
        load_run(tmp_path / "bad" / "no-value" / "results.json")
    assert err.value.field == "metrics[1].value"


def test_protocol_key_separates_column_from_judge(tts_runs):
    tiny, base, slow = (load_run(tts_runs[k] / "results.json") for k in ("ls10", "base", "ls13"))
    row = lambda run: next(m for m in metric_rows(run) if m.headline)
    assert row(tiny).column == row(base).column == row(slow).column  # same task, dataset, lang, metric, aggregation
    assert row(tiny).column.aggregation == "mean-utterance"
    assert row(tiny).protocol()["judge (en)"].startswith("whisper-tiny.en-bundled@sha256:")
    assert row(base).protocol()["judge (en)"].startswith("whisper-base-bundled@sha256:")
    assert row(tiny).protocol() == row(slow).protocol()
    assert tiny.system != slow.system and "length_scale=1.3" in slow.system  # a factor value is another system
    # a MOS predictor's row is scored by its own model, not by the run's ASR judge: no dagger for the judge
    mos = next(m for m in metric_rows(base) if m.name == "distillmos").protocol()
    assert mos["scorer"].startswith("distillmos") and not any(k.startswith("judge") or k == "normalizer" for k in mos)


def test_string_fields_of_a_metric_row_become_column_qualifiers(asr_runs, tmp_path):
    # e.g. the planned conversation task's `channel` (text / speech): no code change needed.
    data = read_results(asr_runs["hello"])
    data["metrics"] = [dict(data["metrics"][0], channel=ch) for ch in ("speech", "text")]
    run_dir = copy_run(asr_runs["hello"], tmp_path / "channels")
    _write(run_dir, data)
    rows = metric_rows(load_run(run_dir / "results.json"))
    assert [r.qualifiers for r in rows] == [(("channel", "speech"),), (("channel", "text"),)]
    assert rows[0].column != rows[1].column
