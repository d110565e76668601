"""What ``respond()`` returns: both channels of a spoken answer, its timing, and what went wrong.

Shared by every model with the ``respond`` capability (S2S conversation and latency tasks read it):
- the conversation task judges ``text`` (text channel) and the transcript of ``audio`` (speech channel);
- the latency task reads ``events``: seconds since the request started and token counts, so interleaved
  and full chain-of-modality outputs compare without hardware (tokens before the first unit / chunk end).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.audio import Audio

# Keys of Response.events. Times: time.perf_counter() seconds since the request started (None: never happened).
TIME_EVENTS = ("first_text_token", "first_unit", "first_chunk_end", "end")
# Token counts over generated tokens (None: the event never happened).
COUNT_EVENTS = ("tokens_before_first_unit", "tokens_before_first_chunk_end", "total_tokens")


@dataclass
class Response:
    text: str                                   # text channel (all text chunks, joined)
    units: list[int] = field(default_factory=list)  # speech channel as the model emitted it (see unit_runs)
    # Run lengths of ``units`` when known (units then are run-merged); None: ``units`` are exactly the stream
    # the model generated and no durations exist (CSLM emits already-merged units and no durations).
    unit_runs: list[int] | None = None
    audio: Audio | None = None                  # waveform from the vocoder; None when none is configured
    events: dict[str, Any] = field(default_factory=dict)  # TIME_EVENTS + COUNT_EVENTS (+ model extras)
    malformed: str | None = None                # None, or "reason; reason" (no_units, unclosed_span, ...)
    raw: str = ""                               # the generated string, special tokens kept, eos cut
    segments: list[tuple[str, Any]] = field(default_factory=list)  # ("text", str) / ("units", [int]) in order

    def to_dict(self, with_audio: bool = False) -> dict[str, Any]:
        """JSON-ready record (audio summarised unless asked for: callers write the wav themselves)."""
        out = {"text": self.text, "units": list(self.units), "unit_runs": self.unit_runs,
               "events": dict(self.events), "malformed": self.malformed, "raw": self.raw,
               "segments": [[kind, value] for kind, value in self.segments]}
        if self.audio is not None:
            out["audio"] = ({"samples": self.audio.samples.tolist(), "sample_rate": self.audio.sample_rate}
                            if with_audio else {"sample_rate": self.audio.sample_rate,
                                                "seconds": round(self.audio.seconds, 4)})
        else:
            out["audio"] = None
        return out


@dataclass(frozen=True)
class Turn:
    """One earlier round of a conversation, as ``respond(..., history=[Turn, ...])`` hands it to a model that
    declares ``"history"`` in ``wants``: the user's audio of that round (mono float32 at the model's
    ``input_sample_rate``) and the model's OWN answer to it, as its respond() returned it. A reference answer
    never goes here: a dialogue is the model talking to the dataset's user, not to a script."""
    audio: Any                                  # np.ndarray, the user's speech of that round
    response: Response                          # the model's own answer in that round
