"""Tables from real runs: the printed numbers are the results' numbers; mixed protocols are flagged."""
import csv
import io
import json

from leaderboards.collect import collect, relpath
from leaderboards.tables import build_tables, to_csv, to_markdown
from tests.leaderboards.helpers import copy_run, headline, read_results


def _link(out):
    return lambda run, name: relpath(run.dir / name, out)


def test_markdown_cells_show_the_results_values_and_intervals(runs_root, asr_runs, tts_runs, tmp_path):
    found = collect([runs_root])
    assert not found.skipped and len(found.runs) == 5
    tables = build_tables(found)
    assert [t.task for t in tables] == ["asr_wer", "tts_wer"]
    md = to_markdown(tables, _link(tmp_path))
    for run_dir in [*asr_runs.values(), *tts_runs.values()]:
        res = read_results(run_dir)
        lang = "zh" if res["task"]["name"] == "asr_wer" else "en"
        m = headline(res, lang)
        lo, hi = m["ci95"]
        cell = f"{100 * m['value']:.2f} [{100 * lo:.2f}, {100 * hi:.2f}]"
        table = next(t for t in tables if t.task == res["task"]["name"])
        row = next(r for r in table.rows if any(run.dir == run_dir for run in r.runs))
        assert row.cells[table.columns[0].key].text().startswith(cell)
        assert any(line.startswith(f"| {row.label} | {cell}") for line in md.splitlines()), cell
        assert f"({relpath(run_dir / 'samples.jsonl', tmp_path)})" in md  # link to the samples
    assert "zh CER % ↓ (corpus)" in md and "en WER % ↓ (mean-utterance)" in md  # aggregation labelled
    assert "en DistillMOS ↑ (mean)" in md  # quality metrics: higher is better


def test_two_judges_in_one_column_are_flagged_never_merged(runs_root, tts_runs, tmp_path):
    tts = next(t for t in build_tables(collect([runs_root])) if t.task == "tts_wer")
    col = tts.columns[0]
    assert len(tts.columns) == 2 and len(tts.rows) == 3  # one row per (system, judge): not merged
    quality = tts.columns[1]  # the speech-quality column follows the error rate (leaderboards.layout.QUALITY)
    assert quality.key.metric == "distillmos"
    scored = [r for r in tts.rows if r.cells.get(quality.key) is not None]
    assert [r.runs[0].dir for r in scored] == [tts_runs["base"]]
    assert col.reference["judge (en)"].startswith("whisper-tiny.en-bundled")  # 2 of 3 cells: the column's
    marked = [r for r in tts.rows if r.cells[col.key].marks]
    assert len(marked) == 1 and marked[0].runs[0].dir == tts_runs["base"]
    assert "judge (en): whisper-base-bundled" in marked[0].label
    assert tts.footnotes and "whisper-base-bundled" in tts.footnotes[0] and "whisper-tiny.en-bundled" in tts.footnotes[0]
    md = to_markdown([tts], _link(tmp_path))
    base_value = headline(read_results(tts_runs["base"]), "en")["value"]
    assert any(f"{100 * base_value:.2f}" in line and "†1" in line for line in md.splitlines() if line.startswith("|"))
    assert "- †1 measured under another protocol than its column: judge (en): whisper-base-bundled" in md


def test_csv_holds_every_metric_exactly_with_provenance(runs_root, asr_runs, tts_runs, tmp_path):
    found = collect([runs_root])
    rows = list(csv.DictReader(io.StringIO(to_csv(found, _link(tmp_path)))))
    # WER/CER: headline and secondary aggregation; DistillMOS: one mean row (the base-judged TTS run)
    assert len(rows) == sum(len(r.results["metrics"]) for r in found.runs) == 11
    by_key = {(r["results"], r["metric"], r["lang"], r["aggregation"]): r for r in rows}
    for run in found.runs:
        for m in run.results["metrics"]:
            r = by_key[(relpath(run.path, tmp_path), m["name"], m["lang"], m["aggregation"])]
            assert float(r["value"]) == m["value"] and [float(r["ci95_low"]), float(r["ci95_high"])] == m["ci95"]
            assert int(r["n"]) == m["n"] and r["git_commit"].startswith(run.results["provenance"]["git"]["commit"][:10])
    base = [r for r in rows if "tts-base" in r["results"]]
    wer = [r for r in base if r["metric"] == "wer"]
    assert wer and all("whisper-base-bundled" in r["protocol_mark"] for r in wer)
    mos = next(r for r in base if r["metric"] == "distillmos")  # alone in its column: nothing to differ from
    assert not mos["protocol_mark"] and 1.0 <= float(mos["value"]) <= 5.0


def test_an_unknown_task_and_metric_still_get_a_table(asr_runs, tmp_path):
    data = read_results(asr_runs["hello"])
    data["task"]["name"] = "my_new_task"
    data["metrics"] = [{"name": "bleu", "lang": "en", "aggregation": "corpus", "headline": True, "value": 0.3125,
                        "ci95": [0.25, 0.375], "n": 10}]
    run_dir = copy_run(asr_runs["hello"], tmp_path / "new")
    (run_dir / "results.json").write_text(json.dumps(data), encoding="utf-8")
    (table,) = build_tables(collect([run_dir]))
    assert table.title == "Task my_new_task" and table.columns[0].label == "en bleu ↓ (corpus)"
    # n=10: an interval on fewer than stats.FEW_ITEMS items carries the few-items mark
    assert table.rows[0].cells[table.columns[0].key].text() == "0.3125 [0.2500, 0.3750] ‡"


def test_conversation_rows_get_a_column_per_channel_and_flag_another_llm_judge(asr_runs, tmp_path):
    # Shaped like the metric rows of the conversation task (harness/tasks/s2s_metrics.py): a "channel"
    # qualifier, and the LLM judge / prompt / unit named in the row. Synthetic values, real loader.
    for name, judge, scores in (("a", "openai:gpt-4o", (4.1, 3.2)), ("b", "openai:gpt-4o", (3.9, 3.0)),
                                ("c", "hf:Qwen2.5-7B-Instruct", (4.5, 3.6))):
        data = read_results(asr_runs["hello"])
        data["task"]["name"] = "s2s_conversation"
        data["model"] = {"id": f"system-{name}", "class": "synthetic", "options": {}}
        data["metrics"] = [{"name": "judge_score", "lang": "zh", "channel": ch, "aggregation": "mean", "headline": True,
                            "unit": "score 1-5", "value": v, "ci95": [v - 0.2, v + 0.2], "n": 10,
                            "prompt": "voicebench-open", "judge": judge} for ch, v in zip(("text", "speech"), scores)]
        copy_run(asr_runs["hello"], tmp_path / name)
        (tmp_path / name / "results.json").write_text(json.dumps(data), encoding="utf-8")
    (table,) = build_tables(collect([tmp_path]))
    assert [c.label for c in table.columns] == ["zh judge score ↑ (mean, text)", "zh judge score ↑ (mean, speech)"]
    assert all(c.reference["LLM judge"] == "openai:gpt-4o" for c in table.columns)
    marked = {r.label for r in table.rows for cell in r.cells.values() if cell.marks}
    assert marked == {"system-c"} and "LLM judge: hf:Qwen2.5-7B-Instruct" in table.footnotes[0]
