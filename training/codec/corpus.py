"""The codec's speech: Piper English (synthesized once, kept as 16 kHz .npy) and BELLE Chinese (read in place)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from harness.audio import read_audio

SAMPLE_RATE = 16000


def heldout_sentences() -> list[str]:
    """The 24 evaluation sentences (tts-en-sentences): the codec must never hear them."""
    from harness.datasets.builtin import EnglishTextSet

    return [item.text for item in EnglishTextSet().load().items]


def synthesize_english(sentences: list[str], folder: Path, voice: str, length_scales: tuple[float, ...],
                       progress) -> list[Path]:
    """One ``NNNNN.npy`` (float32, 16 kHz) per sentence; existing files are kept (resumable)."""
    import soxr

    from models.piper import PiperTTS

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:05d}.npy" for i in range(len(sentences))]
    voices: dict[float, PiperTTS] = {}
    for i, (text, path) in enumerate(zip(sentences, paths)):
        if not path.is_file():
            scale = length_scales[i % len(length_scales)]
            if scale not in voices:  # noise 0: Piper's output is then the same on every run
                voices[scale] = PiperTTS(voice, length_scale=scale, noise_scale=0.0, noise_w_scale=0.0)
                voices[scale].load()
                _one_thread(voices[scale])
            audio = voices[scale].synthesize([text], "en")[0]
            samples = soxr.resample(audio.samples, audio.sample_rate, SAMPLE_RATE).astype(np.float32)
            tmp = path.with_name(f".{path.stem}.tmp.npy")
            np.save(tmp, samples)
            tmp.replace(path)
        progress.update(1)
    return paths


def _one_thread(tts) -> None:
    """Give a loaded Piper voice a one-thread onnxruntime session (piper's own uses every core)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    tts._voice.session = ort.InferenceSession(str(tts.onnx), sess_options=opts, providers=["CPUExecutionProvider"])


def belle_wavs(folder: Path, skip: int, count: int) -> list[Path]:
    """Rows ``skip .. skip+count`` of BELLE-eval-S2S's test.tsv, as wav paths in place (never copied)."""
    with open(folder / "test.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    paths = [folder / "wav" / f"{row['id']}.wav" for row in rows[skip:skip + count]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"BELLE-eval-S2S wavs missing: {', '.join(missing[:3])}")
    return paths


def load_16k(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path)
    return read_audio(path, SAMPLE_RATE).samples.astype(np.float32)
