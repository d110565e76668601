"""Speech tokenization of a training corpus with 2 worker processes vs 1: records/s, and identical outputs.

`python -m training build-cpt asr ... --workers N` on BELLE-eval-S2S recordings (../shared, read in place) with
the tiny CosyVoice-format ONNX tokenizer (models.cslm.tiny; the real one only makes each record costlier, which
favours the pool). Each run starts from an empty cache; the outputs must be byte-identical.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "BELLE-eval-S2S"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=64, help="records (BELLE-eval-S2S has 250)")
    parser.add_argument("--belle", default=os.environ.get("BELLE_EVAL_S2S_DIR") or str(SHARED))
    args = parser.parse_args()
    from models.cslm.tiny import build_tiny_speech_tokenizer
    from training.cli import main as cli

    belle = Path(args.belle)
    lines = (belle / "test.tsv").read_text(encoding="utf-8").splitlines()[1:args.n + 1]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        onnx = build_tiny_speech_tokenizer(tmp / "speech_tokenizer_v1.onnx")
        manifest = tmp / "asr.tsv"
        manifest.write_text("id\ttext\taudio\n" + "".join(
            f"{i}\t{t}\t{belle / 'wav' / (i + '.wav')}\n" for i, t in (line.split("\t", 1) for line in lines)),
            encoding="utf-8")
        seconds, outputs = {}, {}
        for workers in (1, 2):
            out = tmp / f"out{workers}.jsonl"
            t0 = time.perf_counter()
            cli(["build-cpt", "asr", "--manifest", str(manifest), "--lang", "zh", "--speech-tokenizer", str(onnx),
                 "--units-cache", str(tmp / f"cache{workers}"), "--workers", str(workers), "--out", str(out)])
            seconds[workers] = time.perf_counter() - t0
            outputs[workers] = out.read_bytes()
    n = len(lines)
    print(f"{n} records, {os.cpu_count()} CPU cores")
    for workers in (1, 2):
        print(f"workers={workers}: {seconds[workers]:.1f} s, {n / seconds[workers]:.1f} records/s")
    print(f"ratio (2 workers / 1): {seconds[1] / seconds[2]:.2f}x; outputs byte-identical: {outputs[1] == outputs[2]}")


if __name__ == "__main__":
    main()
