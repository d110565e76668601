"""One run per output folder: an OS lock (flock) held for the whole run.

Each data-parallel rank locks its own file (``.lock-rank<R>``), so the ranks of one torchrun/accelerate run share
the folder while a second run on it is refused at once. The kernel drops the lock when its holder dies, even
by ``kill -9``, so a lock left by a killed run never blocks a rerun; the file's text only says who held it.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from harness.options import ConfigError


class RunLockedError(ConfigError):
    """Another live run holds the output folder."""


class RunLock:
    def __init__(self, output_dir: str | Path, rank: int = 0):
        self.dir = Path(output_dir)
        self.path = self.dir / f".lock-rank{rank}"
        self._fh = None

    def acquire(self) -> "RunLock":
        self.dir.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = _holder(fh.read())
            fh.close()
            raise RunLockedError(
                f"output folder {self.dir} is in use by another run ({holder}); wait for it to finish, stop it, "
                f"or pass another --output-dir. Both runs would otherwise do the same work into one cache.") from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime(
            "%Y-%m-%dT%H:%M:%S%z"), "command": " ".join(sys.argv)[:300]}) + "\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']} since {info['since']}: {info['command']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"
