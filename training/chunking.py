"""Words and chunks for interleaved chain-of-modality: cut at punctuation, about N words per chunk.

English words are whitespace tokens (punctuation stays attached). Chinese is written without spaces, so
a "word" there is one character (a run of Latin letters or digits counts as one); the default chunk size
for Chinese is therefore given in characters (12 characters is roughly 7 words).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Sentence and clause punctuation, both scripts; a chunk ends after a word carrying one of these.
PUNCTUATION = set(".,!?;:…") | set("。，！？；：、")
CLOSERS = set("\"')]}»”’」』）】》")  # may follow the punctuation: `"Yes."`, `（对）。`
DEFAULT_CHUNK_SIZE = {"en": 7, "zh": 12}

_ZH_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'.%-]*|\S")
_SPACE_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class ChunkOptions:
    size: int = 7               # cut at the first punctuation once a chunk has at least this many words
    max_size: int | None = None  # cut here even without punctuation (default 2 x size)

    def limit(self) -> int:
        return self.max_size if self.max_size is not None else 2 * self.size

    def min_tail(self) -> int:
        """A last chunk shorter than this (half the size) is merged into the one before it."""
        return max(1, self.size // 2)


def is_cjk(ch: str) -> bool:
    return "CJK" in unicodedata.name(ch, "") or "\u3400" <= ch <= "\u9fff"


def split_words(text: str, lang: str) -> list[tuple[str, int, int]]:
    """(word, start, end) character spans; punctuation is attached to the word before it, so chunking
    can see it, and chunk text is cut from the original string (spacing kept as written)."""
    pattern = _ZH_TOKEN if lang == "zh" else _SPACE_TOKEN
    words: list[tuple[str, int, int]] = []
    for m in pattern.finditer(text):
        tok = m.group()
        if lang == "zh" and words and not (tok[0].isalnum() or is_cjk(tok[0])):
            word, start, _ = words[-1]
            words[-1] = (text[start:m.end()], start, m.end())  # punctuation or symbol joins the previous word
        else:
            words.append((tok, m.start(), m.end()))
    return words


def ends_clause(word: str) -> bool:
    stripped = word.rstrip("".join(CLOSERS))
    return bool(stripped) and stripped[-1] in PUNCTUATION


def chunk_spans(words: list[str], options: ChunkOptions) -> list[tuple[int, int]]:
    """[start, end) word ranges covering ``words`` in order."""
    spans: list[tuple[int, int]] = []
    start = 0
    for i, word in enumerate(words):
        n = i - start + 1
        if (n >= options.size and ends_clause(word)) or n >= options.limit():
            spans.append((start, i + 1))
            start = i + 1
    if start < len(words):
        if spans and len(words) - start < options.min_tail():
            spans[-1] = (spans[-1][0], len(words))  # a short tail joins the chunk before it
        else:
            spans.append((start, len(words)))
    return spans


def span_texts(text: str, words: list[tuple[str, int, int]], spans: list[tuple[int, int]]) -> list[str]:
    """The text of each [start, end) word range, cut so that the pieces concatenate to ``text`` byte for byte:
    a chunk keeps the whitespace BEFORE its first word (the first chunk anything before it, the last chunk
    anything after its last word). Byte-level BPE reads " went" and "went" as different tokens, so a chunk
    written without its leading space teaches the model a spelling the text never uses."""
    cuts = [0] + [words[b - 1][2] for _a, b in spans[:-1]] + [len(text)]
    return [text[lo:hi] for lo, hi in zip(cuts, cuts[1:])]


def chunk_text(text: str, lang: str, options: ChunkOptions | None = None) -> list[str]:
    """Convenience: the chunk strings of ``text`` (concatenated, they are ``text``; see ``span_texts``)."""
    options = options or ChunkOptions(size=DEFAULT_CHUNK_SIZE.get(lang, 7))
    words = split_words(text, lang)
    return span_texts(text, words, chunk_spans([w for w, _, _ in words], options))
