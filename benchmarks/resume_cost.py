"""What rerunning a finished task costs relative to its first run (target: under 5 %).

Both are timed as a user runs them (`python -m harness run ...` in a fresh process): TTS-WER of the
bundled Piper voice judged by the bundled Whisper tiny.en. The rerun finds every stage cached and only
rebuilds the summary and results files. Most of such a rerun used to be the import of torch (1.5 s of 2.5 s),
asked only whether a GPU exists for the judge's device=auto: the CTranslate2 judge now asks CTranslate2
(harness/devices.py), and a rerun imports no torch.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "harness", "run", "--task", "tts_wer", "--model", "piper-en_US-joe-medium",
               "--offline-judges", "--limit", str(args.limit), "--no-progress", "--output-dir", str(Path(tmp) / "o")]
        first = timed(cmd)
        rerun = min(timed(cmd) for _ in range(3))
    print(f"first run: {first:.2f} s; resumed rerun of the finished task: {rerun:.2f} s")
    print(f"rerun/first: {100 * rerun / first:.1f} % (target < 5 %: {'met' if rerun / first < 0.05 else 'NOT met'})")


if __name__ == "__main__":
    main()
