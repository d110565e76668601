"""Append-only JSONL stage cache: one record per sample, keyed by a hash of what the stage depends on.

Layout: ``<cache_root>/<stage>-<key16>/rank<R>.jsonl`` plus ``meta.json`` (what was hashed, for humans).
Each data-parallel rank appends to its own shard; readers merge all shards. A process killed mid-write
leaves at most one partial last line, which is cut off before the next append, so a rerun resumes
without losing or duplicating records.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable


def stable_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
                          .encode()).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MB blocks (weights, shards, manifests)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class StageCache:
    def __init__(self, root: str | Path, stage: str, depends: dict[str, Any], rank: int = 0):
        self.key = stable_hash({"stage": stage, "depends": depends})
        self.dir = Path(root) / f"{stage}-{self.key[:16]}"
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self.dir / "meta.json"
        if not meta.exists():
            tmp = meta.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps({"stage": stage, "key": self.key, "depends": depends},
                                      indent=2, ensure_ascii=False, default=str))
            tmp.replace(meta)
        self.path = self.dir / f"rank{rank}.jsonl"
        self._repaired = False

    def load(self) -> dict[str, dict[str, Any]]:
        """All records of every rank shard, by sample id (a later record for an id replaces an earlier one)."""
        records: dict[str, dict[str, Any]] = {}
        for shard in sorted(self.dir.glob("rank*.jsonl")):
            with open(shard, "rb") as fh:
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        break  # partial line from a killed writer: ignored, cut before next append
                    try:
                        record = json.loads(raw)
                    except json.JSONDecodeError:
                        continue
                    records[record["id"]] = record
        return records

    def _repair_tail(self) -> None:
        """Cut a partial trailing line (left by SIGKILL) so appended records start on a fresh line."""
        if self._repaired or not self.path.exists():
            self._repaired = True
            return
        with open(self.path, "rb+") as fh:
            data = fh.read()
            if data and not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)
        self._repaired = True

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        self._repair_tail()
        lines = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)
        if not lines:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())

    def drop(self, ids: set[str]) -> None:
        """Rewrite this rank's shard without ``ids`` (used to retry failed samples without duplicates)."""
        if not ids or not self.path.exists():
            return
        self._repair_tail()
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines(keepends=True)
                if json.loads(line)["id"] not in ids]
        tmp = self.path.with_suffix(".rewrite")
        tmp.write_text("".join(kept), encoding="utf-8")
        tmp.replace(self.path)
