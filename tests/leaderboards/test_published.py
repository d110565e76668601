"""Published rows: VoiceBench's README table as data (every row's Overall reproduced by our formula, so a copying
slip shows), shown under our group rows in a table of their own, selectable, and a broken file named."""
import pytest

from harness.groups import GROUPS, load_group_file
from harness.tasks.voicebench.summary import LEADERBOARD_COLUMNS, voicebench_summary
from leaderboards.groups import group_markdown, group_tables
from leaderboards.published import PUBLISHED_DIR, load_published, published_for

SUBSETS = ["alpacaeval_full", "commoneval", "wildvoice", "sd-qa", "mmsu", "openbookqa", "bbh", "ifeval", "advbench"]


def test_every_copied_voicebench_row_matches_its_overall_under_our_formula():
    published = load_published(PUBLISHED_DIR / "voicebench.yaml")
    assert published.columns == (*LEADERBOARD_COLUMNS, "Overall") and len(published.rows) == 33
    assert published.source["commit"].startswith("5338154")
    for system, values in published.rows:
        summary = voicebench_summary(dict(zip(SUBSETS, values[:9])))
        assert summary["overall"] == pytest.approx(values[9], abs=0.01), system


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_copied_uro_row_matches_its_overall_but_the_one_noted(lang):
    from harness.tasks.uro_layout import uro_summary

    published = load_published(PUBLISHED_DIR / f"uro-basic-{lang}.yaml")
    sets = [c for c in published.columns if c not in ("Overall", "UTMOS", "ASR-WER (%)", "ASR-CER (%)")]
    group = load_group_file(GROUPS.get(f"uro-basic-{lang}"))
    assert sorted(sets) == sorted(m.key for m in group.members)  # the same ten sets, by our names
    assert [label for label, _ in group.summaries[0].show][:11] == ["Overall", *sets]  # ours print in their order
    off = []
    for system, values in published.rows:
        row = dict(zip(published.columns, values))
        if abs(uro_summary({s: row[s] for s in sets})["final_score"] - row["Overall"]) > 0.01:
            off.append(system)
    assert off == ([] if lang == "en" else ["GLM-4-Voice"]) and set(off) <= set(published.notes)


def group(system, values, complete=True):
    table = [{"name": c, "value": v} for c, v in zip((*LEADERBOARD_COLUMNS, "Overall"), values)]
    return {"system": {"name": system}, "status": "complete", "summaries": [
        {"group": "voicebench", "function": "harness.tasks.voicebench.summary:voicebench_summary", "table": table,
         "complete": complete}]}


def test_copied_rows_stand_in_their_own_table_under_ours():
    ours = group("cslm-sft", [4.1, 3.9, 3.8, 40.0, 45.0, 60.0, 55.0, 30.0, 95.0, 61.1])
    lines = group_markdown(group_tables([ours], published="GLM-4-Voice,Qwen2-Audio"))
    page = "\n".join(lines)
    mine, copied = page.split("Published rows, **copied, not measured here**")
    assert "| cslm-sft | 4.10 | 3.90 | 3.80 | 40.00 | 45.00 | 60.00 | 55.00 | 30.00 | 95.00 | 61.10 |" in mine
    assert "GLM-4-Voice" not in mine and "cslm-sft" not in copied
    assert "| system (published) | AlpacaEval |" in copied
    assert "| GLM-4-Voice | 3.97 | 3.42 | 3.18 | 36.98 | 39.75 | 53.41 | 52.80 | 25.92 | 88.08 | 56.48 |" in copied
    assert "| Qwen2-Audio |" in copied and "Kimi-Audio" not in copied
    assert "(https://github.com/MatthewCYM/VoiceBench/blob/533815410e3f4d602bd15a1de7105aea4acd828c/README.md" in copied
    assert "Published rows" not in "\n".join(group_markdown(group_tables([ours], published="none")))
    # a caveat travels with its row
    kimi = "\n".join(group_markdown(group_tables([ours], published="Kimi-Audio")))
    assert "| Kimi-Audio ¹ |" in kimi and "¹ Kimi-Audio: the maintainers measured only WildVoice and BBH" in kimi


def test_mistakes_are_named():
    with pytest.raises(ValueError, match="GLM-4 not in voicebench.yaml; its systems: .*GLM-4-Voice"):
        published_for("voicebench", "GLM-4")
    assert published_for("uro-pro-multiturn") is None  # no copied rows shipped for it


def test_a_broken_file_names_the_row(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("group: g\nsource: {repo: a/b, file: README.md, commit: abc, url: http://x}\ncolumns: [A, B]\n"
                    "rows:\n  - {system: s, values: [1, 2]}\n  - {system: t, values: [1]}\n")
    with pytest.raises(ValueError, match=r"x.yaml: rows\[1\] needs a system and 2 values \(A, B\)"):
        load_published(path)
    path.write_text("group: g\nsource: {repo: a/b}\ncolumns: [A]\nrows: []\n")
    with pytest.raises(ValueError, match="source lacks file, commit, url"):
        load_published(path)


def test_the_html_page_shows_the_group_and_the_copied_rows_apart():
    from leaderboards.collect import Collection
    from leaderboards.html import render

    ours = group("cslm-sft", [4.1, 3.9, 3.8, 40.0, 45.0, 60.0, 55.0, 30.0, 95.0, 61.1])
    page = render(Collection([], [], []), [], lambda run, name: name, {},
                  groups=group_tables([ours], published="GLM-4-Voice,Kimi-Audio"))
    mine, copied = page.split("Published rows, <strong>copied, not measured here</strong>")
    assert '<section id="group-voicebench"><h2>Group voicebench</h2>' in mine and "<td>cslm-sft</td>" in mine
    assert "<td>61.10</td>" in mine and "GLM-4-Voice" not in mine
    assert "<td>GLM-4-Voice</td><td>3.97</td>" in copied and "<td>Kimi-Audio ¹</td>" in copied
    assert "¹ Kimi-Audio: the maintainers measured only WildVoice and BBH" in copied
    assert 'href="https://github.com/MatthewCYM/VoiceBench/blob/533815410e3f4d602bd15a1de7105aea4acd828c/' in copied
