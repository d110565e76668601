"""The Python API example in docs/extending.md (examples/python_api.py) runs, and its results are a run's."""
import json
import os
import subprocess

from tests.docs.helpers import REPO


def test_python_api_example_runs(checkout):
    assert '--8<-- "examples/python_api.py"' in (REPO / "docs" / "extending.md").read_text(encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("BELLE_EVAL_S2S_DIR", None)
    out = subprocess.run([".venv/bin/python", "examples/python_api.py", "out"], cwd=checkout, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("cer zh (corpus): 0.034 ") and "status: complete" in out.stdout
    results = json.loads((checkout / "out" / "results.json").read_text(encoding="utf-8"))
    assert results["model"]["id"] == "precomputed" and results["counts"]["samples"] == 4
