"""A checkout-shaped folder in tmp, so the docs' commands run exactly as written (from the repository root, with
`.venv/bin/python`, `examples/` and `../shared/BELLE-eval-S2S`) while everything they write stays in tmp."""
import shutil
import sys
from pathlib import Path

import pytest

from tests.docs.helpers import REPO


@pytest.fixture
def checkout(tmp_path, belle_dir) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".venv").symlink_to(Path(sys.prefix))  # the environment running these tests
    # A copy: pip builds the plug-in in its source folder (build/, *.egg-info), which must stay out of the checkout.
    shutil.copytree(REPO / "examples", root / "examples",
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "BELLE-eval-S2S").symlink_to(belle_dir)
    return root
