"""File names derived from input (sample ids) go through here, and only here.

A manifest id is data: ``../../x``, ``/abs/x``, ``a/b``, a 300-character id or control characters must never
steer where the harness writes. ``safe_name`` maps any id to one path component that stays inside the folder
it is joined to; ids that needed changing get a hash of the original appended, so two different ids never
share a file.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from harness.options import ConfigError

MAX_STEM = 96                                   # bytes of the readable part (file systems allow 255)
_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)  # anything but letters, digits, _ . - (per character run)


def safe_name(raw: str, suffix: str = "") -> str:
    """One safe path component for ``raw`` (+ ``suffix``, e.g. ".wav"): no separators, no ``..``, no leading
    dot, no control characters, bounded length; unchanged when ``raw`` is already such a name."""
    text = str(raw)
    cleaned = "".join(ch for ch in unicodedata.normalize("NFC", text) if unicodedata.category(ch)[0] != "C")
    cleaned = _UNSAFE.sub("_", cleaned).strip("._") or "_"
    encoded = cleaned.encode("utf-8")
    if len(encoded) > MAX_STEM:
        cleaned = encoded[:MAX_STEM].decode("utf-8", errors="ignore")
    if cleaned != text:  # changed: a digest of the original keeps different ids apart
        cleaned = f"{cleaned}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"
    return cleaned + suffix


def inside(folder: Path, raw: str, suffix: str = "") -> Path:
    """``folder / safe_name(raw, suffix)``, checked to resolve inside ``folder`` (defence in depth)."""
    path = Path(folder) / safe_name(raw, suffix)
    if Path(folder).resolve() not in path.resolve().parents:
        raise ValueError(f"refusing to write {path}: outside {folder}")
    return path


RUNS_ROOT = Path("runs")  # where a run writes when --output-dir is not given


def default_output_dir(task: str, model: str, dataset: str) -> str:
    """``runs/<task>--<model>--<dataset>``: one safe path component under ``runs/`` (names come from the command
    line and dataset arguments, so they pass through ``safe_name`` like any input)."""
    return str(RUNS_ROOT / safe_name(f"{task}--{model}--{dataset}"))


def check_output_dir(path: str | Path) -> None:
    """Refuse an output folder that is, or lies under, an existing file (before anything loads)."""
    path = Path(path)
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            what = "is a file" if part == path else f"lies under {part}, which is a file"
            raise ConfigError(f"--output-dir {path} {what}; name a folder (a new one, or a previous run's)")
