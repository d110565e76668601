"""Multi-turn outputs for ``precomputed``: one dialogue per sample id, one answer per round (round 0 first).

Our layout (``layout=default``, ``responses.jsonl``), either form, never both for one id:
- a row per dialogue: ``{"id": "d1", "turns": [{"text": ..., "audio": ..., "units": [..], "events": {..}}, ...]}``
- a row per round: ``{"id": "d1", "turn": 0, "text": ..., "audio": ...}`` (``turn``: the 0-based round).
A round's wav is its ``audio`` (relative to the folder) or ``wav/<id>/chat_<round>.wav``.

URO-Bench's layout (examples/example-test/inference_multi.py at URO_COMMIT): ``output_with_text.jsonl``, one line
per dialogue ``{"id", "num_round", "dialogue": [{"round", "source_wav", "source_text", "target_text",
"output_text"}]}`` and ``<id>/chat_<round>.wav``. ``layout=uro-bench`` picks it when the folder holds
output_with_text.jsonl and no pred_text.jsonl (or name it: ``layout=uro-bench-multi``).
"""
from __future__ import annotations

from typing import Any

TURN_SEP = "\x00turn "  # a per-round row's key until its rounds are grouped (no manifest id holds a NUL)


def round_key(row: dict[str, Any], id_key: str) -> str:
    """The load-time key of a row: its id, or id + round for a per-round row."""
    if "turn" not in row:
        return str(row[id_key])
    turn = row["turn"]
    if isinstance(turn, bool) or not isinstance(turn, int) or turn < 0:
        raise ValueError(f"field 'turn' is {turn!r}; expected the 0-based round number")
    return f"{row[id_key]}{TURN_SEP}{turn}"


def uro_dialogue(row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(key, {"turns": [...]}) of one output_with_text.jsonl line."""
    dialogue = row["dialogue"]
    if not isinstance(dialogue, list) or not dialogue:
        raise ValueError("field 'dialogue' is not a non-empty list of rounds")
    turns: list[Any] = [None] * len(dialogue)
    for i, turn in enumerate(dialogue):
        rnd = turn.get("round", i)
        if not isinstance(rnd, int) or not 0 <= rnd < len(dialogue) or turns[rnd] is not None:
            raise ValueError(f"dialogue[{i}] has round {rnd!r}; rounds must be 0..{len(dialogue) - 1}, once each")
        turns[rnd] = {"text": turn.get("output_text") or ""}
    return str(row["id"]), {"turns": turns}


def group_rounds(rows: dict[str, dict], problems: dict[str, str]) -> dict[str, dict]:
    """Per-round rows -> one ``{"turns": [...]}`` row per id (a missing round stays None); an id that has both a
    whole-dialogue row and per-round rows, or per-round rows and a plain single answer, becomes a problem."""
    out = {k: v for k, v in rows.items() if TURN_SEP not in k}
    rounds: dict[str, dict[int, dict]] = {}
    for key, row in rows.items():
        if TURN_SEP in key:
            item_id, rnd = key.split(TURN_SEP)
            rounds.setdefault(item_id, {})[int(rnd)] = row
    for item_id, by_round in rounds.items():
        if item_id in out:
            problems[item_id] = "has a whole-dialogue or single-answer row and per-round rows ('turn'); keep one form"
            del out[item_id]
            continue
        out[item_id] = {"turns": [by_round.get(r) for r in range(max(by_round) + 1)]}
    for key in [k for k in problems if TURN_SEP in k]:  # a duplicated round: the dialogue cannot be served
        item_id, rnd = key.split(TURN_SEP)
        problems[item_id] = f"round {rnd}: {problems.pop(key)}"
        out.pop(item_id, None)
    return out
