"""The world's speech: 16 kHz PCM WAV per utterance; existing files are kept (resumable).

English goes through the codec build's Piper synthesis (``training.codec.corpus.synthesize_english``: worker
processes, noise 0, one ``NNNNN.npy`` per sentence) into a staging folder, then into WAVs named by utterance.
Chinese comes from espeak-ng (``models.espeak``), a subprocess per utterance, ``workers`` threads at once.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from harness.audio import write_wav
from training.codec.corpus import SAMPLE_RATE, synthesize_english


def speak_english(jobs: list[tuple[str, Path]], work: Path, voice: str, length_scale: float, progress,
                  workers: int) -> int:
    """Write each ``(text, wav)`` job whose WAV is missing; returns how many were synthesized.

    The staging folder is named by the missing jobs, so a run killed during synthesis resumes in it (the same
    jobs are missing again); staging folders of other job lists are stale and removed.
    """
    todo = [(text, Path(path)) for text, path in jobs if not Path(path).is_file()]
    progress.update(len(jobs) - len(todo))
    key = hashlib.sha1(json.dumps([voice, length_scale, [t for t, _ in todo]]).encode()).hexdigest()[:12]
    staging = work / f"piper-{key}"
    for old in work.glob("piper-*"):
        if old != staging:
            shutil.rmtree(old, ignore_errors=True)
    if not todo:
        return 0
    npys = synthesize_english([t for t, _ in todo], staging, voice, (length_scale,), progress, workers=workers)
    for npy, (_, wav) in zip(npys, todo):
        write_wav(wav, np.load(npy), SAMPLE_RATE)
    shutil.rmtree(staging, ignore_errors=True)
    if not any(work.iterdir()):
        work.rmdir()
    return len(todo)


def speak_chinese(jobs: list[tuple[str, Path]], voice: str, rate: int, progress, workers: int) -> int:
    """espeak-ng Mandarin for each ``(text, wav)`` job whose WAV is missing; returns how many were made."""
    from concurrent.futures import ThreadPoolExecutor

    from models.espeak import EspeakTTS

    todo = [(text, Path(path)) for text, path in jobs if not Path(path).is_file()]
    progress.update(len(jobs) - len(todo))
    if not todo:
        return 0
    tts = EspeakTTS("espeak-ng-zh", voice=voice, rate=rate)
    tts.ensure_loaded()  # fails here, once, when espeak-ng is missing

    def one(job: tuple[str, Path]) -> None:
        text, wav = job
        audio = tts.synthesize([text], "zh")[0]
        write_wav(wav, audio.samples, audio.sample_rate)

    with ThreadPoolExecutor(max(1, workers)) as pool:  # each call waits on its own espeak-ng process
        for _ in pool.map(one, todo):
            progress.update(1)
    return len(todo)
