"""Codec speed: tokenizer and vocoder real-time factors, units/s before and after merging repeats.

Speaks the first N held-out sentences (tts-en-sentences) with Piper joe (noise 0), then per utterance times
the tokenizer (Whisper base encoder, unpadded, + nearest centroid) and the vocoder (unit -> mel net +
Griffin-Lim), whole and streamed in 25-unit (1 s) chunks. RTF = compute seconds / audio seconds (below 1:
faster than real time); one CPU thread. The codec folder: --codec DIR, else runs/codec-full, else
runs/codec-tiny (built first with the tiny recipe when missing).
"""
from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np


def codec_folder(given: str | None) -> Path:
    if given:
        return Path(given)
    for candidate in ("runs/codec-full", "runs/codec-tiny"):
        if (Path(candidate) / "codec.json").is_file():
            return Path(candidate)
    from training.codec.build import build_codec
    from training.codec.recipe import load_codec_recipe

    recipe = Path(__file__).resolve().parents[1] / "training" / "recipes" / "codec" / "codec_tiny.yaml"
    return build_codec(load_codec_recipe(recipe, ["output_dir=runs/codec-tiny"]), progress=False)


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import soxr
    import torch

    torch.set_num_threads(1)
    from harness.datasets.builtin import EnglishTextSet
    from harness.tasks.resynthesis import merged_length
    from models.codec.bundle import CodecTokenizer
    from models.codec.vocoder import CodecVocoder
    from models.piper import PiperTTS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codec", help="codec folder (default: runs/codec-full, else runs/codec-tiny)")
    ap.add_argument("-n", type=int, default=8, help="utterances (default 8)")
    ap.add_argument("--chunk", type=int, default=25, help="units per streamed chunk (default 25 = 1 s)")
    args = ap.parse_args()

    folder = codec_folder(args.codec)
    tok, voc = CodecTokenizer(folder), CodecVocoder(str(folder))
    voc.load()
    tts = PiperTTS("piper-en_US-joe-medium", noise_scale=0.0, noise_w_scale=0.0)
    texts = [item.text for item in EnglishTextSet().load().items][: args.n]
    speech = [soxr.resample(a.samples, a.sample_rate, 16000).astype(np.float32) for a in tts.synthesize(texts, "en")]
    tok.tokenize(speech[0][:16000])  # warm-up: the encoder loads
    seconds = tok_s = whole_s = stream_s = 0.0
    n_units = n_merged = 0
    for samples in speech:
        seconds += len(samples) / 16000
        t0 = time.perf_counter()
        units = tok.tokenize(samples).tolist()
        t1 = time.perf_counter()
        voc.render(units)
        t2 = time.perf_counter()
        for _ in voc.stream([units[i:i + args.chunk] for i in range(0, len(units), args.chunk)]):
            pass
        t3 = time.perf_counter()
        tok_s, whole_s, stream_s = tok_s + t1 - t0, whole_s + t2 - t1, stream_s + t3 - t2
        n_units, n_merged = n_units + len(units), n_merged + merged_length(units)
    bits = math.log2(tok.codes)
    print(f"codec {folder} ({tok.codes} codes, {bits:g} bit/unit), {len(speech)} utterances, {seconds:.1f} s of speech")
    print(f"tokenizer RTF        {tok_s / seconds:.3f}  ({1 / max(tok_s / seconds, 1e-9):.1f}x faster than real time)")
    print(f"vocoder RTF, whole   {whole_s / seconds:.3f}")
    print(f"vocoder RTF, stream  {stream_s / seconds:.3f}  ({args.chunk}-unit chunks; {stream_s / whole_s:.2f}x whole)")
    print(f"units/s              {n_units / seconds:.2f}  -> {n_units / seconds * bits:.0f} bit/s")
    print(f"units/s merged       {n_merged / seconds:.2f}  -> {n_merged / seconds * bits:.0f} bit/s "
          f"({n_units / n_merged:.2f}x fewer after merging repeats)")


if __name__ == "__main__":
    main()
