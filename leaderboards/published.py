"""Published rows: other systems' figures copied from a benchmark's own table, shown beside a group's summary.

A data file per group, ``leaderboards/published/<group>.yaml``: the source (repository, file, commit, url), the
columns as the source names them (our set names where it spells one otherwise), one row per system (values as
the source prints them, None for a blank cell) and notes (a system's caveat, or a key starting with ``*`` for the
whole table). A board shows them in their own table under the group's, in the group's column order, headed by the
source, never as rows of ours: they were not measured here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

PUBLISHED_DIR = Path(__file__).resolve().parent / "published"
SOURCE_FIELDS = ("repo", "file", "commit", "url")


@dataclass(frozen=True)
class Published:
    group: str
    source: dict[str, str]
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[float | None, ...]], ...]
    notes: dict[str, str]
    path: Path

    def rows_in(self, columns: list[str]) -> list[tuple[str, list[float | None]]]:
        """Each row's label (¹ when a note is about it) and its values in ``columns``' order (None: the source has
        no such column)."""
        index = {c: i for i, c in enumerate(self.columns)}
        return [(name + (" ¹" if name in self.notes else ""), [values[index[c]] if c in index else None
                                                              for c in columns]) for name, values in self.rows]

    def shown_notes(self) -> list[str]:
        """The notes about the rows kept, then those about the whole table (keys starting with ``*``)."""
        kept = {name for name, _ in self.rows}
        return ([f"¹ {name}: {text}" for name, text in self.notes.items() if name in kept]
                + [text for name, text in self.notes.items() if name.startswith("*")])


def load_published(path: str | Path) -> Published:
    """One published-rows file, checked: a mistake names the file and the row."""
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    where = str(path)
    if not isinstance(data, dict) or not {"group", "source", "columns", "rows"} <= set(data):
        raise ValueError(f"{where}: a published-rows file needs group, source, columns and rows")
    missing = [k for k in SOURCE_FIELDS if not data["source"].get(k)]
    if missing:
        raise ValueError(f"{where}: source lacks {', '.join(missing)}: copied figures must name where they come from")
    columns = tuple(str(c) for c in data["columns"])
    rows = []
    for i, row in enumerate(data["rows"]):
        values = row.get("values") if isinstance(row, dict) else None
        if not isinstance(values, list) or len(values) != len(columns) or not row.get("system"):
            raise ValueError(f"{where}: rows[{i}] needs a system and {len(columns)} values ({', '.join(columns)})")
        rows.append((str(row["system"]), tuple(None if v is None else float(v) for v in values)))
    return Published(str(data["group"]), dict(data["source"]), columns, tuple(rows),
                     {str(k): str(v) for k, v in (data.get("notes") or {}).items()}, path)


def published_for(group: str, systems: str = "all") -> Published | None:
    """The shipped rows for a group (None when it has none); ``systems``: "all", "none", or names, comma-separated
    (an unknown name is an error that lists the known ones)."""
    path = PUBLISHED_DIR / f"{group}.yaml"
    if systems == "none" or not path.is_file():
        return None
    published = load_published(path)
    if systems == "all":
        return published
    wanted = [s.strip() for s in systems.split(",") if s.strip()]
    known = {name for name, _ in published.rows}
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise ValueError(f"--published: {', '.join(unknown)} not in {path.name}; its systems: {', '.join(sorted(known))}")
    return Published(published.group, published.source, published.columns,
                     tuple(r for r in published.rows if r[0] in wanted), published.notes, published.path)

