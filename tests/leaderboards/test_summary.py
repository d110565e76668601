"""Every board opens with a headline summary (best, ties, judges badge, n); wide tables are split; a cell's
interval and the page's promise about intervals agree; an interval on few items is marked. Synthetic metric
rows inside real results files (tests.leaderboards.helpers.make_run), read by the real loader."""
import csv
import io
import re
from html import unescape

import pytest

from leaderboards import stats
from leaderboards.build import build
from leaderboards.collect import collect
from leaderboards.tables import MAX_COLUMNS, build_tables
from tests.leaderboards.helpers import chromium, make_run

JUDGE = {"id": "whisper-tiny.en-bundled", "revision": "sha256:" + "1a" * 32}


def _cer(value, ci=None, n=40):
    return {"name": "cer", "lang": "zh", "aggregation": "corpus", "value": value, "ci95": ci, "n": n}


def _qa(channel, name, value, lang="en", ci=None, aggregation="mean"):
    return {"name": name, "lang": lang, "channel": channel, "aggregation": aggregation, "value": value,
            "ci95": ci or [max(0.0, value - 0.05), value + 0.05], "n": 40}


@pytest.fixture(scope="module")
def board(asr_runs, tmp_path_factory):
    """ASR: three systems, two tied (overlapping intervals), one far; QA: two systems with offline judges, one
    named by the user (``harness run --name``), 21 columns over two datasets (the mini-CSLM's table)."""
    root = tmp_path_factory.mktemp("summary")
    runs, hello = root / "runs", asr_runs["hello"]
    for model, value, ci in (("sys-a", 0.10, [0.08, 0.12]), ("sys-b", 0.11, [0.09, 0.13]),
                             ("sys-c", 0.30, [0.25, 0.35])):
        make_run(hello, runs / "asr" / model, task="asr_wer", dataset="belle-eval-s2s", model_id=model,
                 metrics=[_cer(value, ci)])
    for model, name, base in (("sys-a", None, 0.5), ("sys-b", "my-system", 0.2)):
        qa = [_qa(ch, metric, base, lang) for ch in ("text", "speech") for metric in ("ref_exact_match", "ref_contains")
              for lang in ("en", "zh")]
        qa += [_qa(ch, "ref_wer", 0.6, "en", aggregation="corpus") for ch in ("text", "speech")]
        qa += [_qa(ch, "ref_cer", 0.6, "zh", aggregation="corpus") for ch in ("text", "speech")]
        qa += [_qa("speech", "text_speech_wer", 0.3, "en", aggregation="corpus"),
               _qa("speech", "text_speech_cer", 0.3, "zh", aggregation="corpus")]
        long = [_qa(ch, metric, base) for ch in ("text", "speech") for metric in ("ref_exact_match", "ref_contains")]
        long += [_qa(ch, "ref_wer", 0.6, aggregation="corpus") for ch in ("text", "speech")]
        long += [_qa("speech", "text_speech_wer", 0.3, aggregation="corpus")]
        for dataset, metrics in (("mini-world-qa", qa), ("mini-world-long", long)):  # all headline, as written
            make_run(hello, runs / "qa" / f"{model}-{dataset}", task="s2s_reference_qa", dataset=dataset,
                     model_id=model, name=name, judges={"en": JUDGE, "zh": JUDGE}, offline_judges=True,
                     metrics=metrics)
    out = root / "board"
    return build([runs], out, with_plots=False), out


def _md_row(md: str, label: str, table_head: str) -> list[str]:
    section = md.split(table_head, 1)[1]
    line = next(line for line in section.splitlines() if line.startswith(f"| {label} |"))
    return [c.strip() for c in line.split("|")[2:-1]]


def test_the_headline_summary_marks_best_and_ties_with_judges_badge_and_n(board):
    built, out = board
    md = (out / "README.md").read_text(encoding="utf-8")
    assert md.index("## Headline summary") < md.index("## ASR")  # the board opens with it
    summary = built.headline
    assert [c.table.task for c in summary.columns] == ["asr_wer", "s2s_reference_qa"]  # one figure per task
    assert [r.label for r in summary.rows] == ["my-system", "sys-a", "sys-b", "sys-c"]  # one row per system
    head = next(line for line in md.splitlines() if line.startswith("| system | asr_wer"))
    assert "asr_wer · zh CER % ↓ (corpus) · n=40" in head
    assert "s2s_reference_qa · mini-world-long · en exact match % ↑ (mean, text) · n=40" in head
    # lower is better for CER: sys-a best; sys-b's interval overlaps it (tied); sys-c's does not
    cells = {label: _md_row(md, label, "## Headline summary") for label in ("sys-a", "sys-b", "sys-c", "my-system")}
    assert cells["sys-a"][0] == "**10.00** [8.00, 12.00] (best)"
    assert cells["sys-b"][0] == "**11.00** [9.00, 13.00] (tied)"
    assert cells["sys-c"][0] == "30.00 [25.00, 35.00]"
    # higher is better for exact match: 50 % [45, 55] best, 20 % [15, 25] not tied; the user's name labels the row
    assert cells["sys-a"][1] == "**50.00** [45.00, 55.00] (best)" and cells["my-system"][1] == "20.00 [15.00, 25.00]"
    assert cells["my-system"][0] == "–"
    assert "- `asr_wer`: *ASR: WER (en) / CER (zh)*, dataset belle-eval-s2s; **[no judge]**" in md
    assert "dataset mini-world-long; **[offline judges]**" in md
    assert "Task `s2s_reference_qa`; dataset `mini-world-long`, `mini-world-qa`; **[offline judges]**" in md
    rows = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text(encoding="utf-8"))))
    marks = {(r["system"], r["task"]): r["summary"] for r in rows if r["summary"]}
    assert marks == {("sys-a", "asr_wer"): "best", ("sys-b", "asr_wer"): "tied", ("sys-c", "asr_wer"): "shown",
                     ("sys-a", "s2s_reference_qa"): "best", ("sys-b", "s2s_reference_qa"): "shown"}
    assert {r["judges"] for r in rows if r["task"] == "s2s_reference_qa"} == {"offline judges"}
    assert {r["name"] for r in rows if r["task"] == "s2s_reference_qa"} == {"", "my-system"}


def test_the_judges_badge_reads_the_run_and_the_tasks_judge_sets(asr_runs, tmp_path):
    """tts_wer publishes Whisper-large-v3 (en) and runs tiny.en / base offline (its YAML); asr_wer has no judge."""
    def run(name, judge, **kwargs):
        return make_run(asr_runs["hello"], tmp_path / name, task="tts_wer", dataset="tts-en-sentences",
                        model_id=name, judges={"en": {"id": judge}}, metrics=[_cer(0.1)], **kwargs)

    cases = {"flag": run("flag", "whisper-tiny.en-bundled", offline_judges=True),
             "published": run("published", "hf-whisper-large-v3"),
             "base": run("base", "whisper-base-bundled", judge_overrides={"en": "whisper-base-bundled"}),
             "other": run("other", "my-judge", judge_overrides={"en": "my-judge"}),
             "asr": make_run(asr_runs["hello"], tmp_path / "asr", task="asr_wer", dataset="belle-eval-s2s",
                             metrics=[_cer(0.1)])}
    runs = {r.dir.name: r for r in collect([tmp_path]).runs}
    assert {name: runs[name].judging for name in cases} == {
        "flag": "offline judges", "published": "published judges", "base": "offline judges",
        "other": "substituted judges (--judge)", "asr": "no judge"}
    tts = next(t for t in build_tables(collect([tmp_path / "flag", tmp_path / "published"])) if t.task == "tts_wer")
    assert tts.badge == "mixed judges: offline judges (1 run), published judges (1 run)"


def test_ties_by_rule():
    assert stats.best_and_ties([(0.1, (0.05, 0.15)), (0.2, (0.14, 0.3)), (0.3, (0.16, 0.4))], "lower") == \
        {0: "best", 1: "tied"}
    assert stats.best_and_ties([(0.1, None), (0.1, None), (0.2, None)], "higher") == {2: "best"}
    assert stats.best_and_ties([(0.1, None), (0.1, None)], "lower") == {0: "best", 1: "tied"}
    assert stats.best_and_ties([(0.1, (0.0, 0.2))], "lower") == {}  # one system: nothing to rank


def test_the_21_column_s2s_table_is_split_into_readable_parts(board):
    built, out = board
    (table,) = [t for t in built.tables if t.task == "s2s_reference_qa"]
    assert len(table.columns) == 21
    parts = table.parts()
    assert all(len(cols) <= MAX_COLUMNS for _, cols in parts)
    flat = [c.id for _, cols in parts for c in cols]
    assert sorted(flat) == sorted(c.id for c in table.columns)  # every column once
    order = [c.id for c in table.columns]
    assert all([order.index(c.id) for c in cols] == sorted(order.index(c.id) for c in cols) for _, cols in parts)
    assert [sub for sub, _ in parts] == [
        "text channel · mini-world-long", "text channel · mini-world-qa", "speech channel · mini-world-long",
        "speech channel · mini-world-qa", "quality and consistency"]
    md = (out / "README.md").read_text(encoding="utf-8")
    section = md.split("## Spoken QA against reference answers\n", 1)[1]
    heads = [line for line in section.splitlines() if line.startswith("| system |")]
    assert len(heads) == 5 and all(line.count(" | ") <= MAX_COLUMNS for line in heads)
    assert "### Spoken QA against reference answers: speech channel · mini-world-qa" in section
    page = (out / "index.html").read_text(encoding="utf-8")
    for i in range(1, 6):
        part = re.search(rf'<table class="lb" id="table-s2s_reference_qa-part{i}">(.*?)</table>', page,
                         re.DOTALL).group(1)
        assert 2 <= part.count('scope="col"') <= MAX_COLUMNS + 1  # system + at most 8


def test_the_interval_promise_follows_the_cells(asr_runs, tmp_path):
    hello = asr_runs["hello"]
    for model, ci in (("with", [0.08, 0.12]), ("without", None)):
        make_run(hello, tmp_path / "runs" / model, task="asr_wer", dataset="belle-eval-s2s", model_id=model,
                 metrics=[_cer(0.1, ci)])
    promise = "value [95 % bootstrap interval]"
    # none computed (bootstrap_resamples=0): the page never promises an interval
    bare = build([tmp_path / "runs" / "without"], tmp_path / "bare", with_plots=False)
    for name in ("README.md", "index.html"):
        text = (tmp_path / "bare" / name).read_text(encoding="utf-8")
        assert promise not in text and "a 95 % bootstrap interval" not in text, name
        assert "no interval: these runs were made without bootstrap resamples" in text
        assert "No number here has an interval" in text
    assert bare.tables[0].rows[0].cells[bare.tables[0].columns[0].key].text() == "10.00"
    # some computed: said per cell; all computed: the plain promise
    mixed = build([tmp_path / "runs"], tmp_path / "mixed", with_plots=False)
    assert mixed.tables[0].legend().startswith(f"Each cell: {promise} where its run computed one (1 of 2 cells)")
    both = build([tmp_path / "runs" / "with"], tmp_path / "both", with_plots=False)
    assert both.tables[0].legend() == f"Each cell: {promise}."
    assert "carries its aggregation, a 95 % bootstrap interval, its protocol" in \
        (tmp_path / "both" / "README.md").read_text(encoding="utf-8")


def test_an_interval_on_few_items_is_marked_with_a_footnote(asr_runs, tmp_path):
    hello = asr_runs["hello"]
    for model, n in (("few", stats.FEW_ITEMS - 1), ("enough", stats.FEW_ITEMS)):
        make_run(hello, tmp_path / "runs" / model, task="asr_wer", dataset="belle-eval-s2s", model_id=model,
                 metrics=[_cer(0.1, [0.08, 0.12], n=n)])
    built = build([tmp_path / "runs"], tmp_path / "lb", with_plots=False)
    (table,) = built.tables
    text = {row.label: row.cells[table.columns[0].key].text() for row in table.rows}
    assert text == {"few": f"10.00 [8.00, 12.00] {stats.FEW_MARK}", "enough": "10.00 [8.00, 12.00]"}
    assert table.columns[0].n == "n=19–20"
    md = (tmp_path / "lb" / "README.md").read_text(encoding="utf-8")
    assert f"- {stats.FEW_NOTE}" in md and "fewer than 20 items" in md
    page = (tmp_path / "lb" / "index.html").read_text(encoding="utf-8")
    assert page.count('<sup class="few"') == 2  # the task table's cell and the summary's
    rows = {r["system"]: r["few_items"] for r in csv.DictReader(io.StringIO(
        (tmp_path / "lb" / "leaderboard.csv").read_text(encoding="utf-8")))}
    assert rows == {"few": "yes", "enough": ""}


def test_the_summary_in_chromium(board, tmp_path):
    _, out = board
    proc = chromium(["--dump-dom", f"{(out / 'index.html').as_uri()}#sort=summary:system&dir=desc"], tmp_path / "p")
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    table = re.search(r'<table class="lb" id="table-summary">(.*?)</table>', proc.stdout, re.DOTALL).group(1)
    labels = [unescape(x) for x in re.findall(r'<th scope="row">(.*?)</th>', table)]
    assert labels == ["sys-c", "sys-b", "sys-a", "my-system"]  # sorted by the page's own script
    ranks = re.findall(r'<td class="(best|tied)"', table)
    assert sorted(ranks) == ["best", "best", "tied"]
    assert table.count('<span class="badge offline">offline judges</span>') == 1
    assert table.count('<span class="badge none">no judge</span>') == 1
    assert "n=40" in table and 'href="#asr_wer"' in table
    assert '<h2>Spoken QA against reference answers<span class="badge offline">offline judges</span></h2>' in proc.stdout
