"""VoiceBench fixtures: parquet files in the Hub's exact layout, and a loopback judge that answers from a script."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np


def wav_bytes(seconds: float = 0.4, freq: float = 220.0, rate: int = 16000) -> bytes:
    """A short tone as WAV bytes (what the Hub's audio column embeds)."""
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, format="WAV")
    return buf.getvalue()


def write_split(root: Path, config: str, split: str, rows: list[dict], shards: int = 1) -> list[Path]:
    """root/<config>/<split>-0000k-of-0000n.parquet, as hlt-lab/voicebench names them; each row gets an 'audio'
    struct {bytes, path} like the Hub's Audio feature stores it, unless it has one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = root / config
    folder.mkdir(parents=True, exist_ok=True)
    full = [{"audio": {"bytes": wav_bytes(freq=200.0 + 10 * i), "path": f"{i}.wav"}, **row} for i, row in enumerate(rows)]
    per = -(-len(full) // shards)
    paths = []
    for k in range(shards):
        path = folder / f"{split}-{k:05d}-of-{shards:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(full[k * per:(k + 1) * per]), path)
        paths.append(path)
    return paths


def write_voicebench_outputs(folder: Path, name: str, rows: list[dict], responses: list[str]) -> Path:
    """VoiceBench main.py's output file: every column but audio, plus "response", one line per row in order."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with open(path, "w", encoding="utf-8") as fh:
        for row, response in zip(rows, responses):
            fh.write(json.dumps({**row, "response": response}, ensure_ascii=False) + "\n")
    return path
