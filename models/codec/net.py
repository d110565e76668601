"""The unit -> mel network: an embedding, dilated residual convolutions at 25 Hz, then a linear head that
emits the 4 mel frames of each unit at once (100 Hz) and one light residual convolution over those frames
(cheap on CPU: nothing wide runs at the mel rate).

Every layer is a 'same'-padded convolution, so an output frame depends on a fixed window of units around
it (``context_units`` each side). Rendering a chunk with that many units of real context on both sides gives
exactly the frames of a whole-sequence pass; ``models.codec.vocoder`` streams on that fact.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn


@dataclass(frozen=True)
class NetConfig:
    codes: int = 1024                                  # unit vocabulary (k-means codes)
    dim: int = 256                                     # channels
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)  # one residual block per entry (kernel 3)
    upsample: int = 4                                  # mel frames per unit (100 Hz / 25 Hz)
    mel_kernel: int = 5                                # kernel of the residual mel-rate convolution (n_mels wide)
    n_mels: int = 80                                   # output bands
    extra: dict = field(default_factory=dict)          # free-form notes (unused by the net)

    def to_dict(self) -> dict:
        return {**asdict(self), "dilations": list(self.dilations)}

    @property
    def context_units(self) -> int:
        """Units each side that influence one output frame (mel-rate convs rounded up to whole units)."""
        return sum(self.dilations) + -(-(self.mel_kernel // 2) // self.upsample)


class Block(nn.Module):
    def __init__(self, dim: int, dilation: int, kernel: int = 3):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv1d(dim, dim, kernel, dilation=dilation, padding=dilation * (kernel // 2))
        self.mix = nn.Conv1d(dim, dim, 1)

    def forward(self, x):  # (B, C, T)
        h = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return x + self.mix(torch.nn.functional.gelu(self.conv(h)))


class UnitMelNet(nn.Module):
    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.codes, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg.dim, d) for d in cfg.dilations)
        self.head = nn.Conv1d(cfg.dim, cfg.upsample * cfg.n_mels, 1)
        self.post = nn.Conv1d(cfg.n_mels, cfg.n_mels, cfg.mel_kernel, padding=cfg.mel_kernel // 2)

    def forward(self, units: torch.Tensor) -> torch.Tensor:
        """(B, T) unit ids -> (B, T x upsample, n_mels) log mel."""
        x = self.embed(units).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        y = self.head(x)                                           # (B, upsample x n_mels, T)
        b, _, t = y.shape
        y = y.view(b, self.cfg.upsample, self.cfg.n_mels, t).permute(0, 2, 3, 1).reshape(b, self.cfg.n_mels, t * self.cfg.upsample)
        y = y + self.post(torch.nn.functional.gelu(y))
        return y.transpose(1, 2)
