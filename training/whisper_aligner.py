"""Word times from Whisper's own word timestamps, mapped onto the given transcript's words.

The second aligner behind ``CTCEmissionModel.align``'s interface (``align(samples, words) -> [WordTime]``),
for machines where no CTC model installs (offline here): faster-whisper with ``word_timestamps=True`` on a
bundled model (``whisper-tiny.en-bundled`` for English, ``whisper-base-bundled`` for Chinese by default)
recognises the audio; the recognised words rarely differ much from the transcript, but they may, so:

Mapping rule (``map_words``):
1. Units. English: the words as given / as recognised. Chinese: one unit per character (the SFT builder's
   Chinese words, ``training.chunking.split_words``); a recognised token of k characters is split into k
   equal slices of its time span.
2. Keys. Lower-cased, punctuation removed (apostrophes inside a word kept), Chinese converted to simplified.
3. Alignment. Levenshtein alignment of the two key sequences (match 0; substitution, insertion, deletion 1;
   ties prefer the diagonal). A transcript word paired with a recognised unit (match or substitution) takes
   that unit's start and end; recognised units with no partner are dropped.
4. Interpolation. A run of k transcript words with no partner shares the gap between the previous paired
   word's end (0 at the start) and the next paired word's start (the audio's end at the end) in k equal parts.
5. Monotonic, inside the audio: starts never decrease, each end >= its start, all clipped to [0, duration].
Audio in which Whisper recognises nothing raises ``AlignmentError`` (the SFT builder refuses that row).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Sequence

import numpy as np

from training.aligner import AlignmentError, WordTime
from training.chunking import is_cjk

SAMPLE_RATE = 16000
DEFAULT_MODELS = {"en": "whisper-tiny.en-bundled", "zh": "whisper-base-bundled"}
_ZH_UNIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9'.%-]*|\S")


def word_key(word: str, lang: str) -> str:
    """What two spellings of one word share: lower case, no punctuation, simplified Chinese."""
    kept = "".join(c for c in word if not unicodedata.category(c).startswith("P") or c == "'")
    kept = kept.strip("'").strip().lower()
    if lang == "zh" and kept:
        import zhconv

        kept = zhconv.convert(kept, "zh-cn")
    return kept


def zh_units(recognised: Sequence[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """Whisper's Chinese tokens as characters (Latin/digit runs stay whole), each with an equal time slice."""
    out = []
    for word, start, end in recognised:
        pieces = [p for p in _ZH_UNIT.findall(word) if word_key(p, "zh")]
        k = len(pieces)
        out.extend((p, start + (end - start) * i / k, start + (end - start) * (i + 1) / k) for i, p in enumerate(pieces))
    return out


def edit_pairs(ref: Sequence[str], hyp: Sequence[str]) -> list[int | None]:
    """For each ``ref`` item, the index of its partner in ``hyp`` (match or substitution) or None."""
    n, m = len(ref), len(hyp)
    cost = np.zeros((n + 1, m + 1), dtype=np.int64)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]), cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    pairs: list[int | None] = [None] * n
    i, j = n, m
    while i > 0 and j > 0:
        if cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            pairs[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs


def map_words(words: Sequence[str], recognised: Sequence[tuple[str, float, float]], duration: float,
              lang: str) -> list[WordTime]:
    """The mapping rule of the module docstring: transcript ``words`` get times from ``recognised``."""
    units = zh_units(recognised) if lang == "zh" else [(w, s, e) for w, s, e in recognised if word_key(w, lang)]
    if not units:
        raise AlignmentError("Whisper recognised no words in the audio")
    pairs = edit_pairs([word_key(w, lang) for w in words], [word_key(u, lang) for u, _, _ in units])
    starts: list[float | None] = [units[p][1] if p is not None else None for p in pairs]
    ends: list[float | None] = [units[p][2] if p is not None else None for p in pairs]
    i = 0
    while i < len(words):
        if starts[i] is not None:
            i += 1
            continue
        j = i
        while j < len(words) and starts[j] is None:
            j += 1
        left = ends[i - 1] if i > 0 else 0.0
        right = starts[j] if j < len(words) else duration
        right = max(left, right)
        step = (right - left) / (j - i)
        for k in range(i, j):
            starts[k], ends[k] = left + (k - i) * step, left + (k - i + 1) * step
        i = j
    out: list[WordTime] = []
    floor = 0.0
    for word, s, e in zip(words, starts, ends):
        s = min(max(float(s), floor, 0.0), duration)
        e = min(max(float(e), s), duration)
        out.append(WordTime(word, s, e))
        floor = s
    return out


TOKENS_PER_WORD, TOKENS_SLACK = 4, 8  # decoding budget per alignment: a word or Chinese character is 1-3 tokens
WINDOW_S, GAP_S = 24.0, 0.6           # align_many: recordings per Whisper window (< its 30 s) and the pause between


class WhisperWordAligner:
    """``align(samples, words)`` like ``CTCEmissionModel``; the language is Chinese when a word has a CJK
    character, else English. ``models`` maps language -> registered Whisper model (faster-whisper backend)."""

    def __init__(self, models: dict[str, str] | None = None):
        self.models = dict(DEFAULT_MODELS if models is None else models)
        self._loaded: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        return {"kind": "whisper-word-timestamps", "models": dict(self.models),
                "decoding": f"greedy, at most {TOKENS_PER_WORD} tokens per expected word + {TOKENS_SLACK}",
                "rule": "levenshtein map of normalized words; unmatched words interpolated (training/whisper_aligner.py)"}

    def _model(self, lang: str):
        if lang not in self.models:
            raise AlignmentError(f"no Whisper aligner model for language {lang!r} (have: {', '.join(self.models)})")
        if lang not in self._loaded:
            import models  # noqa: F401 -- registers the model names
            from harness.registry import MODELS

            name = self.models[lang]
            # greedy and one thread: the words are known, only their times are wanted (beam 5 and a decoder
            # looping on espeak-ng Mandarin took ~9 s per answer beside a training run)
            model = MODELS.get(name)(name, beam_size=1, cpu_threads=1)
            if not hasattr(model, "transcribe_words"):
                raise ValueError(f"aligner model {name} has no word timestamps (use a faster-whisper model)")
            self._loaded[lang] = model
        return self._loaded[lang]

    def recognise(self, samples: np.ndarray, lang: str, expected_words: int | None = None) -> list[tuple[str, float, float]]:
        bound = TOKENS_PER_WORD * expected_words + TOKENS_SLACK if expected_words else None
        return self._model(lang).transcribe_words(np.asarray(samples, dtype=np.float32), lang, max_new_tokens=bound)

    def align(self, samples: np.ndarray, words: Sequence[str]) -> list[WordTime]:
        """Word times for ``words`` spoken in ``samples`` (float32 mono, 16 kHz)."""
        lang = _lang(words)
        return map_words(words, self.recognise(samples, lang, len(words)), len(samples) / SAMPLE_RATE, lang)

    def align_many(self, items: Sequence[tuple[np.ndarray, Sequence[str]]],
                   window_s: float = WINDOW_S) -> list[list[WordTime] | AlignmentError]:
        """``align`` for many short recordings: consecutive recordings of one language share one Whisper window
        (joined with GAP_S of silence, up to ``window_s`` seconds), since Whisper encodes 30 s whatever the
        audio's length; each recording takes the recognised words whose middle falls inside it (times made
        relative to it), then the mapping rule. Results in input order; a recording that cannot be aligned
        gets its AlignmentError instead of stopping the others."""
        out: list[list[WordTime] | AlignmentError] = [AlignmentError("not aligned")] * len(items)
        gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.float32)
        batch: list[int] = []

        def flush() -> None:
            if not batch:
                return
            lang = _lang(items[batch[0]][1])
            pieces, spans, t = [], [], 0.0
            for i in batch:
                audio = np.asarray(items[i][0], dtype=np.float32)
                spans.append((t, t + len(audio) / SAMPLE_RATE))
                pieces += [audio, gap]
                t += (len(audio) + len(gap)) / SAMPLE_RATE
            recognised = self.recognise(np.concatenate(pieces), lang, sum(len(items[i][1]) for i in batch))
            for i, (start, end) in zip(batch, spans):
                mine = [(w, max(0.0, s - start), min(end, e) - start) for w, s, e in recognised
                        if start <= (s + e) / 2 < end]
                try:
                    out[i] = map_words(items[i][1], mine, end - start, lang)
                except AlignmentError as exc:
                    out[i] = exc
            batch.clear()

        length = 0.0
        for i, (audio, words) in enumerate(items):
            seconds = len(audio) / SAMPLE_RATE + GAP_S
            if batch and (_lang(words) != _lang(items[batch[0]][1]) or length + seconds > window_s):
                flush()
                length = 0.0
            batch.append(i)
            length += seconds
        flush()
        return out


def _lang(words: Sequence[str]) -> str:
    return "zh" if any(is_cjk(c) for w in words for c in w) else "en"


def parse_models(spec: str) -> dict[str, str] | None:
    """``whisper`` -> the defaults; ``whisper:NAME`` -> NAME for every language; ``whisper:en=A,zh=B``."""
    _, _, rest = spec.partition(":")
    if not rest:
        return None
    if "=" not in rest:
        return {"en": rest, "zh": rest}
    out = {}
    for item in rest.split(","):
        lang, sep, name = item.partition("=")
        if not sep or not lang or not name:
            raise ValueError(f"aligner {spec!r}: write whisper, whisper:MODEL or whisper:en=MODEL,zh=MODEL")
        out[lang.strip()] = name.strip()
    return out
