"""Build a leaderboard folder from results files: README.md, leaderboard.csv, index.html, plots/*.png.

With ``copy_runs`` the runs' results.json and samples.jsonl are copied (paths sanitized) into
``<out>/results/`` first, and every link points at those copies, so the folder can be committed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.paths import safe_name
from leaderboards import html, plots, stats, summary
from leaderboards.collect import Collection, Run, collect, relpath
from leaderboards.export import export_runs
from leaderboards.groups import group_markdown, group_tables
from leaderboards.tables import Table, build_tables, to_csv, to_markdown


@dataclass
class Built:
    collection: Collection
    tables: list[Table]
    headline: summary.Summary | None = None
    files: dict[str, Path] = field(default_factory=dict)


def _ablations(out: Path) -> list[tuple[str, str]]:
    """Ablation reports already written under out/ablations/<factor>/ (see `leaderboard ablation`)."""
    return [(md.parent.name, relpath(md, out)) for md in sorted(out.glob("ablations/*/ablation.md"))]


def _boards(out: Path) -> list[tuple[str, str]]:
    """Leaderboards built into sub-folders of out/ (e.g. leaderboards/mini-cslm/): linked, never merged, since
    their systems are measured on other data."""
    return [(csv.parent.name, relpath(csv.parent / "README.md", out)) for csv in sorted(out.glob("*/leaderboard.csv"))
            if (csv.parent / "README.md").is_file()]


def build(paths: list[str | Path], out_dir: str | Path, *, copy_runs: bool = False, title: str = "Leaderboard",
          command: str = "", note: str = "", with_plots: bool = True, sections: tuple[str, ...] | list[str] = (),
          published: str = "all") -> Built:
    """``sections``: markdown lines the page shows before its tables (e.g. a board's targets); ``published``: the
    copied rows shown under a group's summary ("all", "none" or system names, comma-separated)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    collection = collect(paths)
    if copy_runs:
        skipped, groups = collection.skipped, collection.groups
        collection = collect(export_runs(collection.runs, out / "results"))
        collection.skipped, collection.groups = skipped + collection.skipped, groups

    def link(run: Run, name: str) -> str:
        return relpath(run.dir / name, out)

    tables = build_tables(collection)
    headline = summary.build_summary(tables)
    built = Built(collection, tables, headline)
    pngs: dict[str, str] = {}
    if with_plots:
        for t in tables:
            png = plots.table_bars(t, out / "plots" / safe_name(t.task, ".png"))
            if png:
                pngs[t.task] = relpath(png, out)
        lat = plots.latency_distributions(collection.runs, out / "plots" / "latency-distributions.png")
        if lat:
            pngs["latency-distributions"] = relpath(lat, out)
    built.files.update({k: out / v for k, v in pngs.items()})
    for stale in (out / "plots").glob("*.png"):  # a task that left the leaderboard leaves no old plot
        if relpath(stale, out) not in pngs.values():
            stale.unlink()

    built_by = f"Built from {len(collection.runs)} results files by `{command}`. " if command else ""
    cells = [cell for t in tables for cell in t.cells]  # the promise about intervals is what the cells hold
    interval, none = stats.interval_phrase(sum(c.metric.ci95 is not None for c in cells), len(cells))
    intro = ((f"{note} " if note else "") + built_by
             + f"Every number carries its aggregation, {interval}its protocol (normalizer, judge, evaluated subset) "
             "and a link to its per-sample rows; ↓/↑: lower/higher is better; a † marks a cell measured under another "
             f"protocol than the rest of its column; n: the items behind a column's figures.{none}")
    md = [f"# {title}", "", intro, "", ("Also here: [leaderboard.csv](leaderboard.csv) (every metric, with "
                                        "provenance) and [index.html](index.html) (sortable, provenance per cell)."),
          "", *summary.to_markdown(headline), *sections, *([""] if sections else [])]
    md.append(to_markdown(tables, link, pngs))
    groups = group_tables(collection.groups, published)  # URO categories, VoiceBench Overall, copied rows
    md += group_markdown(groups)
    if "latency-distributions" in pngs:
        md += ["", "## Latency distributions", "", f"![latency]({pngs['latency-distributions']})"]
    ablations = _ablations(out)
    if ablations:
        md += ["", "## Ablations", ""] + [f"- [{name}]({href})" for name, href in ablations]
    boards = _boards(out)
    if boards:
        md += ["", "## Other boards", ""] + [f"- [{name}]({href})" for name, href in boards]
    if collection.skipped:
        md += ["", "## Skipped results files", ""] + [f"- {reason}" for _, reason in collection.skipped]
    files = {"markdown": out / "README.md", "csv": out / "leaderboard.csv", "html": out / "index.html"}
    files["markdown"].write_text("\n".join(md).rstrip() + "\n", encoding="utf-8")
    files["csv"].write_text(to_csv(collection, link, summary.csv_marks(headline)), encoding="utf-8")
    files["html"].write_text(html.render(collection, tables, link, pngs, title=title, intro=intro,
                                         ablations=ablations, boards=boards, summary=headline,
                                         groups=groups),
                             encoding="utf-8")
    built.files.update(files)
    return built
