"""Multi-turn CSLM prompts: earlier rounds as the released SFT data writes a multi-turn record.

The SFT data (training/chat.py, training/sft_data.py) takes ``prompt`` / ``response`` as equal-length lists of
turns, rendered with the checkpoint's chat template as user, assistant, user, assistant, ... So round k's prompt
is the chat [user_1, assistant_1, ..., user_k] in the checkpoint's prompt mode (models.cslm.prompts), where
- user_i is the decoding prompt over round i's question units (``<sosp><1><2>...<eosp>``, repeats merged as in
  round 1: the same user turn round i would have had alone);
- assistant_i is the model's OWN answer of round i, re-rendered from its generation the way the SFT target is
  written: ``[question]TQ[answer]`` when the model wrote its transcript first, then each text chunk followed by
  its units as ``<sosp>units<eosp>`` (interleaved), or all text then ``<sosp>all units<eosp>`` (full chain,
  the text stripped as training strips it). Specials and anything after ``<eoa>`` are gone (the parser's view).
"""
from __future__ import annotations

from typing import Any

from models.cslm.parsing import ANSWER_TAG, QUESTION_TAG
from models.cslm.units import SPAN_CLOSE, SPAN_OPEN, UnitVocab


def assistant_turn(question: str | None, segments: list[tuple[str, Any]], vocab: UnitVocab, chain: str) -> str:
    """One answer as an SFT assistant turn (training.sft_data.render_response's layout)."""
    head = f"{QUESTION_TAG}{question}{ANSWER_TAG}" if question is not None else ""

    def span(units) -> str:
        return f"{SPAN_OPEN}{vocab.format_units(units)}{SPAN_CLOSE}"

    if chain == "full":
        text = "".join(v for k, v in segments if k == "text").strip()
        units = [u for k, v in segments if k == "units" for u in v]
        return head + text + (span(units) if units else "")
    return head + "".join(v if k == "text" else span(v) for k, v in segments)
