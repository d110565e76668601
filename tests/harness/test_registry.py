import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.options import ConfigError, RunOptions
from harness.plan import plan
from harness.registry import MODELS, TASKS, Registry, UnknownNameError

REPO = Path(__file__).resolve().parents[2]


def test_unknown_names_suggest_close_matches():
    with pytest.raises(UnknownNameError) as err:
        TASKS.find("tts_werr")
    assert "Did you mean: tts_wer" in str(err.value) and "asr_wer" in str(err.value)
    with pytest.raises(UnknownNameError, match="Did you mean: paraformer-zh"):
        MODELS.find("paraformer-zn")


def test_patterns_and_exact_names():
    assert MODELS.find("whisper-large-v3").name == "whisper-*"
    assert MODELS.find("whisper-base-bundled").name == "whisper-base-bundled"  # exact beats the pattern
    reg = Registry("widget")

    @reg.register("w1")
    class W1:
        """First widget."""

    assert reg.get("w1") is W1 and reg.find("w1").summary == "First widget."
    reg.add_lazy("w2", "harness.metrics:aggregate")
    assert reg.get("w2").__name__ == "aggregate"
    with pytest.raises(ValueError, match="module:attr"):
        reg.add_lazy("w3", "no_colon")


def test_task_refuses_model_without_capability_before_loading():
    with pytest.raises(ConfigError, match="needs a model that can synthesize; whisper-tiny.en-bundled can transcribe"):
        plan(RunOptions(task="tts_wer", model="whisper-tiny.en-bundled"))
    with pytest.raises(ConfigError, match="needs a model that can transcribe"):
        plan(RunOptions(task="asr_wer", model="piper-en_US-joe-medium"))


def test_configuration_mistakes_fail_fast():
    with pytest.raises(ConfigError, match="unknown task 'asr'"):
        plan(RunOptions(task="asr", model="dummy-asr"))
    with pytest.raises(ConfigError, match="unknown option"):
        plan(RunOptions(task="asr_wer", model="dummy-asr", model_args={"beam": "5"}))
    with pytest.raises(ConfigError, match="--limit"):
        RunOptions(task="asr_wer", model="dummy-asr", limit=0)
    with pytest.raises(ConfigError, match="unknown dataset"):
        plan(RunOptions(task="asr_wer", model="dummy-asr", dataset="belle"))


def test_cli_errors_are_one_line_and_exit_2(tmp_path):
    env = {**os.environ, "BELLE_EVAL_S2S_DIR": ""}
    out = subprocess.run([sys.executable, "-m", "harness", "run", "--task", "asr_wer", "--model", "dummy-asr",
                          "--output-dir", str(tmp_path)], capture_output=True, text=True, env=env, cwd=REPO)
    assert out.returncode == 2
    assert "belle-eval-s2s needs its folder" in out.stderr and "Traceback" not in out.stderr


def test_list_imports_no_torch():
    code = "import sys; from harness.cli import main; main(['list']); assert 'torch' not in sys.modules, 'torch imported'"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "tts_wer" in out.stdout and "paraformer-zh" in out.stdout and "belle-eval-s2s" in out.stdout


def test_entry_points_from_a_separately_installed_package(tmp_path):
    """A plugin distribution, pip-installed into its own folder, adds a task and a model."""
    src = tmp_path / "plugin"
    (src / "harness_plugin_demo").mkdir(parents=True)
    (src / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "harness-plugin-demo"
        version = "0.1"
        [project.entry-points."cslm_harness.models"]
        shout-asr = "harness_plugin_demo:ShoutASR"
        [project.entry-points."cslm_harness.tasks"]
        shout_wer = "harness_plugin_demo:task_spec"
        [tool.setuptools]
        packages = ["harness_plugin_demo"]
    """))
    (src / "harness_plugin_demo" / "__init__.py").write_text(textwrap.dedent('''
        from harness.model import TRANSCRIBE, Model

        class ShoutASR(Model):
            """Transcribes everything as HELLO."""
            capabilities = frozenset({TRANSCRIBE})
            def transcribe(self, audios, lang):
                return ["HELLO" for _ in audios]

        def task_spec():
            return {"task": "shout_wer", "class": "harness.tasks.wer:ASRWERTask", "needs": ["transcribe"],
                    "dataset": "local", "normalizer": "whisper-en", "description": "plugin task"}
    '''))
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(site), str(src)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    audio_dir = tmp_path / "audio"
    audio_dir.mkdir()
    import numpy as np
    import soundfile as sf
    sf.write(audio_dir / "a.wav", 0.1 * np.sin(np.arange(16000) / 5.0), 16000)
    (tmp_path / "m.jsonl").write_text('{"id": "a", "text": "hello there"}\n')
    env = {**os.environ, "PYTHONPATH": str(site)}
    listed = subprocess.run([sys.executable, "-m", "harness", "list"], capture_output=True, text=True, env=env, cwd=REPO)
    assert "shout_wer" in listed.stdout and "shout-asr" in listed.stdout
    run = subprocess.run([sys.executable, "-m", "harness", "run", "--task", "shout_wer", "--model", "shout-asr",
                          "--dataset-arg", f"path={tmp_path / 'm.jsonl'}", "--dataset-arg", "lang=en",
                          "--dataset-arg", f"audio_dir={audio_dir}",
                          "--output-dir", str(tmp_path / "out"), "--no-progress"],
                         capture_output=True, text=True, env=env, cwd=REPO)
    assert run.returncode == 0, run.stderr
    import json
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["metrics"][0]["value"] == pytest.approx(0.5)  # "hello" right, "there" deleted
