"""A token-id streamer that stamps when each channel starts, for latency in seconds and in tokens.

TextIteratorStreamer waits for whitespace before releasing text, and unit tokens never carry any, so timing
is taken from token ids directly: a unit is recognised by id arithmetic (UnitVocab), everything else that is
not an end or span marker is text.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from transformers.generation.streamers import BaseStreamer

from models.cslm.units import UnitVocab


class UnitTimingStreamer(BaseStreamer):
    """Stamps (``time.perf_counter()`` seconds since ``t0``) and counts generated tokens.

    - ``first_text_token`` / ``first_unit``: the first generated token of each channel;
    - ``first_chunk_end``: the first speech chunk is complete -- the first non-unit token after units began
      (text, ``<eosp>`` or an end token), or the end of generation if it ends inside the chunk;
    - ``tokens_before_first_unit``: generated tokens before the first unit (the hardware-free latency figure:
      interleaved CoM starts speaking after one text chunk, full CoM after the whole text answer);
    - ``tokens_before_first_chunk_end``: generated tokens up to the first chunk's last unit, inclusive.

    With ``open_audio`` (a vocoder's ``open_stream``, called at the first unit), each speech chunk goes to the
    vocoder the moment it is complete, during generation, as a streaming system renders it; then
    ``first_audio`` is when the first samples came out and ``audio_end`` when the last did, and ``events``
    carries the rendered waveform under ``"stream"`` (a ``StreamedAudio``; the adapter takes it out).
    """

    def __init__(self, vocab: UnitVocab, marker_ids: set[int] = frozenset(), end_ids: set[int] = frozenset(),
                 t0: float | None = None, skip_prompt: bool = True, open_audio: Callable[[], Any] | None = None):
        self.vocab, self.marker_ids, self.end_ids = vocab, set(marker_ids), set(end_ids)
        self.t0 = time.perf_counter() if t0 is None else t0
        self._prompt_pending = skip_prompt
        self.count = 0
        self.ids: list[int] = []
        self.stamps: dict[str, float | None] = {"first_text_token": None, "first_unit": None,
                                                "first_chunk_end": None, "end": None}
        self.counts: dict[str, int | None] = {"tokens_before_first_unit": None,
                                              "tokens_before_first_chunk_end": None, "total_tokens": 0}
        self.audio = StreamedAudio(open_audio) if open_audio is not None else None

    def _now(self) -> float:
        return round(time.perf_counter() - self.t0, 6)

    def put(self, value) -> None:
        if self._prompt_pending:  # generate() first sends the whole prompt
            self._prompt_pending = False
            return
        for token in value.reshape(-1).tolist():  # batch size 1
            self.push(int(token))

    def push(self, token: int) -> None:
        """One generated token (the batched decoder and the served backend call this per row/request)."""
        now = self._now()
        st, ct = self.stamps, self.counts
        is_unit = self.vocab.is_unit_id(token)
        if is_unit and st["first_unit"] is None:
            st["first_unit"], ct["tokens_before_first_unit"] = now, self.count
        elif not is_unit and st["first_unit"] is not None and st["first_chunk_end"] is None:
            st["first_chunk_end"], ct["tokens_before_first_chunk_end"] = now, self.count
        if self.audio is not None:
            if is_unit:
                self.audio.pending.append(int(self.vocab.ids_to_units([token])[0]))
            elif self.audio.pending:  # a speech chunk just ended: render it now
                self.audio.feed(self._now)
        if not is_unit and st["first_text_token"] is None and token not in self.marker_ids | self.end_ids:
            st["first_text_token"] = now
        if token not in self.end_ids:
            self.ids.append(token)
        self.count += 1
        ct["total_tokens"] = self.count

    def end(self) -> None:
        now = self._now()
        if self.stamps["first_unit"] is not None and self.stamps["first_chunk_end"] is None:
            self.stamps["first_chunk_end"] = now
            self.counts["tokens_before_first_chunk_end"] = self.count
        self.stamps["end"] = now
        if self.audio is not None and (self.audio.pending or self.audio.units):
            self.audio.feed(self._now, final=True)

    @property
    def events(self) -> dict[str, Any]:
        out = {**self.stamps, **self.counts}
        if self.audio is not None and self.audio.units:
            out.update(first_audio=self.audio.first_audio, audio_end=self.audio.audio_end, stream=self.audio)
            if self.audio.error:
                out["stream_error"] = self.audio.error
        return out


class StreamedAudio:
    """What a vocoder stream session rendered during generation: the units it got and the samples it gave."""

    def __init__(self, open_audio: Callable[[], Any]):
        self.open_audio = open_audio
        self.session: Any = None
        self.pending: list[int] = []
        self.units: list[int] = []
        self.pieces: list[Any] = []
        self.first_audio: float | None = None
        self.audio_end: float | None = None
        self.error: str | None = None
        self.complete = False

    def feed(self, now: Callable[[], float], final: bool = False) -> None:
        units, self.pending = self.pending, []
        self.units.extend(units)
        if self.error:
            return
        try:
            if self.session is None:
                self.session = self.open_audio()
            pieces = [self.session.push(units)] + ([self.session.finish()] if final else [])
        except Exception as exc:  # noqa: BLE001 -- the whole-sequence render after generation reports it
            self.error = f"{type(exc).__name__}: {exc}"
            return
        for piece in pieces:
            if len(piece):
                self.pieces.append(piece)
                if self.first_audio is None:
                    self.first_audio = now()
        if final:
            self.audio_end, self.complete = now(), True

    @property
    def sample_rate(self) -> int:
        return self.session.sample_rate

    def samples(self):
        import numpy as np

        return np.concatenate(self.pieces) if self.pieces else np.zeros(0, np.float32)
