"""The chat format shared by CPT and SFT: ``prompt`` / ``response`` (string or multi-turn list).

A record is rendered with the tokenizer's own chat template (Llama-3.1's in production) and tokenized
once. Two loss masks (``loss_mask``):
- ``assistant`` (this project's default): labels keep only the assistant turns (their text and the
  end-of-turn token), so the loss never trains on user turns, system headers or the assistant header the
  runtime supplies at inference. Assistant spans are found by rendering growing prefixes of the
  conversation, which works for any chat template whose rendering of a prefix is a prefix of the full
  rendering (checked, not assumed).
- ``released`` (ictnlp/CSLM cslm/train/pretrain.py and sft.py, ``train_on_inputs=False``): labels are the
  ids, except each ``[user header, assistant header)`` token span and the first token when it is BOS; so
  the system block, the assistant headers, every ``<|eot_id|>`` after an answer and a second BOS are trained.
Two encodings (``encoding``): ``template`` tokenizes the rendered text as it is (one BOS, from the
template); ``released`` does what the released ``tokenize()`` does: the tokenizer adds its own BOS too
(double BOS), the ids are cut to max_length *before* masking, and EOS is appended when the text does not
end with it and there is room.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import CodedError

IGNORE = -100  # label value the loss skips
LOSS_MASKS = ("assistant", "released")
ENCODINGS = ("template", "released")
# The released rule finds these token sequences (sft.py: convert_tokens_to_ids of the three tokens; for
# Llama-3 the same ids as tokenizing the header text, which is how a tokenizer without a single "user"
# token, like the tiny test tokenizer, finds them too).
USER_HEADER = "<|start_header_id|>user<|end_header_id|>"
ASSISTANT_HEADER = "<|start_header_id|>assistant<|end_header_id|>"


class RecordError(CodedError, ValueError):
    """A record that cannot become a training example; ``code`` is the counted reason."""


def to_messages(record: dict[str, Any]) -> list[dict[str, str]]:
    """``prompt``/``response`` (strings, or equal-length lists for multi-turn) -> chat messages."""
    prompt, response = record.get("prompt"), record.get("response")
    if isinstance(prompt, str) and isinstance(response, str):
        turns = [(prompt, response)]
    elif isinstance(prompt, list) and isinstance(response, list):
        if len(prompt) != len(response) or not prompt:
            raise RecordError("turns", f"multi-turn record has {len(prompt)} prompts and {len(response)} "
                                       f"responses; they must pair up one to one")
        turns = list(zip(prompt, response))
    else:
        raise RecordError("format", "record needs 'prompt' and 'response', both strings or both lists")
    messages = [{"role": "system", "content": record["system"]}] if record.get("system") else []
    for user, assistant in turns:
        if not isinstance(user, str) or not isinstance(assistant, str):
            raise RecordError("format", "every turn must be a string")
        if not assistant.strip():
            raise RecordError("empty", "empty assistant turn")
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return messages


def released_labels(ids: list[int], user_header: list[int], assistant_header: list[int],
                    bos_id: int | None) -> list[int]:
    """Labels as the released pretrain.py / sft.py set them (train_on_inputs=False), on already cut ids.

    Scanning left to right: a user header remembers its position; an assistant header masks everything
    from the last user header up to itself -- unless the header ends the sequence (a truncated example),
    where the scan stops and that user span stays trained, as released. Then the first label goes if
    the first token is BOS."""
    labels = list(ids)
    begin, n = 0, len(ids)
    for i in range(n):
        if ids[i:i + len(assistant_header)] == assistant_header:
            if i + len(assistant_header) >= n:
                break
            labels[begin:i] = [IGNORE] * (i - begin)
        if ids[i:i + len(user_header)] == user_header:
            begin = i
    if n and ids[0] == bos_id:
        labels[0] = IGNORE
    return labels


@dataclass
class ChatEncoder:
    tokenizer: Any                  # a fast tokenizer with a chat template (offsets are needed)
    max_length: int                 # longer examples raise RecordError("too_long") or are truncated
    train_on_inputs: bool = False   # True: every token is a label (plain LM loss), as an ablation
    truncate: bool = False          # False: an over-long example is refused and counted
    loss_mask: str = "assistant"    # "assistant": assistant turns only; "released": the released rule
    encoding: str = "template"      # "template": template tokens only; "released": double BOS, cut, EOS

    def __post_init__(self) -> None:
        if self.loss_mask not in LOSS_MASKS or self.encoding not in ENCODINGS:
            raise ValueError(f"loss_mask={self.loss_mask!r} / encoding={self.encoding!r}: choose loss_mask from "
                             f"{', '.join(LOSS_MASKS)} and encoding from {', '.join(ENCODINGS)}")
        if self.loss_mask == "released" and not self.train_on_inputs:
            tok = self.tokenizer
            vocab = tok.get_vocab()
            missing = [t for t in ("<|start_header_id|>", "<|end_header_id|>") if t not in vocab]
            if missing:
                raise ValueError(f"loss_mask=released finds Llama-3 chat headers, but the tokenizer lacks "
                                 f"{', '.join(missing)}; use loss_mask=assistant")
            self._headers = (tok.encode(USER_HEADER, add_special_tokens=False),
                             tok.encode(ASSISTANT_HEADER, add_special_tokens=False))

    def render(self, messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
        """The full text and the character spans of each assistant turn (content + end of turn)."""
        tmpl = self.tokenizer.apply_chat_template
        full = tmpl(messages, tokenize=False)
        spans = []
        for i, msg in enumerate(messages):
            if msg["role"] != "assistant":
                continue
            head = tmpl(messages[:i], tokenize=False, add_generation_prompt=True)
            upto = tmpl(messages[: i + 1], tokenize=False)
            if not (full.startswith(upto) and upto.startswith(head)):
                raise RecordError("template", "the chat template does not render prefixes as prefixes; "
                                              "cannot locate assistant turns for loss masking")
            spans.append((len(head), len(upto)))
        return full, spans

    def _too_long(self, n: int) -> None:
        if not self.truncate:
            raise RecordError("too_long", f"{n} tokens, over max_length {self.max_length}")

    def encode(self, record: dict[str, Any]) -> dict[str, list[int]]:
        messages = to_messages(record)
        if self.loss_mask == "assistant" and not self.train_on_inputs:
            text, spans = self.render(messages)
        else:  # the spans are not needed
            text, spans = self.tokenizer.apply_chat_template(messages, tokenize=False), []
        released = self.encoding == "released"
        enc = self.tokenizer(text, add_special_tokens=released, return_offsets_mapping=True)
        ids, offsets = list(enc["input_ids"]), enc["offset_mapping"]
        if released:  # released tokenize(): truncation=True, then EOS when missing and there is room
            if len(ids) > self.max_length:
                self._too_long(len(ids))
                ids, offsets = ids[: self.max_length], offsets[: self.max_length]
            eos = self.tokenizer.eos_token_id
            if ids[-1] != eos and len(ids) < self.max_length:
                ids.append(eos)
                offsets = list(offsets) + [(len(text), len(text))]
        if self.train_on_inputs:
            labels = list(ids)
        elif self.loss_mask == "released":
            labels = released_labels(ids, *self._headers, self.tokenizer.bos_token_id)
        else:
            labels = [IGNORE] * len(ids)
            k = 0
            for j, (start, _end) in enumerate(offsets):
                while k < len(spans) and start >= spans[k][1]:
                    k += 1
                if k < len(spans) and spans[k][0] <= start:
                    labels[j] = ids[j]
        if len(ids) > self.max_length:
            self._too_long(len(ids))
            ids, labels = ids[: self.max_length], labels[: self.max_length]
        if all(label == IGNORE for label in labels):
            raise RecordError("no_target", "no token left to train on")
        return {"input_ids": ids, "labels": labels}
