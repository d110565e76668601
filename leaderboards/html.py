"""One static, self-contained HTML page: inline CSS and JS, sortable tables, provenance per cell.

Sorting is vanilla JS on the header click; the same function runs for a URL fragment
``#sort=<column id>&dir=asc|desc`` on load, which is how headless tests exercise it. Plots are
relative PNG links (they sit beside the page), so the page stays small and diffable.
"""
from __future__ import annotations

import re
from html import escape

from leaderboards import stats
from leaderboards.collect import Collection
from leaderboards.groups import INTRO as GROUP_INTRO
from leaderboards.groups import GroupTable
from leaderboards.summary import INTRO as SUMMARY_INTRO
from leaderboards.summary import Summary
from leaderboards.tables import Cell, Column, Link, Table

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;
 padding:0 16px;color:#1b1f24;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 6px;border-bottom:1px solid #d0d7de}
p.note{color:#57606a;margin:4px 0 10px}nav a{margin-right:12px}
table.lb{border-collapse:collapse;margin:8px 0;min-width:50%}
table.lb th,table.lb td{border:1px solid #d0d7de;padding:5px 9px;text-align:right;white-space:nowrap}
table.lb th[scope=row],table.lb thead th:first-child{text-align:left}
table.lb th[scope=row]{white-space:normal;max-width:460px;font-weight:600}
table.lb thead th{background:#f6f8fa;cursor:pointer;user-select:none;position:relative;padding-right:20px}
table.lb thead th::after{content:"⇅";position:absolute;right:5px;color:#8c959f;font-size:11px}
table.lb thead th[aria-sort=ascending]::after{content:"▲";color:#0969da}
table.lb thead th[aria-sort=descending]::after{content:"▼";color:#0969da}
table.lb tbody tr:nth-child(even){background:#fafbfc}table.lb td{cursor:help}
.v{font-variant-numeric:tabular-nums;font-weight:600}.ci{color:#57606a;font-size:12px}
.mark{color:#cf222e;font-weight:700;margin-left:3px}.failed{color:#9a6700;font-size:12px}.incomplete{color:#cf222e;font-size:12px;font-weight:700}
td a{font-size:11px;margin-left:6px;color:#0969da}
ul.protocol{color:#57606a;font-size:13px;margin:4px 0}ul.protocol li.fn{color:#cf222e}
pre.prov{background:#f6f8fa;border:1px solid #d0d7de;padding:8px;font-size:12px;display:none;white-space:pre-wrap}
figure{margin:12px 0}figure img{max-width:100%;border:1px solid #eaeef2}
.skipped{color:#cf222e}
.badge{display:inline-block;font-size:12px;font-weight:600;border-radius:10px;padding:1px 9px;margin-left:8px;
 vertical-align:middle;background:#ddf4ff;color:#0969da;border:1px solid #54aeff}
.badge.offline,.badge.mixed,.badge.substituted{background:#fff8c5;color:#7d4e00;border-color:#d4a72c}
.badge.none{background:#f6f8fa;color:#57606a;border-color:#d0d7de}
th .badge{margin:2px 0 0;display:block;width:max-content}
#table-summary thead th{white-space:normal;min-width:120px;max-width:240px;vertical-align:top}
.few{color:#9a6700;font-weight:700;margin-left:3px}h3{font-size:15px;margin:18px 0 4px}
td.best,td.tied{background:#dafbe1}td.best .v{color:#1a7f37}.rank{font-size:11px;color:#1a7f37;margin-left:4px}
"""

JS = """
(function(){
  function key(row, idx, numeric){
    var cell = row.cells[idx];
    if (!numeric) return cell.textContent.trim().toLowerCase();
    var v = cell.getAttribute('data-v');
    return (v === null || v === '') ? null : parseFloat(v);
  }
  // Sort a table's body by one header cell; missing values always go last.
  function sortBy(th, dir){
    var table = th.closest('table'), body = table.tBodies[0];
    var idx = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute('data-type') === 'num', sign = dir === 'desc' ? -1 : 1;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function(a, b){
      var x = key(a, idx, numeric), y = key(b, idx, numeric);
      if (x === null || y === null) return (x === null) - (y === null);
      return x < y ? -sign : x > y ? sign : 0;
    });
    rows.forEach(function(r){ body.appendChild(r); });
    table.querySelectorAll('thead th').forEach(function(h){ h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir === 'desc' ? 'descending' : 'ascending');
  }
  function fromHash(){
    var params = new URLSearchParams(location.hash.replace(/^#/, ''));
    var col = params.get('sort');
    if (!col) return;
    document.querySelectorAll('thead th[data-col]').forEach(function(th){
      if (th.getAttribute('data-col') === col) sortBy(th, params.get('dir') === 'desc' ? 'desc' : 'asc');
    });
  }
  document.querySelectorAll('table.lb thead th').forEach(function(th){
    th.addEventListener('click', function(){
      sortBy(th, th.getAttribute('aria-sort') === 'ascending' ? 'desc' : 'asc');
    });
  });
  // Clicking a cell shows its provenance below the table (the title tooltip needs a mouse).
  document.querySelectorAll('table.lb td[title]').forEach(function(td){
    td.addEventListener('click', function(ev){
      if (ev.target.tagName === 'A') return;
      var pre = td.closest('section').querySelector('pre.prov');
      pre.textContent = td.getAttribute('title'); pre.style.display = 'block';
    });
  });
  window.addEventListener('hashchange', fromHash);
  fromHash();
})();
"""


def _attr(text: str) -> str:
    return escape(text, quote=True)


def _badge(text: str) -> str:
    word = text.split()[0]
    kind = word if word in ("offline", "mixed", "substituted") else "none" if word == "no" else "published"
    return f'<span class="badge {kind}">{escape(text)}</span>'


def _cell(cell: Cell, t: Table, link: Link, rank: str = "") -> str:
    m = cell.metric
    prov = cell.provenance()
    prov["samples"] = link(m.run, "samples.jsonl")
    html = f'<span class="v">{escape(cell.value_text())}</span>'
    if m.ci95:
        html += f' <span class="ci">{escape(cell.ci_text())}</span>'
        if cell.few:
            html += f'<sup class="few" title="{_attr(stats.FEW_NOTE)}">{stats.FEW_MARK}</sup>'
    for i in cell.marks:
        html += f'<sup class="mark" title="{_attr(t.footnotes[i - 1])}">†{i}</sup>'
    if rank:
        html += f'<span class="rank">{rank}</span>'
    if m.run.failure_note:
        css = "incomplete" if m.run.incomplete else "failed"
        html += f' <span class="{css}">{escape(m.run.failure_note)}</span>'
    html += f' <a href="{_attr(link(m.run, "samples.jsonl"))}">samples</a>'
    value = "" if m.value is None else repr(m.value)
    title = "\n".join(f"{k}: {v}" for k, v in prov.items())
    css = f' class="{rank}"' if rank else ""
    return f'<td{css} data-v="{value}" title="{_attr(title)}">{html}</td>'


def _head(col_id: str, label: str, title: str, extra: str = "") -> str:
    return (f'<th data-col="{_attr(col_id)}" data-type="num" scope="col" title="{_attr(title)}">{escape(label)}'
            f"{extra}</th>")


def _part(t: Table, columns: list[Column], suffix: str, link: Link) -> str:
    table_id = f"table-{t.task}{suffix}"  # suffix: "" for a table printed whole, "-part<i>" for its parts
    head = [f'<th data-col="{_attr(t.task + suffix)}:system" data-type="text" scope="col">system</th>']
    for c in columns:
        head.append(_head(c.id, c.header, "column protocol\n" + "\n".join(f"{k}: {v}" for k, v in c.reference.items())))
    body = []
    for row in t.rows:
        if not any(c.key in row.cells for c in columns):  # nothing of this part measured for this system
            continue
        cells = [f'<th scope="row">{escape(row.label)}</th>']
        cells += [_cell(row.cells[c.key], t, link) if c.key in row.cells else '<td data-v="">–</td>' for c in columns]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="lb" id="{_attr(table_id)}"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _table(t: Table, link: Link) -> str:
    parts = []
    for i, (sub, columns) in enumerate(t.parts()):
        suffix = f"-part{i + 1}" if sub else ""
        parts.append((f"<h3>{escape(sub)}</h3>" if sub else "") + _part(t, columns, suffix, link))
    notes = [f"<li>column <b>{escape(c.label)}</b>: " + escape("; ".join(f"{k} {v}" for k, v in c.reference.items()))
             + "</li>" for c in t.columns]
    notes += [f'<li class="fn">†{i} measured under another protocol than its column: {escape(n)}</li>'
              for i, n in enumerate(t.footnotes, 1)]
    if any(c.few for c in t.cells):
        notes.append(f'<li class="fn">{escape(stats.FEW_NOTE)}</li>')
    return f'{"".join(parts)}<ul class="protocol">{"".join(notes)}</ul><pre class="prov"></pre>'


def _summary(summary: Summary, link: Link) -> str:
    if not summary.columns:
        return ""
    head = ['<th data-col="summary:system" data-type="text" scope="col">system</th>']
    for c in summary.columns:
        label = f'<br><a href="#{_attr(c.table.task)}">{escape(c.table.title)}</a>'
        head.append(_head(f"summary:{c.column.id}", c.header, f"{c.table.title}\n{c.badge}", label + _badge(c.badge)))
    body = []
    for row in summary.rows:
        cells = [f'<th scope="row">{escape(row.label)}</th>']
        for c in summary.columns:
            cell = row.cells.get(c.table.task)
            cells.append(_cell(cell, c.table, link, row.ranks.get(c.table.task, "")) if cell is not None
                         else '<td data-v="">–</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    cells = summary.cells
    legend = stats.interval_legend(sum(c.metric.ci95 is not None for c in cells), len(cells))
    notes = ([f'<li class="fn">{escape(stats.FEW_NOTE)}</li>'] if any(c.few for c in cells) else []) + \
        (['<li class="fn">† measured under another protocol than its task\'s column (see that table); not ranked</li>']
         if any(c.marks for c in cells) else [])
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", escape(SUMMARY_INTRO))
    return (f'<section id="summary"><h2>Headline summary</h2><p class="note">{text} {escape(legend)}</p>'
            f'<table class="lb" id="table-summary"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table><ul class="protocol">{"".join(notes)}</ul>'
            '<pre class="prov"></pre></section>')


def _inline_code(text: str) -> str:
    """Escape, then turn Markdown `code` spans into <code> (the intro is shared with README.md)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def _plain_table(head: str, columns: list[str], rows: list[tuple[str, list[float | None]]]) -> str:
    cells = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(f"<tr><td>{escape(label)}</td>" + "".join(
        f'<td>{"–" if v is None else f"{v:.2f}"}</td>' for v in values) + "</tr>" for label, values in rows)
    return f"<table><thead><tr><th>{escape(head)}</th>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _group(g: GroupTable) -> str:
    """A group's summary table; the benchmark's published rows in a table of their own, headed by the source."""
    html = (f'<section id="group-{_attr(g.name)}"><h2>Group {escape(g.name)}</h2><p class="note">'
            f'{_inline_code(GROUP_INTRO.format(function=g.function))}</p>{_plain_table("system", g.columns, g.rows)}')
    if g.published is not None:
        src = g.published.source
        notes = "".join(f"<li>{escape(n)}</li>" for n in g.published.shown_notes())
        html += (f'<p class="note">Published rows, <strong>copied, not measured here</strong>: <a href="'
                 f'{_attr(src["url"])}">{escape(src["repo"])} {escape(src["file"])} @ {escape(src["commit"][:7])}</a>'
                 f'</p>{_plain_table("system (published)", g.columns, g.published.rows_in(g.columns))}'
                 f'<ul class="note">{notes}</ul>')
    return html + "</section>"


def render(collection: Collection, tables: list[Table], link: Link, plots: dict[str, str],
           title: str = "Leaderboard", intro: str = "", ablations: list[tuple[str, str]] = (),
           boards: list[tuple[str, str]] = (), summary: Summary | None = None,
           groups: list[GroupTable] = ()) -> str:
    """``plots`` maps a table's task (or "latency-distributions") to a PNG path relative to the page; ``groups``:
    the group runs' summary tables, each with the benchmark's published rows under it."""
    nav = ('<a href="#summary">Headline summary</a> ' if summary and summary.columns else "") + " ".join(
        f'<a href="#{_attr(t.task)}">{escape(t.title)}</a>' for t in tables)
    sections = [_summary(summary, link)] if summary else []
    for t in tables:
        fig = (f'<figure><img src="{_attr(plots[t.task])}" alt="{_attr(t.title)}: values with 95 % intervals">'
               "</figure>" if t.task in plots else "")
        note = f'<p class="note">{escape(t.note)}</p>' if t.note else ""
        sections.append(f'<section id="{_attr(t.task)}"><h2>{escape(t.title)}{_badge(t.badge)}</h2>{note}'
                        f'<p class="note">Task <code>{escape(t.task)}</code>, dataset '
                        f'{", ".join(f"<code>{escape(d)}</code>" for d in t.datasets)}. {escape(t.legend())} Hover or '
                        f"click a cell for its provenance; click a header to sort.</p>{_table(t, link)}{fig}</section>")
    sections += [_group(g) for g in groups]
    if "latency-distributions" in plots:
        sections.append('<section id="latency-distributions"><h2>Latency distributions</h2><figure>'
                        f'<img src="{_attr(plots["latency-distributions"])}" alt="latency distributions per model">'
                        "</figure></section>")
    if ablations:
        items = "".join(f'<li><a href="{_attr(href)}">{escape(name)}</a></li>' for name, href in ablations)
        sections.append(f'<section id="ablations"><h2>Ablations</h2><ul>{items}</ul></section>')
    if boards:
        items = "".join(f'<li><a href="{_attr(href)}">{escape(name)}</a></li>' for name, href in boards)
        sections.append(f'<section id="boards"><h2>Other boards</h2><ul>{items}</ul></section>')
    if collection.skipped:
        items = "".join(f"<li>{escape(reason)}</li>" for _, reason in collection.skipped)
        sections.append(f'<section id="skipped"><h2>Skipped results files</h2><ul class="skipped">{items}</ul>'
                        "</section>")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>"
            f'<p class="note">{_inline_code(intro)}</p><nav>{nav}</nav>{"".join(sections)}'
            f"<script>{JS}</script></body></html>\n")
