"""Group runs on a board: each group's summary (group.json) as one table, a row per system, the suite's own
figures as columns in the order its summary lists them (URO's Overall and sets, VoiceBench's columns and
Overall); under it, the rows the benchmark itself published (leaderboards/published/), never mixed with ours."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from leaderboards.published import Published, published_for
from leaderboards.tables import md_escape

INTRO = ("Summary `{function}` over the group's member runs (their own rows are in the task tables above); "
         "INCOMPLETE: some member is missing or incomplete.")
COPIED_MD = "Published rows, **copied, not measured here**"


@dataclass(frozen=True)
class GroupTable:
    name: str
    function: str
    columns: list[str]
    rows: list[tuple[str, list[float | None]]]   # (system label, a value per column)
    published: Published | None


def group_tables(groups: list[dict], published: str = "all") -> list[GroupTable]:
    """``published``: the copied rows to show, "all", "none" or system names, comma-separated."""
    by_name: dict[str, list[dict]] = defaultdict(list)
    for g in groups:
        for s in g["summaries"]:
            by_name[s["group"]].append({**s, "system": g["system"]})
    out = []
    for name in sorted(by_name):
        entries = sorted(by_name[name], key=lambda e: str(e["system"].get("name") or e["system"].get("id")))
        cols = list(dict.fromkeys(row["name"] for e in entries for row in e.get("table", [])))
        rows = []
        for e in entries:
            values = {row["name"]: row["value"] for row in e.get("table", [])}
            label = str(e["system"].get("name") or e["system"].get("id")) + ("" if e.get("complete") else " INCOMPLETE")
            rows.append((label, [values.get(c) for c in cols]))
        copied = published_for(name, published)
        out.append(GroupTable(name, entries[0]["function"], cols, rows, copied if copied and copied.rows else None))
    return out


def _md_table(head: str, columns: list[str], rows: list[tuple[str, list[float | None]]]) -> list[str]:
    return (["| " + " | ".join(md_escape(c) for c in (head, *columns)) + " |", "|---|" + "---:|" * len(columns)]
            + [f"| {md_escape(label)} | " + " | ".join("–" if v is None else f"{v:.2f}" for v in values) + " |"
               for label, values in rows])


def group_markdown(tables: list[GroupTable], heading: str = "##") -> list[str]:
    out = []
    for t in tables:
        out += [f"{heading} Group {t.name}", "", INTRO.format(function=t.function), "",
                *_md_table("system", t.columns, t.rows), ""]
        if t.published is not None:
            src, notes = t.published.source, t.published.shown_notes()
            out += [f"{COPIED_MD}: [{src['repo']} {src['file']} @ {src['commit'][:7]}]({src['url']}).", "",
                    *_md_table("system (published)", t.columns, t.published.rows_in(t.columns)), ""]
            out += [f"- {n}" for n in notes] + ([""] if notes else [])
    return out
