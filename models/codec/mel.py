"""Log-mel analysis of 16 kHz speech and its inversion by Griffin-Lim, whole or chunk by chunk.

One ``MelConfig`` fixes everything (rate, FFT, hop, bands); it is written into the codec folder. Griffin-Lim
starts from zero phase and runs a fixed number of (fast, momentum) iterations, so the same mel gives the same
waveform. ``StreamingGriffinLim`` inverts frames as they arrive: each call reruns Griffin-Lim over
``context_frames`` already-emitted frames plus the new ones, emits audio up to ``hold_frames`` before the
newest frame (the overlap-add there is still incomplete) and cross-fades the first ``fade`` samples with what
the previous call had rendered past its cut, so chunk joins are clean.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16000   # Hz of analysed and rendered audio
    n_fft: int = 1024          # FFT size (and window length), samples
    hop: int = 160             # samples between frames: 100 frames/s, 4 per 25 Hz unit
    n_mels: int = 80           # mel bands (Slaney mel, 0 Hz to Nyquist)
    floor: float = 1e-5        # magnitude floor before the log
    gl_iters: int = 32         # Griffin-Lim iterations
    gl_momentum: float = 0.99  # fast Griffin-Lim momentum (Perraudin et al. 2013)

    def to_dict(self) -> dict:
        return asdict(self)


class Mel:
    def __init__(self, config: MelConfig = MelConfig()):
        import librosa
        import torch

        self.config = c = config
        self.basis = torch.from_numpy(librosa.filters.mel(sr=c.sample_rate, n_fft=c.n_fft, n_mels=c.n_mels)).float()
        self.pinv = torch.linalg.pinv(self.basis)
        self.window = torch.hann_window(c.n_fft)

    def _stft(self, wav):
        import torch

        return torch.stft(wav, self.config.n_fft, self.config.hop, window=self.window, center=True, return_complex=True)

    def log_mel(self, samples: np.ndarray) -> np.ndarray:
        """(n,) float32 at config.sample_rate -> (frames, n_mels) natural-log mel magnitudes."""
        import torch

        with torch.no_grad():
            mag = self._stft(torch.from_numpy(np.asarray(samples, dtype=np.float32))).abs()
            mel = self.basis @ mag
            return torch.log(torch.clamp(mel, min=self.config.floor)).T.contiguous().numpy()

    def invert(self, log_mel: np.ndarray, length: int | None = None) -> np.ndarray:
        """(frames, n_mels) log mel -> waveform of ``length`` samples (default frames x hop)."""
        import torch

        c = self.config
        frames = log_mel.shape[0]
        length = length or frames * c.hop
        with torch.no_grad():
            mel = torch.exp(torch.from_numpy(np.ascontiguousarray(log_mel, dtype=np.float32)).T)
            mag = torch.clamp(self.pinv @ mel, min=0.0)
            spec = mag.to(torch.complex64)  # zero phase: deterministic start
            prev = torch.zeros_like(spec)
            wav = None
            for _ in range(c.gl_iters):
                wav = torch.istft(spec, c.n_fft, c.hop, window=self.window, center=True, length=length)
                rebuilt = self._stft(wav)[:, :frames]
                accel = rebuilt + c.gl_momentum / (1 + c.gl_momentum) * (rebuilt - prev)
                prev = rebuilt
                spec = mag * accel / torch.clamp(accel.abs(), min=1e-8)
            wav = torch.istft(spec, c.n_fft, c.hop, window=self.window, center=True, length=length)
        return wav.numpy().astype(np.float32)


class StreamingGriffinLim:
    """Feed log-mel frames in chunks; get waveform pieces whose concatenation approximates ``Mel.invert``."""

    def __init__(self, mel: Mel, context_frames: int = 24, hold_frames: int = 6, fade: int = 320):
        self.mel, self.context, self.hold, self.fade = mel, context_frames, hold_frames, fade
        self.frames = np.zeros((0, mel.config.n_mels), dtype=np.float32)
        self.emitted = 0                       # samples already returned
        self.carry = np.zeros(0, np.float32)   # what the previous call rendered past its cut

    def push(self, log_mel: np.ndarray, final: bool = False) -> np.ndarray:
        hop = self.mel.config.hop
        self.frames = np.concatenate([self.frames, np.asarray(log_mel, dtype=np.float32)])
        total = len(self.frames)
        end = total * hop if final else max(0, (total - self.hold) * hop)
        if end <= self.emitted:
            return np.zeros(0, np.float32)
        first = max(0, self.emitted // hop - self.context)
        wav = self.mel.invert(self.frames[first:], (total - first) * hop)
        offset = first * hop
        piece = wav[self.emitted - offset:end - offset].copy()
        n = min(self.fade, len(self.carry), len(piece))
        if n:
            ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
            piece[:n] = self.carry[:n] * (1 - ramp) + piece[:n] * ramp
        self.carry = wav[end - offset:].copy()
        self.emitted = end
        return piece
