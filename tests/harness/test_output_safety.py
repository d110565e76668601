"""Output paths cannot be steered by input, and one run holds an output folder at a time."""
import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from harness.lock import RunLock, RunLockedError
from harness.options import RunOptions
from harness.paths import safe_name
from harness.runner import evaluate
from tests.fixtures.openai_server import running_openai
from tests.fixtures.s2s_data import judge_args

HOSTILE = ["../x", "../../../../escape", "/abs/x", "a/b", "L" * 300, "ctl\x01\x1b[31mred", "..", ".", "-", "tab\u2028x"]
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw", HOSTILE + ["ok-id_1.2", "普通话"])
def test_safe_name_is_one_component_inside_the_folder(tmp_path, raw):
    name = safe_name(raw, ".wav")
    path = tmp_path / name
    assert "/" not in name and "\\" not in name and not name.startswith(".") and len(name.encode()) < 160
    assert path.resolve().parent == tmp_path.resolve()
    assert all(ord(ch) >= 32 for ch in name)
    if raw != name.removesuffix(".wav"):  # a changed id carries a digest of the original (cache records point here)
        assert re.search(r"-[0-9a-f]{12}\.wav$", name)


def test_safe_names_keep_distinct_ids_apart():
    ids = ["a/b", "a_b", "a\\b", "a b", "a?b", "L" * 300, "L" * 301, "../x", "x"]
    names = [safe_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert safe_name("ok-id_1.2") == "ok-id_1.2"  # a name that is already safe is kept as it is


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def _hostile_manifest(folder: Path, text: str = "hello world") -> Path:
    folder.mkdir(parents=True)
    tone = (0.2 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)).astype(np.float32)
    sf.write(folder / "q.wav", tone, 16000)
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"id": i, "text": text, "audio": "q.wav"}) + "\n" for i in HOSTILE),
                        encoding="utf-8")
    return manifest


def test_hostile_ids_write_nothing_outside_the_output_folder_tts(tmp_path):
    manifest = _hostile_manifest(tmp_path / "in")
    out = tmp_path / "deep" / "er" / "out"
    before = _files(tmp_path)
    results = evaluate(RunOptions(task="tts_wer", model="dummy-tts", judges={"en": "dummy-asr"}, dataset="local",
                                  dataset_args={"path": str(manifest), "lang": "en"}, output_dir=str(out),
                                  progress=False, bootstrap_resamples=0))
    assert results["counts"]["samples"] == len(HOSTILE) and results["counts"]["failed"] == 0
    written = _files(tmp_path) - before
    assert written and all(out.resolve() in p.resolve().parents for p in written)
    wavs = sorted(p for p in written if p.suffix == ".wav")
    assert len(wavs) == len(HOSTILE) and len({p.parent for p in wavs}) == 1  # one folder, one file per id


def test_hostile_ids_write_nothing_outside_the_output_folder_s2s(tmp_path):
    manifest = _hostile_manifest(tmp_path / "in", text="what colour is the sky")
    system = tmp_path / "system"
    (system / "wav").mkdir(parents=True)
    sf.write(system / "wav" / "answer.wav", sf.read(tmp_path / "in" / "q.wav")[0], 16000)
    (system / "responses.jsonl").write_text("".join(
        json.dumps({"id": i, "text": "the sky is blue", "audio": "wav/answer.wav"}) + "\n" for i in HOSTILE),
        encoding="utf-8")
    out = tmp_path / "deep" / "out"
    before = _files(tmp_path)
    with running_openai() as server:
        results = evaluate(RunOptions(
            task="s2s_conversation", model="precomputed", model_args={"path": str(system)}, dataset="local",
            dataset_args={"path": str(manifest), "lang": "en"}, judges={"en": "dummy-asr"},
            llm_judge="openai:judge-model", llm_judge_args=judge_args(server), output_dir=str(out), progress=False,
            bootstrap_resamples=0))
    assert results["counts"]["samples"] == len(HOSTILE) and results["counts"]["measurement_failed"] == 0
    written = _files(tmp_path) - before
    assert all(out.resolve() in p.resolve().parents for p in written)
    assert len([p for p in written if p.suffix == ".wav"]) == len(HOSTILE)


# -- one run per output folder -------------------------------------------------------------------------------

def _holder(folder: Path) -> subprocess.Popen:
    """A process holding the folder's lock until killed."""
    code = ("import sys, time; from harness.lock import RunLock; lock = RunLock(sys.argv[1]).acquire(); "
            "print('held', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_run_is_refused_naming_the_holder_and_kill_9_frees_the_folder(tmp_path):
    out = tmp_path / "out"
    holder = _holder(out)
    opts = RunOptions(task="tts_wer", model="dummy-tts", judges={"en": "dummy-asr"}, limit=2, output_dir=str(out),
                      progress=False, bootstrap_resamples=0)
    try:
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}.*--output-dir"):
            evaluate(opts)
        assert not (out / "cache").exists()  # refused before any work
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert evaluate(opts)["counts"]["failed"] == 0  # the dead holder's lock never blocks a rerun


def test_two_concurrent_command_line_runs(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "harness", "run", "--task", "tts_wer", "--model", "piper-en_US-joe-medium",
           "--offline-judges", "--limit", "3", "--output-dir", str(out), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while not (out / ".lock-rank0").is_file() or str(first.pid) not in (out / ".lock-rank0").read_text():
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.1)
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert first.wait(timeout=300) == 0
    assert second.returncode == 2 and f"pid {first.pid}" in second.stderr and "in use" in second.stderr
    for shard in (out / "cache").glob("*/rank0.jsonl"):
        ids = [json.loads(line)["id"] for line in shard.read_text().splitlines()]
        assert len(ids) == len(set(ids)) == 3, shard  # nothing done twice


def test_the_same_process_may_not_take_the_folder_twice(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunLockedError):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path):  # released on exit
        pass


def test_harness_imports_nothing_from_models():
    """The core owns the model contract (harness.model); adapters plug in through registry strings only."""
    offenders = []
    for path in (REPO / "harness").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n == "models" or n.startswith("models.")]
    assert offenders == []
