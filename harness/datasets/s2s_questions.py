"""Spoken-question sets for S2S tasks besides BELLE-eval-S2S.

- ``s2s-en-questions``: 12 short English questions written for this project (data/s2s_en_questions.tsv).
  Their audio is made offline with Piper: ``python -m harness.datasets.s2s_questions DIR`` writes
  ``DIR/test.tsv`` and ``DIR/wav/<id>.wav``; then ``--dataset-arg path=DIR`` (or ``S2S_EN_QUESTIONS_DIR``).
- ``instructs2s-eval``: LLaMA-Omni's English test set (199 AlpacaEval helpful_base + vicuna instructions
  without math/code, spoken by CosyVoice-300M-SFT). We found no public release whose layout we could
  confirm, so it is read from a local folder in BELLE-eval-S2S's layout: ``test.tsv`` (id, text) + ``wav/``.
"""
from __future__ import annotations

import argparse
import os
import shutil
from importlib import resources
from pathlib import Path

from harness.datasets.base import DatasetLoad, DatasetUnavailableError
from harness.datasets.local import read_manifest

EN_QUESTIONS_ENV = "S2S_EN_QUESTIONS_DIR"
INSTRUCTS2S_ENV = "INSTRUCTS2S_EVAL_DIR"


def _shipped_questions() -> Path:
    with resources.as_file(resources.files("harness.datasets") / "data" / "s2s_en_questions.tsv") as path:
        return Path(path)


class EnglishQuestions:
    """12 short spoken English questions (text shipped; audio built offline with Piper)."""

    def __init__(self, path: str | None = None):
        self.path = path or os.environ.get(EN_QUESTIONS_ENV)

    def load(self) -> DatasetLoad:
        if not self.path or not (Path(self.path) / "wav").is_dir():
            raise DatasetUnavailableError(
                f"s2s-en-questions needs its audio: build it with `python -m harness.datasets.s2s_questions DIR` "
                f"(Piper, offline), then pass --dataset-arg path=DIR or set {EN_QUESTIONS_ENV}=DIR")
        load = read_manifest(_shipped_questions(), lang="en", audio_dir=Path(self.path) / "wav")
        load.info.update(name="s2s-en-questions", source="harness/datasets/data/s2s_en_questions.tsv",
                         audio=str(Path(self.path) / "wav"))
        return load


class InstructS2SEval:
    """InstructS2S-Eval (LLaMA-Omni; English) from a local folder: test.tsv + wav/<id>.wav."""

    def __init__(self, path: str | None = None):
        self.path = path or os.environ.get(INSTRUCTS2S_ENV)

    def load(self) -> DatasetLoad:
        if not self.path or not (Path(self.path) / "test.tsv").is_file():
            raise DatasetUnavailableError(
                "instructs2s-eval (LLaMA-Omni's 199 spoken AlpacaEval questions) is not published in a layout this "
                "harness could confirm: put its questions in DIR/test.tsv (id<TAB>text) and audio in "
                f"DIR/wav/<id>.wav, then pass --dataset-arg path=DIR or set {INSTRUCTS2S_ENV}=DIR")
        root = Path(self.path)
        load = read_manifest(root / "test.tsv", lang="en", audio_dir=root / "wav")
        load.info.update(name="instructs2s-eval", path=str(root))
        return load


def build_english_questions(out_dir: str | Path, tts: str = "piper-en_US-joe-medium") -> Path:
    """Speak the shipped questions with a registered TTS model into ``out_dir`` (test.tsv + wav/)."""
    from harness.audio import write_wav
    from harness.paths import safe_name
    from harness.registry import MODELS

    out = Path(out_dir)
    load = read_manifest(_shipped_questions(), lang="en", require_audio=False)
    model = MODELS.get(tts)(name=tts)
    model.ensure_loaded()
    audios = model.synthesize([item.text for item in load.items], "en")
    for item, audio in zip(load.items, audios):
        write_wav(out / "wav" / safe_name(item.id, ".wav"), audio.samples, audio.sample_rate)
    shutil.copyfile(_shipped_questions(), out / "test.tsv")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="build the s2s-en-questions audio offline")
    parser.add_argument("out_dir")
    parser.add_argument("--tts", default="piper-en_US-joe-medium")
    args = parser.parse_args()
    print(build_english_questions(args.out_dir, args.tts))
