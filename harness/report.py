"""A plain-text results table for the terminal (leaderboards/ builds the publishable ones)."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def find_results(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        found.extend([p] if p.is_file() else sorted(p.rglob("results.json")))
    return found


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def _value(m: dict[str, Any], x: float | None) -> str:
    """Rates print as percentages; metrics with another unit (an LLM score, seconds) print as they are."""
    if m.get("unit", "rate") == "rate":
        return _pct(x)
    return "-" if x is None else f"{x:.3f}"


def results_table(results: list[dict[str, Any]]) -> str:
    """Headline rows. ``coverage`` is scored/total; ``scored-only`` is the value over scored samples alone (a
    diagnosis; the headline counts the system's failures at the worst value). An incomplete result (the
    measurement failed on some samples) is marked ``INCOMPLETE`` on each of its rows."""
    header = ["task", "model", "dataset", "judge", "metric", "lang", "aggregation", "value (% for rates)", "95% CI",
              "n", "coverage", "scored-only", "failed (system/measurement)"]
    rows = []
    for r in results:
        judges = ", ".join(j["id"] for j in r.get("judges", {}).values()) or "-"
        counts = r["counts"]
        failed = f"{counts.get('system_failed', '?')}/{counts.get('measurement_failed', '?')}"
        incomplete = r.get("status") == "incomplete"
        for m in r["metrics"]:
            if not m.get("headline", True):
                continue
            ci = m.get("ci95")
            cov = m.get("coverage")
            scored = (m.get("scored_only") or {}).get("value")
            rows.append([r["task"]["name"], r["model"].get("name") or r["model"]["id"], r["dataset"].get("name", "?"), judges, m["name"],
                         m["lang"] + (f"/{m['channel']}" if m.get("channel") else ""), m["aggregation"],
                         _value(m, m["value"]) + (" INCOMPLETE" if incomplete else ""),
                         f"[{_value(m, ci[0])}, {_value(m, ci[1])}]" if ci else "-", str(m["n"]),
                         f"{cov['scored']}/{cov['total']}" if cov else "-",
                         _value(m, scored) if m.get("scored_only") else "-", failed])
        if not r["metrics"]:
            rows.append([r["task"]["name"], r["model"].get("name") or r["model"]["id"], r["dataset"].get("name", "?"), judges, "-", "-", "-",
                         "INCOMPLETE" if incomplete else "-", "-", "0", "-", "-", failed])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def group_table(record: dict[str, Any]) -> str:
    """A group run (group.json): one row per member (its status and how this run got it), then each summary's
    figures as its suite defines them (e.g. URO's category means, VoiceBench's columns and Overall)."""
    system = record["system"].get("name") or record["system"].get("id") or "?"
    out = [f"group {record['name']} ({system}): {record.get('status', '?')}, "
           f"{sum(m['status'] == 'complete' for m in record['members'])} of {len(record['members'])} member(s) complete"]
    width = max(len(m["label"]) for m in record["members"])
    out += [f"  {m['label'].ljust(width)}  {m['status']:10s}  {m.get('run', '')}" for m in record["members"]]
    for s in record["summaries"]:
        note = "" if s.get("complete") else "  INCOMPLETE (figures over the members measured so far)"
        out.append(f"summary of {s['group']} ({s['function']}, {s.get('measured', '?')} run(s)){note}")
        if s.get("error"):
            out.append(f"  not computed: {s['error']}")
        for row in s.get("table", []):
            value = row["value"]
            out.append(f"  {row['name']:24s} {'-' if value is None else f'{value:.2f}'}")
    return "\n".join(out)
