"""The quick starts: every command of docs/quickstart.md runs offline, and the README shows exactly those."""
import json
import os
import subprocess

import pytest

from tests.docs.helpers import REPO, bash_blocks

QUICKSTART = REPO / "docs" / "quickstart.md"  # the one place the quick-start commands are written


def read(path) -> str:
    return path.read_text(encoding="utf-8")


def readme_quick_starts() -> list[str]:
    section = read(REPO / "README.md").split("\n## Quick starts\n", 1)[1].split("\n## ", 1)[0]
    return bash_blocks(section)


def test_readme_quick_starts_are_the_ones_tested():
    docs = bash_blocks(read(QUICKSTART))
    assert len(docs) == 3, "docs/quickstart.md: one bash block per quick start"
    assert readme_quick_starts() == docs, "README.md's quick starts differ from docs/quickstart.md: copy them over"


def test_first_two_readme_commands_are_make_demo_and_make_test():
    first = bash_blocks(read(REPO / "README.md"))[0].splitlines()
    assert [line.split()[:2] for line in first[:2]] == [["make", "demo"], ["make", "test"]]


@pytest.mark.slow
def test_every_quick_start_command_runs_offline(checkout):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    env.pop("BELLE_EVAL_S2S_DIR", None)  # the commands name the folder themselves
    for i, block in enumerate(bash_blocks(read(QUICKSTART)), start=1):
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=checkout, env=env,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"quick start {i} failed:\n{block}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"

    runs = checkout / "runs" / "quickstart"
    mine = json.loads((runs / "my-system" / "results.json").read_text(encoding="utf-8"))
    assert mine["status"] == "complete" and mine["counts"]["samples"] == 4
    headline = next(row for row in mine["metrics"] if row["headline"])
    assert headline["name"] == "cer" and 0 < headline["value"] < 0.1  # one substituted, one inserted character
    assert "my-system" in (runs / "board" / "README.md").read_text(encoding="utf-8")  # --name reaches the board

    whisper = json.loads((runs / "whisper-base" / "results.json").read_text(encoding="utf-8"))
    assert whisper["status"] == "complete" and whisper["model"]["device"] == "cpu"

    # The plug-in: installed from examples/echo_model by its entry point, run by name, its options checked.
    echo = json.loads((runs / "echo" / "results.json").read_text(encoding="utf-8"))
    assert echo["model"]["class"] == "echo_model:EchoModel" and echo["model"]["options"] == {"text": "你好"}
    assert (checkout / "plugins" / "echo_model" / "__init__.py").is_file()
    plugin_env = {**env, "PYTHONPATH": str(checkout / "plugins")}
    listed = subprocess.run([".venv/bin/python", "-m", "harness", "list", "models"], cwd=checkout, env=plugin_env,
                            capture_output=True, text=True)
    assert "from cslm-harness-echo-model" in listed.stdout
    typo = subprocess.run([".venv/bin/python", "-m", "harness", "run", "--task", "asr_wer", "--model", "echo",
                           "--model-arg", "txt=hi", "--output-dir", str(checkout / "typo")], cwd=checkout,
                          env=plugin_env, capture_output=True, text=True)
    assert typo.returncode == 2 and "unknown option(s) txt; accepted: text" in typo.stderr
    assert "Traceback" not in typo.stderr
