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
                       progress, workers: int = 1) -> list[Path]:
    """One ``NNNNN.npy`` (float32, 16 kHz) per sentence; existing files are kept (resumable).

    ``workers`` processes synthesize at once (Piper is one thread each here); sentence i always gets
    length scale ``length_scales[i % len]`` and noise 0, so the files do not depend on ``workers``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:05d}.npy" for i in range(len(sentences))]
    todo = [(text, length_scales[i % len(length_scales)], str(path))
            for i, (text, path) in enumerate(zip(sentences, paths)) if not path.is_file()]
    progress.update(len(paths) - len(todo))
    chunks = [todo[i:i + 8] for i in range(0, len(todo), 8)]
    if workers <= 1:
        for chunk in chunks:
            progress.update(_synthesize_chunk(voice, chunk))
        return paths
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: the parent may hold torch/onnxruntime thread pools that a fork would copy half-alive
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for done in as_completed([pool.submit(_synthesize_chunk, voice, chunk) for chunk in chunks]):
            progress.update(done.result())
    return paths


_VOICES: dict = {}  # per process: (voice, length scale) -> a loaded one-thread Piper


def _synthesize_chunk(voice: str, chunk: list[tuple[str, float, str]]) -> int:
    import soxr

    from models.piper import PiperTTS

    for text, scale, path in chunk:
        key = (voice, scale)
        if key not in _VOICES:  # noise 0: Piper's output is then the same on every run
            _VOICES[key] = PiperTTS(voice, length_scale=scale, noise_scale=0.0, noise_w_scale=0.0)
            _VOICES[key].load()
            _one_thread(_VOICES[key])
        audio = _VOICES[key].synthesize([text], "en")[0]
        samples = soxr.resample(audio.samples, audio.sample_rate, SAMPLE_RATE).astype(np.float32)
        out = Path(path)
        tmp = out.with_name(f".{out.stem}.tmp.npy")
        np.save(tmp, samples)
        tmp.replace(out)
    return len(chunk)


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
