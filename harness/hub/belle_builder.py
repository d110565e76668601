"""BELLE-eval-S2S source folder (``test.tsv`` + ``wav/<id>.wav``) -> the exact folder uploaded to the Hub.

Output layout::

    README.md                              the dataset card, copied as is
    data/test-00000-of-00001.parquet       id, text, audio (WAV bytes embedded), duration; test.tsv order
    checksums.sha256                       ``sha256sum`` lines for every other file

Validation collects every problem before failing, so one run tells the user all that is wrong with
their copy. Audio is never decoded here (no torchcodec): soundfile reads only the WAV headers.
"""
from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cache import sha256_file

SPLIT = "test"
SAMPLING_RATE = 22050
CHECKSUMS = "checksums.sha256"
CARD = "README.md"
ROW_GROUP_ROWS = 100
DEFAULT_MAX_SHARD_BYTES = 200 * 1024 ** 2   # about 200 MB of audio per parquet shard; 41 MB today -> 1 shard
_SAFE_ID = re.compile(r"[A-Za-z0-9_.-]+")   # ids name files (wav/<id>.wav): no separators or spaces


class BuildError(ValueError):
    """The source folder cannot be built; ``problems`` lists every problem, each naming file and line."""

    def __init__(self, source: Path | str, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"BELLE-eval-S2S source {source}: {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class SourceRow:
    id: str
    text: str
    wav: Path
    line: int             # line of test.tsv (1 = header)
    duration: float       # seconds, from the WAV header


@dataclass
class Build:
    folder: Path
    rows: int
    shards: list[str]                                   # paths relative to ``folder``
    sha256: dict[str, str] = field(default_factory=dict)  # every file in ``folder`` but checksums.sha256
    dataset: Any = None                                 # the datasets.Dataset that was written

    @property
    def files(self) -> list[str]:
        """Every file to upload, checksums included, in a stable order."""
        return sorted([*self.sha256, CHECKSUMS])


def features():
    from datasets import Audio, Features, Value

    return Features({"id": Value("string"), "text": Value("string"),
                     "audio": Audio(sampling_rate=SAMPLING_RATE, decode=False),
                     "duration": Value("float32")})


def read_source(source: str | Path) -> list[SourceRow]:
    """Validate the source folder; return its rows in test.tsv order or raise one BuildError."""
    import soundfile as sf

    source = Path(source)
    tsv, wav_dir = source / "test.tsv", source / "wav"
    missing = [f"{p.name}{'/' if p is wav_dir else ''}: missing" for p in (tsv, wav_dir) if not p.exists()]
    if missing:
        raise BuildError(source, missing)
    problems: list[str] = []
    entries = _tsv_entries(tsv.read_bytes(), problems)
    wavs = {p.stem: p for p in wav_dir.iterdir() if p.suffix.lower() == ".wav" and not p.name.startswith(".")}
    rows: list[SourceRow] = []
    for line, item_id, text in entries:
        wav = wavs.get(item_id)
        if wav is None:
            problems.append(f"test.tsv:{line}: id {item_id} has no wav/{item_id}.wav")
            continue
        try:
            info = sf.info(str(wav))
        except Exception as exc:  # noqa: BLE001 - libsndfile says what is wrong with the bytes
            problems.append(f"wav/{wav.name}: unreadable: {str(exc).strip()}")
            continue
        if info.samplerate != SAMPLING_RATE or info.channels != 1 or info.frames == 0:
            problems.append(f"wav/{wav.name}: {info.samplerate} Hz, {info.channels} channel(s), "
                            f"{info.frames} frames; expected {SAMPLING_RATE} Hz mono with audio")
            continue
        if text:  # an empty text was already reported; its audio is still checked above
            rows.append(SourceRow(item_id, text, wav, line, info.frames / info.samplerate))
    known = {item_id for _, item_id, _ in entries}
    problems += [f"wav/{wavs[stem].name} has no row in test.tsv"
                 for stem in sorted(wavs) if stem not in known]
    if problems:
        raise BuildError(source, problems)
    if not rows:
        raise BuildError(source, ["test.tsv: no rows"])
    return rows


def _tsv_entries(raw: bytes, problems: list[str]) -> list[tuple[int, str, str]]:
    """(line, id, text) for each data row; bad rows go to ``problems`` (duplicates are dropped)."""
    lines = raw.splitlines()
    header = lines[0].decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r") if lines else ""
    if header.split("\t") != ["id", "text"]:
        problems.append(f"test.tsv:1: header is {header!r}, expected 'id<TAB>text'")
        return []
    entries: list[tuple[int, str, str]] = []
    first: dict[str, int] = {}
    for line, raw_line in enumerate(lines[1:], start=2):
        try:
            text_line = raw_line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            problems.append(f"test.tsv:{line}: not UTF-8 ({exc.reason} at byte {exc.start})")
            continue
        if not text_line.strip():
            continue
        fields = text_line.split("\t")
        if len(fields) != 2:
            problems.append(f"test.tsv:{line}: {len(fields)} fields, expected 2 (id<TAB>text)")
            continue
        item_id, text = fields[0].strip(), fields[1].strip()
        if not _SAFE_ID.fullmatch(item_id):
            problems.append(f"test.tsv:{line}: id {item_id!r} is empty or not a plain file name")
            continue
        if item_id in first:
            problems.append(f"test.tsv:{line}: duplicate id {item_id} (first at line {first[item_id]})")
            continue
        first[item_id] = line
        if not text:
            problems.append(f"test.tsv:{line}: empty text for id {item_id}")
        entries.append((line, item_id, text))
    return entries


def make_dataset(rows: list[SourceRow]):
    """An in-memory datasets.Dataset with the WAV bytes embedded (nothing decoded, nothing cached)."""
    import pyarrow as pa
    from datasets import Dataset

    # Arrow directly: Dataset.from_dict would run Audio.encode_example, which imports torchcodec.
    table = pa.Table.from_pydict({
        "id": [r.id for r in rows],
        "text": [r.text for r in rows],
        "audio": [{"bytes": r.wav.read_bytes(), "path": r.wav.name} for r in rows],
        "duration": [r.duration for r in rows],
    }, schema=features().arrow_schema)
    return Dataset(table)


def shard_names(n: int) -> list[str]:
    return [f"data/{SPLIT}-{i:05d}-of-{n:05d}.parquet" for i in range(n)]


def build(source: str | Path, out: str | Path, *, card: str | Path | None = None,
          max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> Build:
    """Validate ``source`` and write the upload folder ``out`` (replacing a previous build there)."""
    import pyarrow.parquet as pq

    rows = read_source(source)
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / CHECKSUMS).is_file():
        # Only a previous build (it has checksums.sha256) is replaced: never wipe a folder we did not write.
        raise BuildError(source, [f"{out}: output folder exists and is not a previous build; pick another"])
    tmp = out.with_name(out.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "data").mkdir(parents=True)
    ds = make_dataset(rows)
    audio_bytes = sum(r.wav.stat().st_size for r in rows)
    names = shard_names(max(1, math.ceil(audio_bytes / max_shard_bytes)))
    table = ds.data.table
    bounds = [round(i * len(rows) / len(names)) for i in range(len(names) + 1)]
    for name, start, stop in zip(names, bounds, bounds[1:]):
        # Contiguous shards keep test.tsv order. pyarrow writes identical bytes for identical input (no
        # timestamps), which is what lets the publisher skip an unchanged upload. 100 rows per row group,
        # as datasets uses for audio, keeps a reader's memory small.
        pq.write_table(table.slice(start, stop - start), tmp / name, row_group_size=ROW_GROUP_ROWS)
    if card is not None:
        shutil.copyfile(card, tmp / CARD)
    sha = write_checksums(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return Build(folder=out, rows=len(rows), shards=names, sha256=sha, dataset=ds)


def folder_files(folder: Path) -> list[str]:
    """Every file under ``folder`` (posix, relative) except checksums.sha256, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.name != CHECKSUMS)


def write_checksums(folder: Path) -> dict[str, str]:
    sha = {name: sha256_file(folder / name) for name in folder_files(folder)}
    (folder / CHECKSUMS).write_text("".join(f"{h}  {name}\n" for name, h in sha.items()), encoding="utf-8")
    return sha


def parse_checksums(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if sep and len(digest) == 64:
            out[name] = digest
    return out


def verify_folder(folder: str | Path) -> list[str]:
    """Problems with a built folder: files whose sha256 differs from checksums.sha256, or missing/extra."""
    folder = Path(folder)
    listed = parse_checksums((folder / CHECKSUMS).read_text(encoding="utf-8"))
    present = set(folder_files(folder))
    problems = [f"{name}: listed in {CHECKSUMS} but missing" for name in sorted(set(listed) - present)]
    problems += [f"{name}: not listed in {CHECKSUMS}" for name in sorted(present - set(listed))]
    problems += [f"{name}: sha256 differs from {CHECKSUMS} (file changed or damaged)"
                 for name in sorted(present & set(listed)) if sha256_file(folder / name) != listed[name]]
    return problems


def read_built(folder: str | Path) -> list[dict[str, Any]]:
    """Rows of a built folder (id, text, audio bytes/path, duration) in shard order, checksums verified."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    if (folder / CHECKSUMS).is_file() and (problems := verify_folder(folder)):
        raise BuildError(folder, problems)
    shards = sorted((folder / "data").glob(f"{SPLIT}-*.parquet"))
    if not shards:
        raise BuildError(folder, [f"data/{SPLIT}-*.parquet: no shards"])
    rows: list[dict[str, Any]] = []
    for shard in shards:
        rows += pq.read_table(shard).to_pylist()
    return rows
