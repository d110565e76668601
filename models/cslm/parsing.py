"""Split a generation into its text channel and speech channel; never raises on odd output.

What the release tells us: the decode scripts (cslm/infer/decode_general*.py) do not split channels -- they
decode with ``skip_special_tokens=True`` and keep everything after ``This is input: <sosp>``, so units and
``<sosp>``/``<eosp>`` survive as plain added tokens. The SFT targets are interleaved chain-of-modality (text
chunk, unit chunk, text chunk, ...). So this parser accepts units either bare (``text<1><2>text``) or inside
``<sosp>...<eosp>`` spans, and the two layouts:
- ``interleaved``: text and unit chunks alternate freely;
- ``full``: all text, then all units -- text after the first unit chunk is flagged ``units_inside_text``.
Problems become a ``malformed`` reason string (``; ``-joined codes); the channels keep what could be read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from models.cslm.units import SPAN_CLOSE, SPAN_OPEN

# Malformation codes (stable: counted by tasks).
NO_UNITS = "no_units"                      # speech expected, none found
NO_TEXT = "no_text"                        # text expected, none found
UNEXPECTED_UNITS = "unexpected_units"      # units where only text was asked for (ASR)
UNCLOSED_SPAN = "unclosed_span"            # <sosp> never closed
STRAY_CLOSE = "stray_eosp"                 # <eosp> without an open span
NESTED_SPAN = "nested_span"                # <sosp> inside a span
EMPTY_SPAN = "empty_span"                  # <sosp><eosp>
TEXT_IN_SPAN = "text_inside_span"          # words between <sosp> and <eosp>
UNITS_OUTSIDE_SPAN = "units_outside_span"  # spans used, yet some units are bare
UNITS_IN_TEXT = "units_inside_text"        # full CoM: text resumes after units began
OUT_OF_RANGE = "unit_out_of_range"         # <5000> with a 4096-unit codebook (dropped)


QUESTION_TAG, ANSWER_TAG = "[question]", "[answer]"  # released SFT markers before the answer


@dataclass
class ParsedGeneration:
    segments: list[tuple[str, Any]] = field(default_factory=list)  # ("text", str) / ("units", [int])
    problems: list[str] = field(default_factory=list)
    question: str | None = None  # TQ: the model's transcript of the question, when it writes one first

    @property
    def text(self) -> str:
        return join_text([v for k, v in self.segments if k == "text"])

    @property
    def units(self) -> list[int]:
        return [u for k, v in self.segments if k == "units" for u in v]

    @property
    def unit_chunks(self) -> list[list[int]]:
        return [v for k, v in self.segments if k == "units"]

    @property
    def malformed(self) -> str | None:
        return "; ".join(dict.fromkeys(self.problems)) or None


def join_text(chunks: list[str]) -> str:
    """The text channel: the text chunks concatenated as the model wrote them (training keeps the space before a
    chunk, so a model that learnt it writes it). No space is put back: that would hide a model that spells a
    word differently after a unit span."""
    return "".join(chunks).strip()


def parse_generation(raw: str, unit_pattern: str | re.Pattern, n_units: int, chain: str = "interleaved",
                     expect_units: bool = True, expect_text: bool = True,
                     drop: tuple[str, ...] = ()) -> ParsedGeneration:
    """Parse ``raw`` (special tokens kept, eos already cut). ``drop``: strings removed from text (specials)."""
    unit_re = unit_pattern.pattern if isinstance(unit_pattern, re.Pattern) else unit_pattern
    token_re = re.compile(f"({re.escape(SPAN_OPEN)})|({re.escape(SPAN_CLOSE)})|{unit_re}")
    parsed = ParsedGeneration()
    problems = parsed.problems
    # SFT targets (as the released sft.py writes them) start with "[question]TQ[answer]": TQ is the model's
    # transcript of the question, not part of the answer's text channel.
    head = raw.lstrip()
    if head.startswith(QUESTION_TAG) and ANSWER_TAG in head:
        parsed.question, raw = head[len(QUESTION_TAG):].split(ANSWER_TAG, 1)
    in_span = False
    span_units = 0
    used_spans = bare_units = False
    seen_units = False
    pos = 0

    def add_text(piece: str) -> None:
        for s in drop:
            piece = piece.replace(s, "")
        if not piece.strip():
            return
        if in_span:
            problems.append(TEXT_IN_SPAN)
        if chain == "full" and seen_units:
            problems.append(UNITS_IN_TEXT)
        if parsed.segments and parsed.segments[-1][0] == "text":
            parsed.segments[-1] = ("text", parsed.segments[-1][1] + piece)
        else:
            parsed.segments.append(("text", piece))

    for m in token_re.finditer(raw):
        add_text(raw[pos:m.start()])
        pos = m.end()
        if m.group(1):  # <sosp>
            if in_span:
                problems.append(NESTED_SPAN)
            in_span, span_units, used_spans = True, 0, True
            continue
        if m.group(2):  # <eosp>
            if not in_span:
                problems.append(STRAY_CLOSE)
            elif span_units == 0:
                problems.append(EMPTY_SPAN)
            in_span = False
            continue
        unit = int(m.group(3))
        if unit >= n_units:
            problems.append(OUT_OF_RANGE)
            continue
        seen_units = True
        span_units += 1
        bare_units |= not in_span
        if parsed.segments and parsed.segments[-1][0] == "units":
            parsed.segments[-1][1].append(unit)
        else:
            parsed.segments.append(("units", [unit]))
    add_text(raw[pos:])
    if in_span:
        problems.append(UNCLOSED_SPAN)
    if used_spans and bare_units:
        problems.append(UNITS_OUTSIDE_SPAN)
    if expect_units and not seen_units:
        problems.append(NO_UNITS)
    if not expect_units and seen_units:
        problems.append(UNEXPECTED_UNITS)
    if expect_text and not any(k == "text" for k, _ in parsed.segments):
        problems.append(NO_TEXT)
    return parsed
