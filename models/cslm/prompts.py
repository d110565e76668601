"""Prompts as data: one table (prompts.yaml), one template mechanism, two chat-template modes.

``released`` reproduces ictnlp/CSLM cslm/infer/decode_general*.py byte for byte, quirks included:
- the chat is ``[user turn, assistant ""]`` rendered WITHOUT a generation prompt, then a trailing
  ``<|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\n`` is cut if present. With Llama-3.1's
  template the empty assistant turn renders as ``...assistant<|end_header_id|>\\n\\n<|eot_id|>``, so the cut
  never fires and the prompt ends with a closed, empty assistant turn;
- the string is tokenized with ``add_special_tokens=True``, so a tokenizer that prepends ``<|begin_of_text|>``
  (Llama-3's does) yields two BOS tokens, since the template already starts with one.
``generation-prompt`` is the standard form: ``[user turn]`` + ``add_generation_prompt=True``, tokenized
without adding special tokens.

Token ids are built without tokenizing units: the rendered chat is split around the units, the two text parts
are tokenized once per (task, language, instruction, mode) and cached, and the units map by arithmetic.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from harness.model import ModelConfigError
from models.cslm.units import UnitVocab

log = logging.getLogger(__name__)
PROMPTS_FILE = Path(__file__).with_name("prompts.yaml")
RELEASED_CUT = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
_SENTINEL = "\ue000CSLM-UNITS\ue000"  # private-use characters: never in a prompt, untouched by `trim`


def load_prompt_table(override: str | Path | None = None) -> dict[str, dict[str, dict[str, str]]]:
    import yaml

    table = yaml.safe_load(PROMPTS_FILE.read_text(encoding="utf-8"))
    if override:
        path = Path(override)
        if not path.is_file():
            raise ModelConfigError(f"prompts={override}: no such file")
        extra = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for task, langs in extra.items():
            for lang, entry in (langs or {}).items():
                table.setdefault(task, {}).setdefault(lang, {}).update(entry)
    for task, langs in table.items():
        for lang, entry in langs.items():
            if "template" not in entry:
                raise ModelConfigError(f"prompt {task}.{lang} has no 'template'")
    return table


class Prompt:
    """Token ids (int64) of one prompt; ``text`` -- the full string, as the released scripts pass it to the
    tokenizer -- is only assembled when asked for, so the hot path never formats units as strings."""
    __slots__ = ("_parts", "_text", "ids", "truncated")

    def __init__(self, ids: np.ndarray, truncated: bool = False, text: str | None = None, parts: tuple = ()):
        self.ids, self.truncated, self._text, self._parts = ids, truncated, text, parts

    @property
    def text(self) -> str:
        if self._text is None:
            head, vocab, units, tail = self._parts
            self._text = head + vocab.format_units(units) + tail
        return self._text


class PromptBuilder:
    def __init__(self, tokenizer, vocab: UnitVocab, table: dict, mode: str = "released",
                 max_input_tokens: int | None = None):
        self.tokenizer, self.vocab, self.table, self.mode = tokenizer, vocab, table, mode
        self.max_input_tokens = max_input_tokens
        self._parts: dict[tuple, tuple[str, str, np.ndarray, np.ndarray]] = {}
        self.fast = True  # cleared by self_check() if split tokenization would differ from the whole string

    # -- strings ---------------------------------------------------------------------------------------
    def user_turn(self, task: str, lang: str, units_text: str = "", text: str = "",
                  instruction: str | None = None) -> str:
        try:
            entry = self.table[task][lang]
        except KeyError:
            raise ModelConfigError(f"no CSLM prompt for task {task!r} in language {lang!r}; add one with "
                                   f"--model-arg prompts=FILE.yaml") from None
        inst = entry.get("instruction", "") if instruction is None else instruction
        return entry["template"].replace("{instruction}", inst).replace("{units}", units_text).replace("{text}", text)

    def render(self, user_turn: str, history: tuple[tuple[str, str], ...] = ()) -> str:
        """The chat-template string for one user turn, in this builder's mode; ``history``: earlier (user,
        assistant) turns before it (a multi-turn record's lists, as the SFT data renders them)."""
        messages = [{"role": role, "content": content} for user, assistant in history
                    for role, content in (("user", user), ("assistant", assistant))]
        messages.append({"role": "user", "content": user_turn})
        if self.mode == "released":
            messages.append({"role": "assistant", "content": ""})
            out = self.tokenizer.apply_chat_template(messages, tokenize=False)
            return out.removesuffix(RELEASED_CUT)
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def encode_text(self, text: str, first: bool = True) -> np.ndarray:
        """Tokenize (a part of) a rendered prompt; only the first part may get the tokenizer's BOS."""
        add = self.mode == "released" and first
        return np.asarray(self.tokenizer(text, add_special_tokens=add)["input_ids"], dtype=np.int64)

    # -- prompts ---------------------------------------------------------------------------------------
    def _split(self, task: str, lang: str, instruction: str | None):
        key = (task, lang, instruction)
        if key not in self._parts:
            full = self.render(self.user_turn(task, lang, _SENTINEL, instruction=instruction))
            if full.count(_SENTINEL) != 1:
                raise ModelConfigError(f"prompt {task}.{lang} must contain {{units}} exactly once")
            head, tail = full.split(_SENTINEL)
            self._parts[key] = (head, tail, self.encode_text(head), self.encode_text(tail, first=False))
        return self._parts[key]

    def units_prompt(self, task: str, lang: str, units, instruction: str | None = None) -> Prompt:
        head, tail, head_ids, tail_ids = self._split(task, lang, instruction)
        parts = (head, self.vocab, units, tail)
        if self.fast and len(units):
            return self._cut(np.concatenate((head_ids, self.vocab.units_to_ids(units), tail_ids)), parts=parts)
        # No units (<sosp><eosp> may merge differently) or a tokenizer that failed the self-check: strings.
        text = head + self.vocab.format_units(units) + tail
        return self._cut(self.encode_text(text), text=text)

    def dialogue_prompt(self, task: str, lang: str, history: list[tuple[list[int], str]], units,
                        instruction: str | None = None) -> Prompt:
        """Round k of a conversation (models.cslm.dialogue): ``history`` holds each earlier round's question
        units and the model's own answer as an SFT assistant turn. Tokenized as one string, as the released
        scripts tokenize a prompt (the split fast path covers the single-turn prompt only)."""
        if not history:
            return self.units_prompt(task, lang, units, instruction)
        turns = tuple((self.user_turn(task, lang, self.vocab.format_units(q), instruction=instruction), answer)
                      for q, answer in history)
        full = self.render(self.user_turn(task, lang, self.vocab.format_units(units), instruction=instruction), turns)
        return self._cut(self.encode_text(full), text=full)

    def text_prompt(self, task: str, lang: str, text: str, instruction: str | None = None) -> Prompt:
        full = self.render(self.user_turn(task, lang, text=text, instruction=instruction))
        return self._cut(self.encode_text(full), text=full)

    def _cut(self, ids: np.ndarray, text: str | None = None, parts: tuple = ()) -> Prompt:
        if self.max_input_tokens and len(ids) > self.max_input_tokens:
            # Released behaviour: input_ids[:, :max_len_input] with a warning (the prompt's end is lost).
            log.warning("prompt of %d tokens cut to %d (max_input_tokens)", len(ids), self.max_input_tokens)
            return Prompt(ids[: self.max_input_tokens], True, text, parts)
        return Prompt(ids, False, text, parts)

    def self_check(self, task: str = "general", lang: str | None = None) -> bool:
        """Compare split-and-map ids with tokenizing the whole string once; fall back to the slow path if not."""
        lang = lang or min(self.table.get(task, {"en": 0}))
        units = [0, 1, self.vocab.n_units - 1, 7, 7]
        head, tail, head_ids, tail_ids = self._split(task, lang, None)
        fast = np.concatenate((head_ids, self.vocab.units_to_ids(units), tail_ids))
        slow = self.encode_text(head + self.vocab.format_units(units) + tail)
        self.fast = bool(np.array_equal(fast, slow))
        if not self.fast:
            log.warning("this tokenizer merges unit tokens with their neighbours; prompts use string tokenization")
        return self.fast

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "table": self.table, "fast_unit_ids": self.fast}
