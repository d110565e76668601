"""matplotlib figures (Agg, PNG): bars with interval error bars per task, latency distributions,
ablation deltas. Each function writes one PNG and returns its path (or None when there is nothing to draw).
"""
from __future__ import annotations

import math
import textwrap
import warnings
from pathlib import Path
from typing import Any

from leaderboards.collect import Run, load_samples
from leaderboards.layout import LATENCY_FIELDS, metric_format
from leaderboards.tables import Table, row_labels

MARKED = "#cf222e"   # cells measured under another protocol than their column
CJK_FONTS = ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "AR PL UMing CN")
COLORS = ("#0969da", "#8250df", "#1a7f37", "#bc4c00", "#57606a", "#bf3989", "#0a3069", "#953800")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display here or in CI
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    # Labels may hold Chinese (model options, datasets): fall back to a CJK font when one is installed.
    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [name for name in CJK_FONTS if name in installed]
    plt.rcParams["font.family"] = ["DejaVu Sans", *cjk]
    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # labels may hold CJK text the default font lacks; boxes are fine
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig.tight_layout()
        fig.savefig(path, dpi=110, metadata={"Software": None})  # no version stamp: stable bytes
    _pyplot().close(fig)
    return path


def _grid(n: int, per_row: int = 3) -> tuple[int, int]:
    cols = min(n, per_row)
    return math.ceil(n / cols), cols


def table_bars(table: Table, path: Path) -> Path | None:
    """One panel per column, one horizontal bar per system; error bars = the 95 % interval."""
    if not table.columns or not table.rows:
        return None
    plt = _pyplot()
    nrows, ncols = _grid(len(table.columns))
    height = 1.0 + 0.55 * len(table.rows)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, height * nrows), squeeze=False)
    labels = [textwrap.fill(row.label, 38, max_lines=3, placeholder=" …") for row in table.rows]
    for ax, col in zip(axes.flat, table.columns):
        fmt = metric_format(col.key.metric)
        for i, row in enumerate(table.rows):
            cell = row.cells.get(col.key)
            if cell is None or cell.metric.value is None:
                continue
            v = cell.metric.value * fmt.scale
            err = None
            if cell.metric.ci95:
                lo, hi = (x * fmt.scale for x in cell.metric.ci95)
                err = [[max(v - lo, 0.0)], [max(hi - v, 0.0)]]
            ax.barh(i, v, xerr=err, color=MARKED if cell.marks else COLORS[i % len(COLORS)], alpha=0.85,
                    capsize=4, hatch="//" if cell.marks else None, edgecolor="white")
            note = f"{v:.{fmt.digits}f}" + "".join(f" †{k}" for k in cell.marks)
            ax.annotate(note, (v, i), xytext=(4, 6), textcoords="offset points", fontsize=8)
        ax.set_yticks(range(len(table.rows)), labels, fontsize=8)
        ax.margins(x=0.18)  # room for the value labels right of the bars
        ax.set_xlim(left=min(0.0, ax.get_xlim()[0]))
        ax.invert_yaxis()
        ax.set_title(col.label, fontsize=9)
        ax.set_xlabel(f"{fmt.label}" + (f" ({fmt.unit})" if fmt.unit else ""), fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(table.columns):]:
        ax.axis("off")
    fig.suptitle(table.title, fontsize=10)
    return _save(fig, Path(path))


def _timing(row: dict[str, Any], name: str) -> float | None:
    value = row.get(name, (row.get("timing") or {}).get(name))
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def latency_distributions(runs: list[Run], path: Path, fields: tuple[str, ...] = LATENCY_FIELDS) -> Path | None:
    """Per model, the distribution of per-sample first text / first unit / first audio times (box plots)."""
    series: dict[str, dict[str, list[float]]] = {f: {} for f in fields}
    timed = [run for run in runs if run.task == "latency" and run.samples_path.is_file()]
    labels = row_labels(timed)  # the boards' row labels: --name when given
    for run in timed:
        rows = [r for r in load_samples(run) if r.get("status") == "ok"]
        for f in fields:
            values = [v for v in (_timing(r, f) for r in rows) if v is not None]
            if values:
                series[f][labels[run]] = values
    panels = [f for f in fields if series[f]]
    if not panels:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.6), squeeze=False)
    for ax, f in zip(axes.flat, panels):
        names = sorted(series[f])
        ax.boxplot([series[f][n] for n in names], vert=False, showmeans=True)
        ax.set_yticks(range(1, len(names) + 1), [n[:40] for n in names], fontsize=8)
        ax.set_title(metric_format(f).label, fontsize=9)
        ax.set_xlabel("seconds", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("Latency per sample (box: quartiles, line: median, triangle: mean)", fontsize=10)
    return _save(fig, Path(path))


def _p(c: dict[str, Any]) -> str:
    text = c.get("p_text") or f"{c['p_value']:.3f}"
    return f"p {text}" if text.startswith("<") else f"p={text}"


def ablation_deltas(comparisons: list[dict[str, Any]], title: str, path: Path) -> Path | None:
    """Delta (B - A) per metric with its paired-bootstrap 95 % interval; zero marked."""
    rows = [c for c in comparisons if c.get("delta") is not None  # a delta on failed requests (inf) has no bar
            and all(math.isfinite(x) for x in (c["delta"], *c["ci95"]))]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.5 * len(rows)))
    for i, c in enumerate(rows):
        s = metric_format(c["metric"]).scale
        d, lo, hi = c["delta"] * s, c["ci95"][0] * s, c["ci95"][1] * s
        color = "#cf222e" if c.get("verdict") in ("B better", "B worse") else "#57606a"  # no verdict: grey
        ax.errorbar(d, i, xerr=[[d - lo], [hi - d]], fmt="o", color=color, capsize=5)
        ax.annotate(f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]  {_p(c)}", (d, i), xytext=(0, 8),
                    textcoords="offset points", ha="center", fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [c["label"] for c in rows], fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("delta B − A (metric units, % for error rates)", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, Path(path))
