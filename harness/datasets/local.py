"""Local manifests: TSV (header row with ``id`` and ``text``) or JSONL, plus an audio folder.

Fields of a row (a JSONL key or a TSV column):
- ``id`` (required, unique), ``text`` (the reference transcript, TTS input, or S2S question), ``lang``
  (default: the loader's ``lang=``; with neither, the manifest is refused: a language is never assumed), ``audio`` (a path, relative to ``audio_dir``; default ``<id><ext>``);
- ``reference`` (optional, a string): the reference answer of an S2S question (VoiceBench-style reference QA),
  scored by the S2S reference scorer (``--reference-scorer``, harness.tasks.s2s_reference); kept verbatim
  (whitespace stripped) in ``ManifestItem.custom["reference"]``; a row whose ``reference`` is not a string is
  an ``ItemProblem``;
- any other field is kept in ``ManifestItem.custom`` as it is.

Rows are decoded one by one so that one bad row (not UTF-8, wrong column count, bad JSON, duplicate
id, empty text) becomes an ``ItemProblem`` naming the file and line, and the other rows still run.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.datasets.base import DatasetLoad, DatasetUnavailableError, ItemProblem
from harness.langid import detect_language
from harness.manifest import ManifestError, ManifestItem

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
REFERENCE = "reference"  # the field of an S2S question's reference answer (harness.tasks.s2s_reference)


def read_manifest(path: str | Path, *, lang: str | None, audio_dir: str | Path | None = None,
                  audio_ext: str = ".wav", require_audio: bool = True,
                  require_text: bool = True) -> DatasetLoad:
    """Read ``path`` (``.tsv`` or ``.jsonl``); audio is ``audio_dir/<id><ext>`` unless a row names it. ``lang``
    is the language of rows without a ``lang`` field; None: every row must have one (ManifestError if not)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetUnavailableError(
            f"manifest {path} does not exist; pass the dataset folder with --dataset-arg path=DIR")
    audio_dir = Path(audio_dir) if audio_dir is not None else path.parent
    raw_lines = path.read_bytes().splitlines()
    if path.suffix == ".jsonl":
        rows = _jsonl_rows(path, raw_lines)
    elif path.suffix in (".tsv", ".txt", ".lst"):
        rows = _tsv_rows(path, raw_lines)
    else:
        raise ManifestError(f"{path}: unknown manifest format {path.suffix!r}; use .tsv or .jsonl")

    items: list[ManifestItem] = []
    problems: list[ItemProblem] = []
    first_line: dict[str, int] = {}
    unlabelled: list[tuple[int, str]] = []  # (line, text) of rows with no language, when lang= is not given
    for lineno, row, error in rows:
        where = f"{path}:{lineno}"
        if error is not None:
            problems.append(ItemProblem(id=where, source=where, reason=error))
            continue
        item_id = str(row.get("id", "")).strip()
        if not item_id:
            problems.append(ItemProblem(id=where, source=where, reason="row has no id; add an 'id' value"))
            continue
        if item_id in first_line:
            problems.append(ItemProblem(
                id=f"{item_id}@{lineno}", source=where,
                reason=f"duplicate id {item_id!r} (first at line {first_line[item_id]}); ids must be unique"))
            continue
        first_line[item_id] = lineno
        text = str(row.get("text", "") or "").strip()
        if require_text and not text:
            problems.append(ItemProblem(id=item_id, source=where,
                                        reason="empty reference text; fill in 'text' or drop the row"))
            continue
        audio = row.get("audio")
        if audio:
            audio = str(audio if Path(audio).is_absolute() else audio_dir / audio)
        elif require_audio:
            audio = str(audio_dir / f"{item_id}{audio_ext}")
        custom = {k: v for k, v in row.items() if k not in ("id", "text", "audio", "lang")}
        if custom.get(REFERENCE) is not None:
            if not isinstance(custom[REFERENCE], str):
                problems.append(ItemProblem(id=item_id, source=where, reason=(
                    f"'{REFERENCE}' is a {type(custom[REFERENCE]).__name__}; the reference answer must be a string")))
                continue
            custom[REFERENCE] = custom[REFERENCE].strip()
        item_lang = str(row.get("lang") or lang or "")
        if not item_lang:
            unlabelled.append((lineno, text))
            continue
        items.append(ManifestItem(id=item_id, audio=audio, text=text, lang=item_lang, custom=custom))
    if unlabelled:
        raise ManifestError(_no_language(path, unlabelled, len(items)))
    return DatasetLoad(items=items, problems=problems,
                       info={"source": str(path), "rows": len(rows), "items": len(items),
                             "problems": len(problems)})


def _no_language(path: Path, unlabelled: list[tuple[int, str]], labelled: int) -> str:
    """Why a manifest without languages is refused, with a guess from the text (never applied silently)."""
    guesses = {detect_language(text) for _, text in unlabelled} - {"unknown"}
    hint = f" (the text looks like {guesses.pop()})" if len(guesses) == 1 else ""
    lines = ", ".join(str(n) for n, _ in unlabelled[:5]) + (", ..." if len(unlabelled) > 5 else "")
    return (f"{path}:{unlabelled[0][0]}: no language for {len(unlabelled)} row(s) (line {lines}){hint}; pass "
            f"--dataset-arg lang=en|zh, or give every row a 'lang' field"
            + (f" ({labelled} row(s) have one)" if labelled else ""))


def _decode(path: Path, lineno: int, raw: bytes) -> tuple[str | None, str | None]:
    try:
        return raw.decode("utf-8").lstrip("\ufeff").rstrip("\r"), None
    except UnicodeDecodeError as exc:
        return None, (f"line is not UTF-8 ({exc.reason} at byte {exc.start}); "
                      f"re-save {path.name} as UTF-8")


def _tsv_rows(path: Path, raw_lines: list[bytes]) -> list[tuple[int, dict[str, Any] | None, str | None]]:
    if not raw_lines:
        raise ManifestError(f"{path} is empty; a TSV manifest needs a header row with 'id' and 'text'")
    header, err = _decode(path, 1, raw_lines[0])
    if err:
        raise ManifestError(f"{path}:1: header {err}")
    columns = header.split("\t")
    if "id" not in columns:
        raise ManifestError(f"{path}:1: header {columns} has no 'id' column; the first row must name "
                            f"the columns, e.g. 'id<TAB>text'")
    rows = []
    for lineno, raw in enumerate(raw_lines[1:], start=2):
        line, err = _decode(path, lineno, raw)
        if err:
            rows.append((lineno, None, err))
            continue
        if not line.strip():
            continue
        values = line.split("\t")
        if len(values) != len(columns):
            rows.append((lineno, None, f"{len(values)} tab-separated fields, header has {len(columns)} "
                                       f"({', '.join(columns)})"))
            continue
        rows.append((lineno, dict(zip(columns, values)), None))
    return rows


def _jsonl_rows(path: Path, raw_lines: list[bytes]) -> list[tuple[int, dict[str, Any] | None, str | None]]:
    rows = []
    for lineno, raw in enumerate(raw_lines, start=1):
        line, err = _decode(path, lineno, raw)
        if err:
            rows.append((lineno, None, err))
            continue
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append((lineno, None, f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(row, dict):
            rows.append((lineno, None, f"expected a JSON object, got {type(row).__name__}"))
            continue
        rows.append((lineno, row, None))
    return rows


class LocalManifest:
    """A local manifest (TSV or JSONL) with an audio folder; ``path`` is the manifest file."""

    def __init__(self, path: str, lang: str | None = None, audio_dir: str | None = None, audio_ext: str = ".wav",
                 name: str = "local"):
        self.path, self.lang, self.audio_dir, self.audio_ext = path, lang, audio_dir, audio_ext
        self.name = name  # what results and leaderboard columns call the set (default: "local")

    def load(self) -> DatasetLoad:
        load = read_manifest(self.path, lang=self.lang, audio_dir=self.audio_dir, audio_ext=self.audio_ext)
        load.info["name"] = self.name
        return load
