"""Small helpers every adapter shares: option parsing, weight revisions, package versions, the offline switch.

Kept in one place so every adapter converts ``--model-arg`` strings and hashes weights alike.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.model import ModelConfigError


def convert(model: str, key: str, value: Any, kind: Callable | type) -> Any:
    """Options arrive as CLI strings; convert one, naming the option when it does not parse."""
    if value is None or not isinstance(value, str):
        return value
    try:
        if kind is bool:
            low = value.strip().lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return low in ("true", "1", "yes")
        return kind(value)
    except ValueError:
        want = "true/false" if kind is bool else getattr(kind, "__name__", str(kind))
        raise ModelConfigError(f"model {model}: option {key}={value!r} is not a valid {want}") from None


def hub_offline() -> bool:
    """The Hub's own switch; with it set, adapters only look in local caches (no network attempt)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


FULL_HASH_LIMIT = 512 << 20        # weights up to 512 MiB are hashed whole (about 1 s)
SAMPLE_BLOCKS, SAMPLE_SIZE = 256, 1 << 20
_REVISIONS: dict[tuple, str] = {}  # memo per (path, size, mtime) so repeated describe() calls are free


def file_revision(*paths: Path) -> str:
    """A content revision of one file, or of several read as one stream (split weights).

    Small files get a full sha256. Multi-GB checkpoints (large-v3: 3 GB) would cost tens of seconds
    per run, so above FULL_HASH_LIMIT we hash the size plus 256 evenly spaced 1 MiB blocks (256 MiB
    read): fine-tuning changes nearly every tensor, so a changed checkpoint changes sampled blocks.
    The prefix (``sha256:`` or ``sha256-sampled:``) says which was done.
    """
    stats = [os.stat(p) for p in paths]
    memo = tuple((str(Path(p).resolve()), s.st_size, s.st_mtime_ns) for p, s in zip(paths, stats))
    if memo in _REVISIONS:
        return _REVISIONS[memo]
    total = sum(s.st_size for s in stats)
    digest = hashlib.sha256()
    if total <= FULL_HASH_LIMIT:
        for p in paths:
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(8 << 20), b""):
                    digest.update(block)
        result = f"sha256:{digest.hexdigest()}"
    else:
        digest.update(str(total).encode())
        step = (total - SAMPLE_SIZE) // (SAMPLE_BLOCKS - 1)
        for i in range(SAMPLE_BLOCKS):
            digest.update(_read_at(paths, [s.st_size for s in stats], i * step, SAMPLE_SIZE))
        result = f"sha256-sampled:{digest.hexdigest()}"
    _REVISIONS[memo] = result
    return result


def _read_at(paths, sizes, offset: int, length: int) -> bytes:
    out = b""
    for p, size in zip(paths, sizes):
        if offset >= size:
            offset -= size
            continue
        with open(p, "rb") as fh:
            fh.seek(offset)
            out += fh.read(length - len(out))
        offset = 0
        if len(out) == length:
            break
    return out


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
