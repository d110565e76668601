"""The user guide builds with `mkdocs build --strict`: a broken link, a missing page or snippet fails here."""
import os
import subprocess
import sys

from tests.docs.helpers import REPO


def test_mkdocs_builds_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about its end of life, not a problem here
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
                          "--site-dir", str(tmp_path / "site")], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-4000:]
    assert (tmp_path / "site" / "quickstart" / "index.html").is_file()
    # Snippets are read from the files the tests run, so the page shows the tested code.
    extending = (tmp_path / "site" / "extending" / "index.html").read_text(encoding="utf-8")
    assert "EchoModel" in extending and "precomputed_belle" in extending
