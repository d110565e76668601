"""What every dataset loader returns: items that can be evaluated, and problems found while reading."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.manifest import ManifestError, ManifestItem
from harness.options import ConfigError

SHOWN = 5  # bad rows / missing files named in an error


@dataclass(frozen=True)
class ItemProblem:
    """A manifest row that cannot be evaluated; recorded as a failed sample, never dropped silently."""
    id: str          # the row's id, or "<file>:<line>" when the row has no usable id
    source: str      # file (and line) the row came from
    reason: str      # what is wrong and what to do about it


@dataclass
class DatasetLoad:
    items: list[ManifestItem]
    problems: list[ItemProblem] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # provenance: name, source, revision, sizes

    def fingerprint(self) -> dict[str, str]:
        """What was evaluated, so two different manifests never pass for one data set: a hash of the rows (id,
        text, language, extras; unreadable rows by file name, line and reason) and one of the audio (each file's
        name and size, or embedded bytes' sha256). Machine-independent: no folder names."""
        rows, audio = hashlib.sha256(), hashlib.sha256()
        for item in self.items:
            rows.update(json.dumps([item.id, item.text, item.lang, item.custom], ensure_ascii=False,
                                   sort_keys=True, default=str).encode("utf-8", "surrogatepass") + b"\n")
            if item.audio_bytes is not None:
                audio.update(item.id.encode("utf-8", "surrogatepass") + b"\0" + hashlib.sha256(item.audio_bytes).digest())
            elif item.audio is not None:
                path = Path(item.audio)
                size = path.stat().st_size if path.is_file() else -1
                audio.update(f"{item.id}\0{path.name}\0{size}\n".encode("utf-8", "surrogatepass"))
        for problem in self.problems:
            rows.update(f"problem\0{Path(problem.source).name}\0{problem.reason}\n".encode("utf-8", "surrogatepass"))
        return {"manifest_sha256": rows.hexdigest()[:16], "audio_sha256": audio.hexdigest()[:16]}

    def check_evaluable(self, name: str, needs_audio: bool) -> None:
        """Refuse, before anything loads, a data set that cannot give one scored sample: no rows, no readable
        row, or (for a task that listens to the input) no item whose audio exists. A retry cannot fix these."""
        source = self.info.get("source") or name
        if not self.items and not self.problems:
            raise ManifestError(f"dataset {name}: {source} has no rows; add one row per sample (TSV: a header "
                                f"'id<TAB>text' then the rows; JSONL: one object per line)")
        if not self.items:
            raise ManifestError(f"dataset {name}: none of the {len(self.problems)} row(s) of {source} can be "
                                f"evaluated; fix the manifest:\n" + bad_rows(self.problems))
        if not needs_audio:
            return
        present = [i for i in self.items if i.audio_bytes is not None or (i.audio and Path(i.audio).is_file())]
        if not present:
            missing = [i.audio or f"{i.id}: no audio field" for i in self.items]
            raise ConfigError(f"dataset {name}: none of the {len(self.items)} item(s) of {source} has its audio file "
                              f"(e.g. {', '.join(missing[:3])}); point --dataset-arg audio_dir=DIR at the folder "
                              f"holding them, or fix the rows' 'audio' paths")


def bad_rows(problems: list[ItemProblem], shown: int = SHOWN) -> str:
    """The first bad manifest rows, one per line: ``  file:line: what is wrong``."""
    lines = [f"  {p.source}: {p.reason}" for p in problems[:shown]]
    if len(problems) > shown:
        lines.append(f"  ... and {len(problems) - shown} more")
    return "\n".join(lines)


class DatasetUnavailableError(RuntimeError):
    """The dataset cannot be reached (offline Hub, missing folder); the message says how to point at it."""
