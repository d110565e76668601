"""The codec's duration model: run-merged units -> how many 25 Hz frames each run lasts (>= 1).

A speech LM is trained on run-merged units (consecutive repeats collapsed) and generates them; the codec
vocoder was trained on un-merged units (one per 40 ms). Rendering a merged sequence one frame per run drops
about a fifth of the frames and the timing with them (held-out English resynthesis, tiny.en: 14.3 % -> 79 % WER),
so the runs are expanded first by the lengths this model predicts (14.7 %; CosyVoice's decoder restores
durations alike).

Net (``DurationNet``): unit embedding (+ one boundary id, ``codes``, padding both ends of an utterance) -> one
convolution over runs ``[i - first_left, i + lookahead]`` -> causal residual convolutions (kernel 3, dilations)
-> a class over 1..``max_frames`` frames. Every convolution is unpadded ('valid'), so run ``i``'s prediction is
a function of exactly the runs ``[i - left_context, i + lookahead]`` (boundary ids past the utterance's ends).

Decoding (``rounding``), from the predicted distribution over 1..max_frames (probabilities quantized to 1/1024
so that float noise cannot flip a decision):
- ``quantile:Q``: the smallest length whose cumulative probability reaches Q -- the Bayes choice when a frame
  too few costs Q/(1-Q) times a frame too many. A run rendered too short hurts intelligibility far more than one
  too long (tiny.en on the held-out sentences with true runs: 15 % WER; every repeated run one frame short: 34 %;
  random runs a frame off either way: 17-18 %), hence a high Q; codec_full.yaml's 0.8 was chosen by WER on the
  codec's own validation utterances (expected length: 44 %, 0.8: 39 %, true runs: 36 %);
- ``carry``: error diffusion of the expected length, left to right -- ``d_i = max(1, round(e_i + carry))``,
  ``carry += e_i - d_i`` -- keeps the utterance's total length at the expected one (depends on the past only);
- ``round``: ``max(1, round(e_i))`` per run; ``argmax``: the most likely length.

Streaming (``DurationStream``): run ``i``'s length is decided once ``lookahead`` more runs have arrived (or
the stream has ended: boundary ids then stand in for them, as in the whole-utterance pass). The decided runs
are final; the expanded frames then wait for the vocoder's own ``context_units`` (models.codec.vocoder). So the
frames of a stream equal the whole-utterance pass's: total look-ahead = ``lookahead`` runs + ``context_units``
frames.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Iterable

import numpy as np

ROUNDINGS = ("quantile:Q", "carry", "round", "argmax")  # Q in (0, 1)
QUANTUM = 1024  # predicted probabilities are rounded to 1/QUANTUM before decoding


def check_rounding(spec: str) -> str:
    """``spec`` if it names a decoding rule (ROUNDINGS), else ValueError naming the choices."""
    kind, sep, arg = str(spec).partition(":")
    ok = kind in ("carry", "round", "argmax") and not sep
    if kind == "quantile" and sep:
        try:
            ok = 0.0 < float(arg) < 1.0
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(f"rounding {spec!r}: choose one of {', '.join(ROUNDINGS)}")
    return spec


@dataclass(frozen=True)
class DurationConfig:
    codes: int = 1024                     # unit vocabulary; id ``codes`` is the utterance-boundary pad
    dim: int = 128                        # channels
    first_left: int = 2                   # runs before run i seen by the first convolution
    lookahead: int = 2                    # runs after run i seen (the model's whole right context)
    dilations: tuple[int, ...] = (1, 2, 4)  # causal residual blocks (kernel 3): each adds 2 x dilation left runs
    max_frames: int = 8                   # classes 1..max_frames (longer runs train as max_frames)
    unit_features: str = "centroids"      # a unit's input vector: "learned" (an embedding per unit) or
                                          # "centroids" (its k-means centroid, frozen, projected: similar units
                                          # start alike, and a unit seen rarely borrows from its neighbours)
    feature_dim: int = 512                # width of the centroids (unit_features "centroids")

    def to_dict(self) -> dict:
        return {**asdict(self), "dilations": list(self.dilations)}

    @classmethod
    def from_dict(cls, data: dict) -> "DurationConfig":
        return cls(**{**data, "dilations": tuple(data["dilations"])})

    @property
    def left_context(self) -> int:
        """Runs before run i that its prediction depends on."""
        return self.first_left + sum(2 * d for d in self.dilations)

    @property
    def boundary(self) -> int:
        return self.codes


@lru_cache(maxsize=None)
def _net_class():
    import torch
    from torch import nn

    class CausalBlock(nn.Module):
        def __init__(self, dim: int, dilation: int):
            super().__init__()
            self.trim = 2 * dilation
            self.norm = nn.LayerNorm(dim)
            self.conv = nn.Conv1d(dim, dim, 3, dilation=dilation)  # valid: output t sees inputs t..t+2d
            self.mix = nn.Conv1d(dim, dim, 1)

        def forward(self, x):  # (B, C, T) -> (B, C, T - 2d); output t is input t + 2d's position
            h = self.norm(x.transpose(1, 2)).transpose(1, 2)
            return x[:, :, self.trim:] + self.mix(torch.nn.functional.gelu(self.conv(h)))

    class DurationNet(nn.Module):
        """(B, T + left_context + lookahead) padded unit ids -> (B, T, max_frames) logits over 1..max_frames."""

        def __init__(self, cfg: DurationConfig):
            super().__init__()
            self.cfg = cfg
            if cfg.unit_features == "centroids":  # frozen centroid rows (set by the trainer, kept in the weights)
                self.embed = nn.Embedding(cfg.codes + 1, cfg.feature_dim)
                self.embed.weight.requires_grad_(False)
                self.project = nn.Linear(cfg.feature_dim, cfg.dim)
                self.edge = nn.Embedding(2, cfg.dim)  # 1 at the utterance-boundary id
            elif cfg.unit_features == "learned":
                self.embed = nn.Embedding(cfg.codes + 1, cfg.dim)
            else:
                raise ValueError(f"unit_features {cfg.unit_features!r}: choose learned or centroids")
            self.first = nn.Conv1d(cfg.dim, cfg.dim, cfg.first_left + cfg.lookahead + 1)
            self.blocks = nn.ModuleList(CausalBlock(cfg.dim, d) for d in cfg.dilations)
            self.norm = nn.LayerNorm(cfg.dim)
            self.head = nn.Linear(cfg.dim, cfg.max_frames)

        def embed_ids(self, ids):  # (B, T) -> (B, T, dim)
            if self.cfg.unit_features == "centroids":
                return self.project(self.embed(ids)) + self.edge((ids == self.cfg.codes).long())
            return self.embed(ids)

        def set_centroids(self, centroids):
            """The k-means centroids (codes x feature_dim, as the tokenizer compares them) as unit inputs."""
            rows = torch.zeros(self.cfg.codes + 1, self.cfg.feature_dim)
            rows[:self.cfg.codes] = torch.as_tensor(centroids, dtype=torch.float32)
            self.embed.weight.data.copy_(rows)

        def forward(self, ids, dropout=None):
            x = self.embed_ids(ids)
            if dropout is not None:
                x = dropout(x)
            x = torch.nn.functional.gelu(self.first(x.transpose(1, 2)))
            for block in self.blocks:
                x = block(x)
            return self.head(self.norm(x.transpose(1, 2)))

    return DurationNet


def DurationNet(cfg: DurationConfig):  # noqa: N802 -- a class made lazily (torch imported on first use)
    return _net_class()(cfg)


def pad(units, cfg: DurationConfig, left: bool = True, right: bool = True) -> np.ndarray:
    """Boundary ids around an utterance's merged units (the whole-utterance input of the net)."""
    arr = np.asarray(units, dtype=np.int64)
    return np.concatenate([np.full(cfg.left_context if left else 0, cfg.boundary, np.int64), arr,
                           np.full(cfg.lookahead if right else 0, cfg.boundary, np.int64)])


def decode(probs: np.ndarray, rounding: str, carry: float = 0.0) -> tuple[np.ndarray, float]:
    """Durations (int64, >= 1) from per-run probabilities over 1..max_frames; returns them and the carry left."""
    if rounding == "argmax":
        return (probs.argmax(-1) + 1).astype(np.int64), carry
    if rounding.startswith("quantile:"):
        q = float(rounding.partition(":")[2])
        below = (np.cumsum(probs, -1) < q - 1e-9).sum(-1)  # lengths whose cumulative probability falls short
        return np.minimum(below + 1, probs.shape[-1]).astype(np.int64), carry
    expected = np.round(probs @ np.arange(1, probs.shape[-1] + 1, dtype=np.float64) * QUANTUM) / QUANTUM
    if rounding == "round":
        return np.maximum(1, np.floor(expected + 0.5)).astype(np.int64), carry
    out = np.empty(len(expected), np.int64)
    for i, e in enumerate(expected.tolist()):
        d = max(1, int(np.floor(e + carry + 0.5)))
        carry += e - d
        out[i] = d
    return out, carry


class DurationModel:
    """A trained DurationNet + its decoding rule; ``durations(merged)`` for a whole utterance, ``stream()``."""

    def __init__(self, net, rounding: str = "quantile:0.8"):
        self.net, self.cfg, self.rounding = net, net.cfg, check_rounding(rounding)
        self.net.eval()

    def _scores(self, padded: np.ndarray) -> np.ndarray:
        """Padded ids -> probabilities over 1..max_frames (float64, quantized) of the runs the window decides."""
        import torch

        with torch.no_grad():
            probs = torch.softmax(self.net(torch.as_tensor(padded, dtype=torch.long)[None])[0].double(), -1).numpy()
        return np.round(probs * QUANTUM) / QUANTUM

    def probabilities(self, merged) -> np.ndarray:
        """(runs, max_frames) probabilities of a whole utterance's run lengths."""
        arr = np.asarray(merged, dtype=np.int64)
        self.check(arr)
        return self._scores(pad(arr, self.cfg)) if arr.size else np.zeros((0, self.cfg.max_frames))

    def check(self, units: np.ndarray) -> None:
        if units.size and (units.min() < 0 or units.max() >= self.cfg.codes):
            raise ValueError(f"unit ids must lie in [0, {self.cfg.codes}); got {units.min()}..{units.max()}")

    def expected(self, merged) -> np.ndarray:
        """Expected frames per run (float64) of a whole utterance."""
        return self.probabilities(merged) @ np.arange(1, self.cfg.max_frames + 1, dtype=np.float64)

    def durations(self, merged) -> np.ndarray:
        """Frames per run (int64, >= 1) of a whole utterance."""
        arr = np.asarray(merged, dtype=np.int64)
        self.check(arr)
        if arr.size == 0:
            return np.zeros(0, np.int64)
        return decode(self._scores(pad(arr, self.cfg)), self.rounding)[0]

    def expand(self, merged) -> np.ndarray:
        """Un-merged units: each run repeated for its predicted frames."""
        arr = np.asarray(merged, dtype=np.int64)
        return np.repeat(arr, self.durations(arr))

    def stream(self) -> "DurationStream":
        return DurationStream(self)

    def describe(self) -> dict:
        return {"rounding": self.rounding, "lookahead_runs": self.cfg.lookahead,
                "left_context_runs": self.cfg.left_context, "max_frames": self.cfg.max_frames}


class DurationStream:
    """Merged units pushed chunk by chunk -> their un-merged frames, each run as soon as ``lookahead`` more runs
    have arrived (all the rest at ``finish``); the concatenation equals ``DurationModel.expand`` of the whole."""

    def __init__(self, model: DurationModel):
        self.model, self.cfg = model, model.cfg
        self.padded = pad([], self.cfg, right=False)  # the left boundary, then the units as they arrive
        self.runs = 0      # merged units received
        self.done = 0      # runs whose durations were decided
        self.carry = 0.0
        self.finished = False

    def _decide(self, upto: int, padded: np.ndarray) -> np.ndarray:
        if upto <= self.done:
            return np.zeros(0, np.int64)
        cfg = self.cfg
        # run i sits at padded[i + left_context]; its window is padded[i : i + left_context + lookahead + 1]
        window = padded[self.done:upto + cfg.left_context + cfg.lookahead]
        durations, self.carry = decode(self.model._scores(window), self.model.rounding, self.carry)
        units = padded[self.done + cfg.left_context:upto + cfg.left_context]
        self.done = upto
        return np.repeat(units, durations)

    def push(self, chunk: Iterable[int]) -> np.ndarray:
        """Add merged units; returns the un-merged units now final (empty while within the look-ahead)."""
        if self.finished:
            raise ValueError("push after finish")
        arr = np.asarray(list(chunk), dtype=np.int64)
        self.model.check(arr)
        self.padded = np.concatenate([self.padded, arr])
        self.runs += len(arr)
        return self._decide(self.runs - self.cfg.lookahead, self.padded)

    def finish(self) -> np.ndarray:
        """The runs still within the look-ahead (boundary ids stand for the runs that never came)."""
        self.finished = True
        return self._decide(self.runs, np.concatenate([self.padded, np.full(self.cfg.lookahead, self.cfg.boundary)]))


def load_duration_model(path, config: dict, rounding: str) -> DurationModel:
    import torch

    net = DurationNet(DurationConfig.from_dict(config))
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return DurationModel(net, rounding)
