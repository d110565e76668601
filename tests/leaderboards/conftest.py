"""Results produced by real harness runs, once per session (the leaderboard tests only read them).

- ASR: dummy-asr with two fixed texts on the first 10 BELLE-eval-S2S items (fast; different CERs).
- TTS: Piper (deterministic: noise_scale=0, noise_w_scale=0) judged by Whisper tiny.en on 4 sentences,
  at length_scale 1.0 and 1.3 (an ablation factor), and the 1.0 run judged by Whisper base (another
  protocol in the same column). The base-judged run starts from a copy of the 1.0 run's folder, so its
  synthesis comes from the stage cache and only transcription and scoring run again; it is also scored by
  the DistillMOS speech-quality judge (a quality column of the TTS table).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.options import RunOptions
from harness.runner import evaluate

PIPER_DETERMINISTIC = {"noise_scale": "0", "noise_w_scale": "0"}


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("leaderboard-runs")


def _run(out: Path, **kwargs) -> Path:
    evaluate(RunOptions(output_dir=str(out), progress=False, **kwargs))
    assert (out / "results.json").is_file()
    return out


@pytest.fixture(scope="session")
def asr_runs(runs_root, belle_dir) -> dict[str, Path]:
    common = {"task": "asr_wer", "model": "dummy-asr", "dataset": "belle-eval-s2s",
                  "dataset_args": {"path": str(belle_dir)}, "limit": 10}
    return {"hello": _run(runs_root / "asr" / "dummy-nihao", model_args={"text": "你好"}, **common),
            "province": _run(runs_root / "asr" / "dummy-province", model_args={"text": "中国有多少个省"}, **common)}


@pytest.fixture(scope="session")
def tts_runs(runs_root) -> dict[str, Path]:
    common = {"task": "tts_wer", "model": "piper-en_US-joe-medium", "limit": 4}
    out = {"ls10": _run(runs_root / "tts" / "piper-ls1.0", offline_judges=True,
                        model_args={**PIPER_DETERMINISTIC, "length_scale": "1.0"}, **common),
           "ls13": _run(runs_root / "tts" / "piper-ls1.3", offline_judges=True,
                        model_args={**PIPER_DETERMINISTIC, "length_scale": "1.3"}, **common)}
    base = runs_root / "tts-base" / "piper-ls1.0-judge-base"
    shutil.copytree(out["ls10"], base)  # reuse the cached synthesis; the judge differs
    for name in ("results.json", "samples.jsonl"):  # the stage cache is what is reused; the result is another run's
        (base / name).unlink()
    out["base"] = _run(base, judges={"en": "whisper-base-bundled"}, quality_judges={"distillmos": {}},
                       model_args={**PIPER_DETERMINISTIC, "length_scale": "1.0"}, **common)
    return out

