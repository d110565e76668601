"""The headline summary every board opens with: one row per system, one headline figure per task.

Each task gives one column: the first headline column of its table (the layout's first metric; of its columns,
the one most systems filled). A system's cell there is the one measured under the column's protocol when it has
one (else a † cell, kept out of the ranking). The best value by the metric's direction is marked, and so is every
value whose 95 % interval overlaps the best one's (tied). Rows are labelled by tables.row_labels without the
judge/normalizer parts: one row per system, whatever judged it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from leaderboards import stats
from leaderboards.layout import metric_format, task_layout
from leaderboards.tables import Cell, Column, Table, judging_badge, row_labels


@dataclass
class SummaryColumn:
    table: Table
    column: Column
    n: str = ""       # items behind the cells shown
    badge: str = ""   # the judges of the cells shown (tables.judging_badge)

    @property
    def header(self) -> str:
        return f"{self.table.task} · {self.column.label}" + (f" · {self.n}" if self.n else "")


@dataclass
class SummaryRow:
    label: str
    cells: dict[str, Cell] = field(default_factory=dict)   # task -> its headline cell
    ranks: dict[str, str] = field(default_factory=dict)    # task -> "best" | "tied"


@dataclass
class Summary:
    columns: list[SummaryColumn]
    rows: list[SummaryRow]

    @property
    def cells(self) -> list[Cell]:
        return [cell for row in self.rows for cell in row.cells.values()]


def headline_column(table: Table) -> Column | None:
    def headline(c: Column) -> bool:
        return any(c.key in row.cells and row.cells[c.key].metric.headline for row in table.rows)

    columns = [c for c in table.columns if headline(c)] or table.columns
    if not columns:
        return None
    order = task_layout(table.task).metrics
    rank = {c.key: order.index(c.key.metric) if c.key.metric in order else len(order) for c in columns}
    first = [c for c in columns if rank[c.key] == min(rank.values())]
    return max(first, key=lambda c: sum(c.key in row.cells for row in table.rows))  # ties: table order


def build_summary(tables: list[Table]) -> Summary:
    picked = [(t, c) for t in tables if (c := headline_column(t)) is not None]
    cells = [(t, row.cells[c.key]) for t, c in picked for row in t.rows if c.key in row.cells]
    labels = row_labels(list(dict.fromkeys(cell.metric.run for _, cell in cells)), signature=False)
    rows: dict[str, SummaryRow] = {}
    for t, cell in cells:
        row = rows.setdefault(labels[cell.metric.run], SummaryRow(labels[cell.metric.run]))
        held = row.cells.get(t.task)
        # the column's own protocol first (a † cell only when the system has no other), then the latest run
        rank = lambda x: (not x.marks, x.metric.run.created)  # noqa: E731
        if held is None or rank(cell) > rank(held):
            row.cells[t.task] = cell
    ordered = sorted(rows.values(), key=lambda r: r.label)
    columns = []
    for t, c in picked:
        shown = [r for r in ordered if t.task in r.cells]
        values = [(None, None) if r.cells[t.task].marks else (r.cells[t.task].metric.value, r.cells[t.task].metric.ci95)
                  for r in shown]
        for i, mark in stats.best_and_ties(values, metric_format(c.key.metric).better).items():
            shown[i].ranks[t.task] = mark
        columns.append(SummaryColumn(t, c, stats.n_text(r.cells[t.task].metric.n for r in shown),
                                     judging_badge([r.cells[t.task].metric.run for r in shown])))
    return Summary(columns, ordered)


def cell_text(row: SummaryRow, task: str, bold: str = "**") -> str:
    cell = row.cells.get(task)
    if cell is None:
        return "–"
    rank = row.ranks.get(task)
    m = cell.metric
    out = f"{bold}{cell.value_text()}{bold}" if rank else cell.value_text()
    if m.ci95:
        out += " " + cell.ci_text() + (f" {stats.FEW_MARK}" if cell.few else "")
    out += " †" if cell.marks else ""
    out += f" ({rank})" if rank else ""
    return out + (f" ({m.run.failure_note})" if m.run.failure_note else "")


INTRO = ("One row per system; per task its headline figure: the first headline column of the task's table, under "
         "that column's protocol. **bold** (best): the best value (↓ lower / ↑ higher is better); **bold** (tied): "
         "a value whose 95 % interval overlaps the best one's (without intervals, only an equal value).")


def to_markdown(summary: Summary, heading: str = "##") -> list[str]:
    if not summary.columns:
        return []
    cells = summary.cells
    out = [f"{heading} Headline summary", "", INTRO + " " + stats.interval_legend(
        sum(c.metric.ci95 is not None for c in cells), len(cells)), ""]
    out.append("| system | " + " | ".join(c.header.replace("|", "\\|") for c in summary.columns) + " |")
    out.append("|---|" + "---:|" * len(summary.columns))
    for row in summary.rows:
        out.append(f"| {row.label.replace('|', chr(92) + '|')} | "
                   + " | ".join(cell_text(row, c.table.task) for c in summary.columns) + " |")
    out.append("")
    for c in summary.columns:
        out.append(f"- `{c.table.task}`: *{c.table.title}*, dataset {c.column.key.dataset}; "
                   f"**[{c.badge}]**")
    if any(cell.marks for cell in cells):
        out.append("- † measured under another protocol than its task's column (see that table); not ranked")
    if any(cell.few for cell in cells):
        out.append(f"- {stats.FEW_NOTE}")
    return out + [""]


def csv_marks(summary: Summary) -> dict[tuple, str]:
    """(results path, column) -> "best" | "tied" | "shown": the CSV's summary field."""
    return {(cell.metric.run.path, cell.metric.column): row.ranks.get(task, "shown")
            for row in summary.rows for task, cell in row.cells.items()}
