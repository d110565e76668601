"""harness.evaluate: the results of a run from Python, the same as from the command line."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import harness
from harness.options import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def manifest(tmp_path) -> Path:
    sf.write(tmp_path / "a.wav", 0.1 * np.sin(np.arange(16000) / 5.0), 16000)
    sf.write(tmp_path / "b.wav", 0.1 * np.sin(np.arange(8000) / 3.0), 16000)
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "a", "text": "hello there"}\n{"id": "b", "text": "hello"}\n', encoding="utf-8")
    return path


def test_evaluate_returns_the_results_it_writes(tmp_path, manifest):
    results = harness.evaluate(task="asr_wer", model="dummy-asr", dataset="local",
                               model_args={"text": "hello"}, dataset_args={"path": manifest, "lang": "en"},
                               output_dir=tmp_path / "out", seed=3)
    assert results == json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    corpus = next(row for row in results["metrics"] if row["aggregation"] == "corpus")
    assert corpus["value"] == pytest.approx(1 / 3)  # "there" deleted, of three reference words
    assert results["options"]["seed"] == 3 and results["options"]["dataset_args"]["path"] == str(manifest)


def test_evaluate_and_the_cli_share_the_cache(tmp_path, manifest):
    """Values reach the adapter as the CLI passes them (strings), so the stage keys are the same."""
    out = tmp_path / "out"
    harness.evaluate(task="asr_wer", model="dummy-asr", dataset="local", model_args={"text": "hello"},
                     dataset_args={"path": str(manifest), "lang": "en"}, output_dir=str(out))
    api_keys = json.loads((out / "results.json").read_text(encoding="utf-8"))["stage_keys"]
    cli = subprocess.run([sys.executable, "-m", "harness", "run", "--task", "asr_wer", "--model", "dummy-asr",
                          "--model-arg", "text=hello", "--dataset", "local", "--dataset-arg", f"path={manifest}",
                          "--dataset-arg", "lang=en", "--output-dir", str(tmp_path / "cli"), "--no-progress"],
                         capture_output=True, text=True, cwd=REPO)
    assert cli.returncode == 0, cli.stderr
    assert json.loads((tmp_path / "cli" / "results.json").read_text(encoding="utf-8"))["stage_keys"] == api_keys


def test_evaluate_refuses_unknown_options_naming_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown option\(s\) model_arg; known: .*model_args"):
        harness.evaluate(task="asr_wer", model="dummy-asr", model_arg={"text": "x"})
    with pytest.raises(ConfigError, match="unknown option"):  # the adapter's options are checked too
        harness.evaluate(task="asr_wer", model="dummy-asr", dataset="local", model_args={"txt": "x"},
                         dataset_args={"path": "m.jsonl"})


def test_import_harness_stays_light():
    code = "import sys, harness; harness.evaluate; assert not {'torch', 'harness.runner'} & set(sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
