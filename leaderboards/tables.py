"""Leaderboard tables: systems are rows, protocol groups are columns; Markdown and CSV renderers.

A column is (dataset, lang, metric, aggregation, qualifiers) of one task. Inside a column the most
common protocol (normalizer, judge of that language, evaluated subset) is the column's protocol;
a cell measured under another one carries a numbered dagger whose footnote says what differs, so
mixed protocols are never merged silently. One system measured under two run-wide protocols (e.g.
two judges) gives two rows, labelled by what differs. A table wider than MAX_COLUMNS is printed in parts
(text channel, speech channel, quality and consistency; then per dataset).
"""
from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from leaderboards import stats
from leaderboards.collect import Collection, ColumnKey, MetricRow, Run, describe_model, local_checkpoint
from leaderboards.layout import QUALITY, column_order, format_value, metric_format, task_layout, task_order

Link = Callable[[Run, str], str]  # (run, "results.json" | "samples.jsonl") -> href


@dataclass
class Column:
    key: ColumnKey
    label: str
    reference: dict[str, str]  # the column's protocol (the most common among its cells)
    n: str = ""                # items behind its cells: "n=24", or "n=10–50" when they differ

    @property
    def header(self) -> str:
        return f"{self.label} · {self.n}" if self.n else self.label

    @property
    def id(self) -> str:
        k = self.key
        parts = [k.task, k.dataset, k.lang, k.metric, k.aggregation] + [f"{a}={b}" for a, b in k.qualifiers]
        return ":".join(parts)


@dataclass
class Cell:
    metric: MetricRow
    marks: list[int] = field(default_factory=list)  # footnote numbers (protocol differences)

    def value_text(self) -> str:
        return format_value(self.metric.name, self.metric.value)

    def ci_text(self) -> str:
        m = self.metric
        return f"[{format_value(m.name, m.ci95[0])}, {format_value(m.name, m.ci95[1])}]" if m.ci95 else ""

    @property
    def few(self) -> bool:
        """Its interval rests on too few items to be read as a 95 % interval (stats.FEW_ITEMS)."""
        return self.metric.ci95 is not None and self.metric.n < stats.FEW_ITEMS

    def text(self, with_ci: bool = True) -> str:
        out = self.value_text()
        m = self.metric
        if with_ci and m.ci95:
            out += " " + self.ci_text() + (f" {stats.FEW_MARK}" if self.few else "")
        if self.marks:
            out += " " + " ".join(f"†{i}" for i in self.marks)
        note = m.run.failure_note
        if note:
            out += f" ({note})"
        return out

    def provenance(self) -> dict[str, str]:
        m, run = self.metric, self.metric.run
        prov = {"model": describe_system(run), "dataset": f"{run.dataset} ({run.subset})",
                "metric": f"{m.name} ({m.lang}, {m.aggregation})", **m.protocol(),
                "value": "–" if m.value is None else f"{m.value:.6g}",
                "ci95": f"[{m.ci95[0]:.6g}, {m.ci95[1]:.6g}]" if m.ci95 else "none",
                "n": str(m.n), "coverage": m.coverage or "–",
                "scored-only value": "–" if m.scored_only is None else f"{m.scored_only:.6g}",
                "failed": str(run.failed), "status": "incomplete" if run.incomplete else "complete",
                "git commit": run.commit, "created": run.created}
        prov.update({f"{k}": v for k, v in m.qualifiers})
        return prov


def describe_system(run: Run) -> str:
    return describe_model(run.results["model"])


@dataclass
class Row:
    label: str
    runs: list[Run]
    cells: dict[ColumnKey, Cell] = field(default_factory=dict)


@dataclass
class Table:
    task: str
    title: str
    note: str
    columns: list[Column]
    rows: list[Row]
    footnotes: list[str]

    @property
    def datasets(self) -> list[str]:
        return sorted({c.key.dataset for c in self.columns})

    @property
    def cells(self) -> list[Cell]:
        return [cell for row in self.rows for cell in row.cells.values()]

    def legend(self) -> str:
        """What its cells show, read from the cells (an interval only where the run computed one)."""
        return stats.interval_legend(sum(c.metric.ci95 is not None for c in self.cells), len(self.cells))

    @property
    def badge(self) -> str:
        return judging_badge([run for row in self.rows for run in row.runs])

    def parts(self) -> list[tuple[str, list[Column]]]:
        """(subtitle, columns) of each printed table: one ("", all columns) unless wider than MAX_COLUMNS."""
        return [(" · ".join(names), cols) for names, cols in split_columns(self.columns)]


MAX_COLUMNS = 8
PART_ORDER = ("text channel", "speech channel", "other", "quality and consistency")


def _part(key: ColumnKey) -> str:
    if key.metric in QUALITY or key.metric.startswith("text_speech_"):
        return "quality and consistency"
    channel = dict(key.qualifiers).get("channel")
    return f"{channel} channel" if channel else "other"


SPLITS: tuple[Callable[[ColumnKey], str], ...] = (_part, lambda k: k.dataset)


def split_columns(columns: list[Column], by: tuple = SPLITS) -> list[tuple[list[str], list[Column]]]:
    """Columns in parts of at most MAX_COLUMNS: by channel group, then by dataset. A part still wider stays whole
    (latency's p50 beside p95 of five figures: the paper's table, read across), never cut at an arbitrary column."""
    if len(columns) <= MAX_COLUMNS or not by:
        return [([], columns)]
    groups: dict[str, list[Column]] = defaultdict(list)
    for c in columns:
        groups[by[0](c.key)].append(c)
    if len(groups) == 1:
        return split_columns(columns, by[1:])
    order = sorted(groups, key=lambda g: (PART_ORDER.index(g) if g in PART_ORDER else len(PART_ORDER), g))
    return [([name, *sub], cols) for name in order for sub, cols in split_columns(groups[name], by[1:])]


def judging_badge(runs: list[Run]) -> str:
    """One badge for a table: its runs' judges (Run.judging), or each kind with its count when they differ."""
    kinds = Counter(run.judging for run in runs)
    if len(kinds) == 1:
        return next(iter(kinds))
    return "mixed judges: " + ", ".join(f"{k} ({n} run{'s' if n > 1 else ''})" for k, n in sorted(kinds.items()))


def column_label(key: ColumnKey, several_datasets: bool) -> str:
    fmt = metric_format(key.metric)
    arrow = "↓" if fmt.better == "lower" else "↑"
    head = f"{key.lang} {fmt.label}" + (f" {fmt.unit}" if fmt.unit else "") + f" {arrow}"
    extra = [key.aggregation] + [v for _, v in key.qualifiers]
    return (f"{key.dataset} · " if several_datasets else "") + f"{head} ({', '.join(extra)})"


def _differing(values: list[dict[str, str]]) -> list[str]:
    keys = list(dict.fromkeys(k for v in values for k in v))
    return [k for k in keys if len({v.get(k) for v in values}) > 1]


def row_labels(runs: list[Run], signature: bool = True) -> dict[Run, str]:
    """Every row label of the boards: the name the user gave the system (``harness run --name``), else the model
    id, plus only what tells it apart from the same name's other rows in this table (options; with
    ``signature``: revision, judge, normalizer); the full description stays in the provenance."""
    by_id: dict[str, list[Run]] = defaultdict(list)
    for run in runs:  # a local checkpoint's folder is part of its name: cslm[mini-cslm/cpt]
        by_id[run.name or run.results["model"]["id"] + local_checkpoint(run.results["model"])].append(run)
    labels = {}
    for model_id, peers in by_id.items():
        full = {r: dict(r.signature()) for r in peers}
        short = {r: dict(r.signature(short=True)) for r in peers}
        opt_keys = _differing([r.options for r in peers])
        sig_keys = _differing(list(full.values())) if signature else []
        for r in peers:
            label = model_id + (" (" + ", ".join(f"{k}={r.options.get(k, '-')}" for k in opt_keys) + ")"
                                if opt_keys else "")
            extra = []
            for k in sig_keys:  # the short form (a judge's id) when it distinguishes as well as the full one
                enough = len({v.get(k) for v in short.values()}) == len({v.get(k) for v in full.values()})
                extra.append(f"{k}: {(short if enough else full)[r].get(k, '-')}")
            labels[r] = label + (" [" + "; ".join(extra) + "]" if extra else "")
    return labels


def _rows_for(metrics: list[MetricRow]) -> list[Row]:
    """Group by (system, run-wide protocol); split a group by run when two runs fill one column."""
    groups: dict[tuple, list[Run]] = defaultdict(list)
    runs = list(dict.fromkeys(m.run for m in metrics))
    for run in runs:
        groups[(run.system, run.name, run.signature())].append(run)
    labels = row_labels(runs)
    rows = []
    for group in groups.values():
        label = labels[group[0]]
        filled = Counter(m.column for m in metrics if m.run in group)
        if len(group) > 1 and max(filled.values()) > 1:  # reruns: one row each, labelled by folder
            rows.extend(Row(f"{label} [run {run.dir.name}]", [run]) for run in group)
        else:
            rows.append(Row(label, group))
    return sorted(rows, key=lambda r: r.label)


def _reference(metrics: list[MetricRow]) -> dict[str, str]:
    """The column's protocol: the most common one; on a tie, the one of a run that kept the task's own
    judges (no --judge override), then the first row in table order. Shown in the caption either way."""
    protocols = [tuple(sorted(m.protocol().items())) for m in metrics]
    counts = Counter(protocols)
    overrides = {p: min(len(m.run.results["options"].get("judges") or {}) for m, q in zip(metrics, protocols)
                        if q == p) for p in counts}
    best = min(range(len(protocols)), key=lambda i: (-counts[protocols[i]], overrides[protocols[i]], i))
    return dict(protocols[best])


def build_tables(collection: Collection, headline_only: bool = True) -> list[Table]:
    """One table per task; ``headline_only``: the rows the task's layout shows (else every metric row)."""
    by_task: dict[str, list[MetricRow]] = defaultdict(list)
    for m in collection.rows:
        layout = task_layout(m.run.task)
        if headline_only and layout.only_listed and m.name not in layout.metrics:
            continue
        wanted = m.headline if layout.aggregations is None else m.aggregation in layout.aggregations
        if wanted or not headline_only:
            by_task[m.run.task].append(m)
    tables = []
    for task in sorted(by_task, key=task_order):
        metrics = by_task[task]
        rows = _rows_for(metrics)
        row_of = {run: row for row in rows for run in row.runs}
        keys = sorted({m.column for m in metrics},
                      key=lambda k: column_order(task, k.metric, k.lang, k.qualifiers, k.aggregation, k.dataset))
        several = len({k.dataset for k in keys}) > 1
        for m in metrics:
            row_of[m.run].cells[m.column] = Cell(m)
        columns, footnotes = [], []
        for key in keys:
            cells = [row.cells[key] for row in rows if key in row.cells]
            reference = _reference([c.metric for c in cells])
            for cell in cells:
                diff = [f"{k}: {v} (column: {reference.get(k, '-')})"
                        for k, v in cell.metric.protocol().items() if reference.get(k) != v]
                if diff:
                    note = "; ".join(diff)
                    if note not in footnotes:
                        footnotes.append(note)
                    cell.marks.append(footnotes.index(note) + 1)
            columns.append(Column(key, column_label(key, several), reference,
                                  stats.n_text(c.metric.n for c in cells)))
        layout = task_layout(task)
        tables.append(Table(task, layout.title, layout.note, columns, rows, footnotes))
    return tables


def md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(tables: list[Table], link: Link, plots: dict[str, str] | None = None, heading: str = "##") -> str:
    out = []
    for t in tables:
        out += [f"{heading} {t.title}", ""]
        if t.note:
            out += [t.note, ""]
        out += [(f"Task `{t.task}`; dataset {', '.join(f'`{d}`' for d in t.datasets)}; **[{t.badge}]**. "
                 f"{t.legend()}"), ""]
        for sub, cols in t.parts():
            if sub:
                out += [f"{heading}# {t.title}: {sub}", ""]
            out.append("| system | " + " | ".join(md_escape(c.header) for c in cols) + " |")
            out.append("|---|" + "---:|" * len(cols))
            for row in t.rows:
                if not any(c.key in row.cells for c in cols):  # nothing of this part measured for this system
                    continue
                cells = [md_escape(row.cells[c.key].text()) if c.key in row.cells else "–" for c in cols]
                out.append(f"| {md_escape(row.label)} | " + " | ".join(cells) + " |")
            out.append("")
        for c in t.columns:
            out.append(f"- Column *{md_escape(c.label)}*: " + "; ".join(f"{k} {v}" for k, v in c.reference.items()))
        for i, note in enumerate(t.footnotes, 1):
            out.append(f"- †{i} measured under another protocol than its column: {note}")
        if any(c.few for c in t.cells):
            out.append(f"- {stats.FEW_NOTE}")
        for row in t.rows:
            for run in row.runs:
                judges = ", ".join(f"{lang}: {run.judge(lang)}" for lang in sorted(run.results["judges"]))
                out.append(f"- {md_escape(row.label)}: `{describe_system(run)}`"
                           + (f", judged by {judges}" if judges else "")
                           + f"; [results]({link(run, 'results.json')}) · [samples]({link(run, 'samples.jsonl')}) "
                           f"(commit {run.commit}, {run.created})")
        out.append("")
        if plots and t.task in plots:
            out += [f"![{t.title}: values with 95 % intervals]({plots[t.task]})", ""]
    return "\n".join(out)


CSV_FIELDS = ("task", "dataset", "subset", "lang", "metric", "aggregation", "qualifiers", "headline", "system",
              "name", "revision", "value", "ci95_low", "ci95_high", "n", "few_items", "coverage", "scored_only",
              "failed", "status", "normalizer", "judge", "judges", "protocol", "protocol_mark", "summary",
              "git_commit", "created", "results", "samples")


def to_csv(collection: Collection, link: Link, summary: dict[tuple, str] | None = None) -> str:
    """One line per metric row of every run (headline and not), with its provenance: tidy for pandas.
    ``summary``: (results path, column) -> "best" | "tied" | "shown" for the cells of the headline summary
    (leaderboards.summary.csv_marks); few_items: "yes" when its interval rests on under stats.FEW_ITEMS items."""
    marks = {}
    for t in build_tables(collection, headline_only=False):  # marks for non-headline rows too
        for row in t.rows:
            for cell in row.cells.values():
                marks[(cell.metric.run.path, cell.metric.column)] = "; ".join(t.footnotes[i - 1] for i in cell.marks)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    rows = sorted(collection.rows, key=lambda m: (task_order(m.run.task), m.run.dataset, m.name, m.lang,
                                                  m.aggregation, m.qualifiers, m.run.system, str(m.run.path)))
    for m in rows:
        writer.writerow({
            "task": m.run.task, "dataset": m.run.dataset, "subset": m.run.subset, "lang": m.lang, "metric": m.name,
            "aggregation": m.aggregation, "qualifiers": ";".join(f"{k}={v}" for k, v in m.qualifiers),
            "headline": m.headline, "system": m.run.system, "name": m.run.name, "revision": m.run.revision,
            "value": "" if m.value is None else repr(m.value),
            "ci95_low": repr(m.ci95[0]) if m.ci95 else "", "ci95_high": repr(m.ci95[1]) if m.ci95 else "",
            "n": m.n, "few_items": "yes" if m.ci95 and m.n < stats.FEW_ITEMS else "", "coverage": m.coverage,
            "scored_only": "" if m.scored_only is None else repr(m.scored_only), "failed": m.run.failed,
            "status": "incomplete" if m.run.incomplete else "complete", "normalizer": m.run.normalizer,
            "judge": m.run.judge(m.lang), "judges": m.run.judging,
            "protocol": "; ".join(f"{k}: {v}" for k, v in m.protocol().items()),
            "protocol_mark": marks.get((m.run.path, m.column), ""),
            "summary": (summary or {}).get((m.run.path, m.column), ""), "git_commit": m.run.commit,
            "created": m.run.created, "results": link(m.run, "results.json"), "samples": link(m.run, "samples.jsonl")})
    return buf.getvalue()

