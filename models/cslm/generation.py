"""The two ways a CSLM adapter turns prompt ids into generated ids, with per-request timing.

Both take a list of prompts (token id arrays), one seed per prompt (models.cslm.options: seed + prompt ids,
so a request draws the same sample whatever its batch) and the call's start time ``t0``: every request of
one call is timed from it (they arrived together; a request that waits for its batch or for a free
connection shows that wait, as a served system would). Both return, per prompt, either
``(ids, events)`` -- ids generated (end tokens dropped), events from models.cslm.streaming -- or the
exception that request failed with, so one bad request never takes its batch down.
- ``LocalBackend``: models.cslm.decode on the loaded transformers model, ``gen_batch_size`` prompts at a
  time, grouped by prompt length;
- ``ServedBackend``: models.cslm.served, ``concurrency`` requests in flight, each streamed and timed.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from models.cslm.decode import DecodeSettings, decode, length_groups
from models.cslm.streaming import UnitTimingStreamer

Result = tuple[list[int], dict[str, Any]] | BaseException
NewStreamer = Callable[[float], UnitTimingStreamer]


class LocalBackend:
    def __init__(self, model, settings: DecodeSettings, batch_size: int, new_streamer: NewStreamer):
        self.model, self.settings, self.batch_size, self.new_streamer = model, settings, batch_size, new_streamer

    def run(self, prompts: Sequence[np.ndarray], seeds: Sequence[int], t0: float) -> list[Result]:
        out: list[Result | None] = [None] * len(prompts)
        for group in length_groups([len(p) for p in prompts], self.batch_size):
            streamers = [self.new_streamer(t0) for _ in group]
            try:
                ids = decode(self.model, [prompts[i] for i in group], self.settings, [seeds[i] for i in group],
                             on_token=lambda row, token, s=streamers: s[row].push(token),
                             on_end=lambda row, s=streamers: s[row].end())
            except Exception as exc:  # noqa: BLE001 -- e.g. out of memory: every request of the group fails
                for i in group:
                    out[i] = exc
                continue
            for row, i in enumerate(group):
                kept = [t for t in ids[row] if t not in self.settings.end_ids]
                out[i] = (kept, {**streamers[row].events, "gen_batch": len(group)})
        return out  # type: ignore[return-value]


class ServedBackend:
    def __init__(self, client, gen, end_ids: set[int], concurrency: int, new_streamer: NewStreamer):
        self.client, self.gen, self.end_ids = client, gen, set(end_ids)
        self.concurrency, self.new_streamer = concurrency, new_streamer

    def _one(self, prompt: np.ndarray, seed: int, t0: float) -> Result:
        box: dict[str, UnitTimingStreamer] = {}

        def attempt(n: int) -> None:  # a retry starts over; the clock keeps running from t0
            box["s"] = self.new_streamer(t0)

        try:
            info = self.client.stream(self.client.body(prompt, seed, self.gen, self.end_ids),
                                      lambda token: box["s"].push(token), attempt)
        except Exception as exc:  # noqa: BLE001 -- ServerError (coded, with its kind) or a bug: this request
            return exc
        streamer = box["s"]
        streamer.end()
        kept = [t for t in streamer.ids if t not in self.end_ids]
        return kept, {**streamer.events, "server_attempts": info["attempts"],
                      "finish_reason": info["finish_reason"]}

    def run(self, prompts: Sequence[np.ndarray], seeds: Sequence[int], t0: float) -> list[Result]:
        if len(prompts) == 1:
            return [self._one(prompts[0], seeds[0], t0)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            return list(pool.map(lambda args: self._one(*args, t0), zip(prompts, seeds)))
