"""A system's failure counts against it; a measurement's failure is left out and makes the result incomplete.

Real models throughout: Piper speaks, Whisper tiny.en judges; ``faulty`` injects the failures.
"""
import json
import subprocess
import sys

import pytest

from harness.cli import EXIT_INCOMPLETE, main
from harness.options import RunOptions
from harness.report import results_table
from harness.runner import evaluate

N = 8  # tts-en-sentences: the first 8; every second one fails
PIPER = "piper-en_US-joe-medium"


def headline(results):
    return next(m for m in results["metrics"] if m["headline"])


def rows(folder):
    return {r["id"]: r for r in map(json.loads, (folder / "samples.jsonl").read_text().splitlines())}


@pytest.mark.parametrize("fault", ["silent", "raise"])
def test_a_system_failing_on_half_the_sentences_scores_at_least_half(tmp_path, fault):
    results = evaluate(RunOptions(task="tts_wer", model="faulty",
                                  model_args={"inner": PIPER, "fault": fault, "every": "2"},
                                  offline_judges=True, limit=N, output_dir=str(tmp_path), progress=False))
    wer = headline(results)
    assert wer["aggregation"] == "mean-utterance" and wer["value"] >= 0.5
    assert wer["coverage"] == {"scored": N // 2, "total": N, "system_failed": N // 2, "measurement_failed": 0}
    assert wer["scored_only"]["n"] == N // 2 and wer["scored_only"]["value"] < 0.15  # Piper's own figure, labelled
    assert wer["ci95"][0] <= wer["value"] <= wer["ci95"][1] and "deleted" in wer["failure_rule"]
    counts = results["counts"]
    assert counts["system_failed"] == N // 2 and results["status"] == "complete"
    assert set(counts["failed_by_reason"]) == {"silent" if fault == "silent" else "injected_fault"}
    failed = [r for r in rows(tmp_path).values() if r["status"] == "failed"]
    assert len(failed) == N // 2 and all(r["rate"] == 1.0 and r["error"]["kind"] == "system" for r in failed)
    table = results_table([results])
    assert f"{N // 2}/{N}" in table and "scored-only" in table


def test_a_failing_judge_makes_the_result_incomplete_and_leaves_the_headline(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["run", "--task", "tts_wer", "--model", PIPER, "--limit", "4", "--output-dir", str(out), "--no-progress",
            "--judge", "en=faulty", "--judge-arg", "en.inner=whisper-tiny.en-bundled", "--judge-arg", "en.fault=raise",
            "--judge-arg", "en.every=4"]
    assert main(argv) == EXIT_INCOMPLETE  # a script sees that the figure is not final
    assert "incomplete" in capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    wer = headline(results)
    assert results["status"] == "incomplete" and results["counts"]["measurement_failed"] == 1
    assert wer["n"] == 3 and wer["coverage"]["measurement_failed"] == 1 and wer["value"] < 0.15
    assert wer["value"] == wer["scored_only"]["value"]  # no system failure: the headline is the scored set
    failed = [r for r in rows(out).values() if r["status"] == "failed"]
    assert [r["error"]["kind"] for r in failed] == ["measurement"]
    assert "INCOMPLETE" in results_table([results])

    # --retry-failed redoes only the measurement's failures: synthesis is not re-run.
    synth = next((out / "cache").glob("synthesize-*/rank0.jsonl"))
    before = synth.read_text()
    main(argv + ["--retry-failed"])
    assert synth.read_text() == before


def test_retry_failed_leaves_system_failures_unless_asked(tmp_path):
    base = dict(task="tts_wer", model="faulty", model_args={"inner": "dummy-tts", "fault": "silent", "every": "2"},
                judges={"en": "dummy-asr"}, limit=4, output_dir=str(tmp_path), progress=False, bootstrap_resamples=0)
    evaluate(RunOptions(**base))
    synth = next((tmp_path / "cache").glob("synthesize-*/rank0.jsonl"))
    first = [json.loads(line)["id"] for line in synth.read_text().splitlines()]
    evaluate(RunOptions(**base, retry_failed="measurement"))
    assert [json.loads(line)["id"] for line in synth.read_text().splitlines()] == first
    evaluate(RunOptions(**base, retry_failed="all"))  # the system's failures re-run too, without duplicates
    again = [json.loads(line)["id"] for line in synth.read_text().splitlines()]
    assert sorted(again) == sorted(first) and again != first


def test_incomplete_exit_status_from_the_command_line(tmp_path):
    """The exit status itself, as a shell script sees it: a missing input file is the measurement's failure."""
    import numpy as np
    import soundfile as sf

    (tmp_path / "wav").mkdir()
    sf.write(tmp_path / "wav" / "a.wav", (0.1 * np.sin(np.arange(16000) / 5.0)).astype(np.float32), 16000)
    manifest = tmp_path / "m.tsv"
    manifest.write_text("id\ttext\na\thello world\nb\thello there\n", encoding="utf-8")  # b.wav is missing
    cmd = [sys.executable, "-m", "harness", "run", "--task", "asr_wer", "--model", "dummy-asr", "--model-arg",
           "text=hello world", "--dataset", "local", "--dataset-arg", f"path={manifest}", "--dataset-arg", "lang=en",
           "--dataset-arg", f"audio_dir={tmp_path / 'wav'}", "--output-dir", str(tmp_path / "out"), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == EXIT_INCOMPLETE, done.stderr
    assert "--retry-failed" in done.stderr and "missing: 1" in done.stderr
