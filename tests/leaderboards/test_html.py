"""The HTML page in headless Chromium: rows present, provenance and samples links, sorting, a screenshot.

Sorting is exercised through the page's own URL fragment (#sort=<column id>&dir=asc|desc), which calls
the same JS function as a header click; --dump-dom returns the DOM after the scripts ran.
"""
import re
from html import unescape
from pathlib import Path

import pytest

from leaderboards.build import build
from tests.leaderboards.helpers import chromium

ROW = re.compile(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', re.DOTALL)
CELL = re.compile(r'<td data-v="([^"]*)"( title="([^"]*)")?>(.*?)</td>', re.DOTALL)


@pytest.fixture(scope="module")
def page(runs_root, asr_runs, tts_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    built = build([runs_root], out)
    return built, out / "index.html"


def _rows(dom: str, table_id: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    table = re.search(rf'<table class="lb" id="{table_id}">(.*?)</table>', dom, re.DOTALL).group(1)
    return [(unescape(label), [(v, unescape(t or ""), body) for v, _, t, body in CELL.findall(cells)])
            for label, cells in ROW.findall(table)]


def _dump(url: str, profile: Path) -> str:
    proc = chromium(["--dump-dom", url], profile)
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def test_rows_provenance_and_links_in_the_rendered_page(page, tmp_path):
    built, index = page
    dom = _dump(index.as_uri(), tmp_path / "profile")
    for table in built.tables:
        rows = _rows(dom, f"table-{table.task}")
        assert [label for label, _ in rows] == [r.label for r in table.rows]  # every row, in table order
        for (_, cells), row in zip(rows, table.rows):
            assert len(cells) == len(table.columns)
            for (value, title, body), col in zip(cells, table.columns):
                if col.key not in row.cells:  # a column this run was not scored on (e.g. a quality judge)
                    assert value == "" and body == "–"
                    continue
                metric = row.cells[col.key].metric
                assert float(value) == metric.value
                # a MOS predictor's cell names its scorer; an ASR-judged one its judge and normalizer
                scored_by = ("scorer: ",) if "scorer" in metric.protocol() else ("judge (", "normalizer: ")
                for field in ("model: ", *scored_by, "git commit: ", "n: ", "failed: ", "ci95: "):
                    assert field in title
                href = re.search(r'<a href="([^"]+)">samples</a>', body).group(1)
                assert (index.parent / href).resolve() == metric.run.samples_path.resolve()
                assert re.search(r'<span class="ci">\[[\d.]+, [\d.]+\]</span>', body)  # interval shown
    assert dom.count('class="mark"') == 1  # the base-judged TTS cell


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sorting_by_a_column_in_chromium(page, tmp_path, direction):
    built, index = page
    for table in built.tables:
        col = table.columns[0]
        dom = _dump(f"{index.as_uri()}#sort={col.id}&dir={direction}", tmp_path / f"profile-{table.task}")
        values = [float(cells[0][0]) for _, cells in _rows(dom, f"table-{table.task}")]
        assert values == sorted(values, reverse=direction == "desc") and len(values) >= 2
        assert f'data-col="{col.id}" data-type="num" scope="col" title=' in dom
        assert re.search(rf'data-col="{re.escape(col.id)}"[^>]*aria-sort="{direction}ending"', dom)
    # The text column sorts too (by label).
    dom = _dump(f"{index.as_uri()}#sort=tts_wer:system&dir=desc", tmp_path / "profile-text")
    labels = [label for label, _ in _rows(dom, "table-tts_wer")]
    assert labels == sorted(labels, key=str.lower, reverse=True)


def test_screenshot(page, tmp_path):
    _, index = page
    shot = index.parent / "screenshot.png"
    proc = chromium([f"--screenshot={shot}", "--window-size=1280,1600", "--hide-scrollbars",
                     f"{index.as_uri()}#sort=tts_wer:tts-en-sentences:en:wer:mean-utterance&dir=desc"],
                    tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20000
    print(f"screenshot: {shot}")
