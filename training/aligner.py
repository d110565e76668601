"""CTC forced alignment: word start/end times from a CTC model's frame log-probabilities.

The alignment is the single best CTC path that spells the given token sequence (Viterbi over the
usual 2L+1 blank-interleaved states), i.e. pi* = argmax_pi prod_t P(pi_t | h_t) restricted to paths
that collapse to the transcript. In production the log-probabilities come from a transformers CTC model
(``Wav2Vec2ForCTC`` and friends, see ``CTCEmissionModel``); tests feed synthetic emissions.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np


class AlignmentError(ValueError):
    """The transcript cannot be aligned to the audio (too many tokens for the frames, nothing alignable)."""


@dataclass(frozen=True)
class TokenSpan:
    start: int  # first frame of the token (inclusive)
    end: int    # last frame + 1 (exclusive)


@dataclass(frozen=True)
class WordTime:
    word: str
    start: float  # seconds
    end: float    # seconds


def viterbi_align(log_probs: np.ndarray, targets: Sequence[int], blank: int = 0) -> list[TokenSpan]:
    """Best CTC path for ``targets`` through ``log_probs`` (T, V); one frame span per target token."""
    lp = np.asarray(log_probs, dtype=np.float64)
    n_frames, n_targets = lp.shape[0], len(targets)
    if n_targets == 0:
        raise AlignmentError("nothing to align: the transcript has no token the CTC vocabulary knows")
    tgt = np.asarray(targets, dtype=np.int64)
    repeats = int(np.sum(tgt[1:] == tgt[:-1]))
    if n_frames < n_targets + repeats:  # a repeated token needs a blank frame between its two copies
        raise AlignmentError(f"{n_targets} tokens ({repeats} repeats) cannot fit in {n_frames} frames")
    # State s: even = blank, odd = targets[(s - 1) // 2].
    n_states = 2 * n_targets + 1
    labels = np.full(n_states, blank, dtype=np.int64)
    labels[1::2] = tgt
    # A skip s-2 -> s is allowed into a token state whose token differs from the one two states back.
    can_skip = np.zeros(n_states, dtype=bool)
    can_skip[3::2] = tgt[1:] != tgt[:-1]
    neg = -np.inf
    score = np.full(n_states, neg)
    score[0] = lp[0, blank]
    score[1] = lp[0, tgt[0]]
    back = np.zeros((n_frames, n_states), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, n_frames):
        from1 = np.concatenate(([neg], score[:-1]))
        from2 = np.where(can_skip, np.concatenate(([neg, neg], score[:-2])), neg)
        cand = np.stack([score, from1, from2])
        choice = np.argmax(cand, axis=0)
        score = cand[choice, np.arange(n_states)] + lp[t, labels]
        back[t] = choice
    # A valid path ends in the last token or the trailing blank.
    state = n_states - 1 if score[-1] >= score[-2] else n_states - 2
    if not np.isfinite(score[state]):
        raise AlignmentError("no CTC path spells the transcript within the audio")
    path = np.empty(n_frames, dtype=np.int64)
    for t in range(n_frames - 1, -1, -1):
        path[t] = state
        state -= int(back[t, state])
    spans: list[TokenSpan] = []
    for k in range(n_targets):
        frames = np.flatnonzero(path == 2 * k + 1)
        spans.append(TokenSpan(int(frames[0]), int(frames[-1]) + 1))
    return spans


def word_times(words: Sequence[str], word_tokens: Sequence[Sequence[int]], log_probs: np.ndarray,
               frame_seconds: float, blank: int = 0, separator: int | None = None) -> list[WordTime]:
    """Align words given as CTC token lists; a word with no known token gets the gap between neighbours.

    ``separator`` (e.g. wav2vec2's ``|``) is put between words in the target, as the model emits it,
    but belongs to no word.
    """
    targets: list[int] = []
    owner: list[int] = []  # word index of each target token (-1 for separators)
    for w, toks in enumerate(word_tokens):
        if separator is not None and targets and toks:
            targets.append(separator)
            owner.append(-1)
        targets.extend(toks)
        owner.extend([w] * len(toks))
    spans = viterbi_align(log_probs, targets, blank)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for span, w in zip(spans, owner):
        if w >= 0:
            first.setdefault(w, span.start)
            last[w] = span.end
    n_frames = log_probs.shape[0]
    starts = [first.get(w) for w in range(len(words))]
    ends = [last.get(w) for w in range(len(words))]
    # Unalignable words (digits with a letters-only vocabulary, symbols): span the gap between neighbours.
    for w in range(len(words)):
        if starts[w] is None:
            prev_end = next((ends[j] for j in range(w - 1, -1, -1) if ends[j] is not None), 0)
            next_start = next((starts[j] for j in range(w + 1, len(words)) if starts[j] is not None), n_frames)
            starts[w], ends[w] = prev_end, max(prev_end, next_start)
    return [WordTime(word, s * frame_seconds, e * frame_seconds) for word, s, e in zip(words, starts, ends)]


class CTCEmissionModel:
    """A transformers CTC model (e.g. ``Wav2Vec2ForCTC``) from a local folder or a Hub id.

    Loaded with the Auto classes and without ``trust_remote_code``; the blank is the tokenizer's pad
    token (the wav2vec2 convention) and ``|`` the word delimiter when the vocabulary has one.
    """

    def __init__(self, path: str, device: str = "cpu"):
        import torch
        from transformers import AutoFeatureExtractor, AutoModelForCTC, AutoTokenizer

        self.model = AutoModelForCTC.from_pretrained(path).to(device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.features = AutoFeatureExtractor.from_pretrained(path)
        self.device = device
        self.sample_rate = int(self.features.sampling_rate)
        self.vocab = self.tokenizer.get_vocab()
        self.blank = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        delim = getattr(self.tokenizer, "word_delimiter_token", None) or "|"
        self.separator = self.vocab.get(delim)
        # Letters-only English vocabularies are upper-case (wav2vec2-base-960h); follow the vocabulary.
        letters = [t for t in self.vocab if len(t) == 1 and t.isalpha() and t.isascii()]
        self.upper = bool(letters) and all(t.isupper() for t in letters)
        self._torch = torch

    def word_tokens(self, word: str) -> list[int]:
        text = word.upper() if self.upper else word.lower()
        return [self.vocab[c] for c in text if c in self.vocab and self.vocab[c] not in (self.blank, self.separator)]

    def log_probs(self, samples: np.ndarray) -> tuple[np.ndarray, float]:
        """(T, V) log-probabilities and the seconds one frame covers."""
        torch = self._torch
        inputs = self.features(samples, sampling_rate=self.sample_rate, return_tensors="pt")
        with torch.no_grad():
            logits = self.model(inputs.input_values.to(self.device)).logits[0]
        lp = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
        return lp, len(samples) / self.sample_rate / lp.shape[0]

    def align(self, samples: np.ndarray, words: Sequence[str]) -> list[WordTime]:
        """Word times for ``words`` spoken in ``samples`` (float32 mono at ``self.sample_rate``)."""
        lp, frame_seconds = self.log_probs(samples)
        return word_times(words, [self.word_tokens(w) for w in words], lp, frame_seconds,
                          blank=self.blank, separator=self.separator)


def read_word_times(path: str | Path) -> dict[str, list[WordTime]]:
    """A word-times file (JSONL: {"id": ..., "words": [[word, start, end], ...]}) by id."""
    import json

    times = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            times[str(rec["id"])] = [WordTime(w, float(s), float(e)) for w, s, e in rec["words"]]
    return times
