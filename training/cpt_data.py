"""CPT data builders: ASR (units -> text), TTS (text -> units), MT (zh <-> en), monolingual instructions.

Each writes chat records in the SFT format (``prompt`` / ``response``) plus ``id``, ``kind``, ``lang`` and
``source``; the recipe mixes the files by ratio. Units are merged (consecutive repeats collapsed) before
they are written, as the LLM sees them. A refused row is never dropped silently: it is counted by reason
and listed with its source line in the build report.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from harness.audio import AudioError
from models.cslm.units import UNIT_FORMATS, merge_repeats
from training.sources import Row, RowError, RowProblem, UnitSource, audio_error_code
from training.templates import Templates

MT_LANGS = ("zh", "en")


@dataclass(frozen=True)
class BuildOptions:
    unit_format: str = "angle"     # how units are written: "angle" <123> (released) or "s-pipe" <|s_123|>
    max_units: int = 750           # merged units per utterance (CosyVoice refuses > 30 s: 750 at 25 Hz)
    max_chars: int = 2000          # characters of text per field
    min_units: int = 1             # fewer units: the tokenizer saw no speech


@dataclass
class BuildReport:
    kind: str
    written: int = 0
    refused: Counter = field(default_factory=Counter)
    problems: list[RowProblem] = field(default_factory=list)

    def refuse(self, problem: RowProblem) -> None:
        self.refused[problem.code] += 1
        self.problems.append(problem)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "written": self.written, "refused": dict(self.refused),
                "refused_total": sum(self.refused.values()),
                "problems": [p.__dict__ for p in sorted(self.problems, key=_source_order)]}

    def summary(self) -> str:
        refused = ", ".join(f"{k} {v}" for k, v in sorted(self.refused.items())) or "none"
        return f"{self.kind}: wrote {self.written} records; refused {sum(self.refused.values())} ({refused})"


def _source_order(problem: RowProblem) -> tuple[str, int]:
    """file:line (or dataset#row) sorted by file, then numerically by line."""
    head, _, tail = problem.source.replace("#", ":").rpartition(":")
    return (head, int(tail)) if tail.isdigit() else (problem.source, -1)


def merged_units(units) -> list[int]:
    """Consecutive repeats collapsed (models.cslm.units.merge_repeats), as a plain list."""
    return np.asarray(merge_repeats(units)[0], dtype=np.int64).tolist()


def format_units(units: Iterable[int], unit_format: str) -> str:
    fmt = UNIT_FORMATS[unit_format][0]
    return "".join(fmt.format(int(u)) for u in units)


def _checked_units(row: Row, source: UnitSource, opts: BuildOptions) -> list[int]:
    try:
        raw = source.units(row.id, row.item)
    except AudioError as exc:
        raise RowError(audio_error_code(exc), str(exc)) from None
    merged = merged_units(raw)
    if len(merged) < opts.min_units:
        raise RowError("no_units", f"{len(merged)} units after merging repeats")
    if len(merged) > opts.max_units:
        raise RowError("too_long", f"{len(merged)} units after merging repeats, over max_units {opts.max_units}")
    return merged


def _checked_text(text: Any, what: str, opts: BuildOptions) -> str:
    text = str(text or "").strip()
    if not text:
        raise RowError("empty_text", f"empty {what}")
    if len(text) > opts.max_chars:
        raise RowError("too_long", f"{what} has {len(text)} characters, over max_chars {opts.max_chars}")
    return text


def build_speech_pairs(kind: str, rows: list[Row], problems: list[RowProblem], units: UnitSource,
                       templates: Templates, opts: BuildOptions = BuildOptions()) -> tuple[list[dict], BuildReport]:
    """``kind`` "asr" (units -> text) or "tts" (text -> units), one record per usable row."""
    if kind not in ("asr", "tts"):
        raise ValueError(f"speech pair kind must be asr or tts, not {kind!r}")
    report = BuildReport(kind)
    for p in problems:
        report.refuse(p)
    records = []
    for row in rows:
        item = row.item
        try:
            text = _checked_text(item.text, "transcript", opts)
            unit_str = format_units(_checked_units(row, units, opts), opts.unit_format)
            chat = templates.render(row.id, (kind, item.lang), units=unit_str, text=text)
        except RowError as exc:
            report.refuse(RowProblem(row.id, row.source, exc.code, str(exc)))
            continue
        records.append({"id": f"{kind}-{item.lang}-{row.id}", "kind": kind, "lang": item.lang,
                        "source": row.source, **chat})
    report.written = len(records)
    return records, report


def _pair(row: Row, langs: tuple[str, str]) -> dict[str, str]:
    """The two sides of an MT row: columns named by language (``zh``/``en``), or src/tgt + their langs."""
    f = row.fields
    if all(lang in f for lang in langs):
        return {lang: f[lang] for lang in langs}
    if {"src", "tgt"} <= set(f):
        src_lang, tgt_lang = f.get("src_lang"), f.get("tgt_lang")
        if {src_lang, tgt_lang} != set(langs):
            raise RowError("format", f"src_lang/tgt_lang {src_lang!r}/{tgt_lang!r}: expected {langs[0]} and {langs[1]}")
        return {src_lang: f["src"], tgt_lang: f["tgt"]}
    raise RowError("format", f"needs columns {langs[0]} and {langs[1]} (or src, tgt, src_lang, tgt_lang)")


def build_mt(rows: list[Row], problems: list[RowProblem], templates: Templates,
             directions: tuple[tuple[str, str], ...] = (("zh", "en"), ("en", "zh")),
             opts: BuildOptions = BuildOptions()) -> tuple[list[dict], BuildReport]:
    """Text-to-text translation records; each pair gives one record per direction asked for."""
    report = BuildReport("mt")
    for p in problems:
        report.refuse(p)
    records = []
    for row in rows:
        try:
            pair = _pair(row, MT_LANGS)
            texts = {lang: _checked_text(pair[lang], f"{lang} text", opts) for lang in MT_LANGS}
            rendered = [(s, t, templates.render(row.id, ("mt", f"{s}-{t}"), src=texts[s], tgt=texts[t]))
                        for s, t in directions]
        except RowError as exc:
            report.refuse(RowProblem(row.id, row.source, exc.code, str(exc)))
            continue
        for s, t, chat in rendered:
            records.append({"id": f"mt-{s}{t}-{row.id}", "kind": "mt", "lang": t, "source": row.source, **chat})
    report.written = len(records)
    return records, report


def _instruction(f: dict[str, Any]) -> dict[str, Any]:
    """prompt/response (strings or turn lists), alpaca (instruction/input/output) or chat ``messages``."""
    if "prompt" in f and "response" in f:
        return {"prompt": f["prompt"], "response": f["response"]}
    if "instruction" in f and "output" in f:
        prompt = str(f["instruction"]).strip()
        if str(f.get("input") or "").strip():
            prompt = f"{prompt}\n{str(f['input']).strip()}"
        return {"prompt": prompt, "response": f["output"]}
    if isinstance(f.get("messages"), list):
        users = [m.get("content", "") for m in f["messages"] if m.get("role") == "user"]
        bots = [m.get("content", "") for m in f["messages"] if m.get("role") == "assistant"]
        return {"prompt": users, "response": bots}
    raise RowError("format", "needs prompt/response, instruction/output or messages")


def build_instruct(rows: list[Row], problems: list[RowProblem], lang: str,
                   opts: BuildOptions = BuildOptions()) -> tuple[list[dict], BuildReport]:
    """Monolingual text instruction data, kept in the shared chat format."""
    report = BuildReport("instruct")
    for p in problems:
        report.refuse(p)
    records = []
    for row in rows:
        try:
            chat = _instruction(row.fields)
            turns = list(zip(*(chat[k] if isinstance(chat[k], list) else [chat[k]] for k in ("prompt", "response"))))
            if isinstance(chat["prompt"], list) and len(chat["prompt"]) != len(chat["response"]):
                raise RowError("turns", f"{len(chat['prompt'])} user turns, {len(chat['response'])} assistant turns")
            if not turns:
                raise RowError("empty_text", "no turns")
            for user, bot in turns:
                _checked_text(user, "prompt", opts)
                _checked_text(bot, "response", opts)
        except RowError as exc:
            report.refuse(RowProblem(row.id, row.source, exc.code, str(exc)))
            continue
        records.append({"id": f"instruct-{lang}-{row.id}", "kind": "instruct",
                        "lang": str(row.fields.get("lang") or lang), "source": row.source, **chat})
    report.written = len(records)
    return records, report


def write_jsonl(records: list[dict], path: str | Path, report: Any | None = None) -> Path:
    """Write (never append: a rerun replaces the file) the records and, next to them, the report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    tmp.replace(path)
    if report is not None:
        rep = path.with_name(path.name + ".report.json")
        rep.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def record_aligner(out: str | Path, info: dict) -> None:
    """Add which aligner gave the word times to the build report written next to the output."""
    rep = Path(out).with_name(Path(out).name + ".report.json")
    data = json.loads(rep.read_text(encoding="utf-8"))
    data["aligner"] = info
    rep.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
