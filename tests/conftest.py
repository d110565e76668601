"""Session fixtures shared across test folders: tiny real-format models (built once per session)."""
from pathlib import Path

import pytest

from tests.fixtures.paths import require_belle
from tests.fixtures.tiny_models import build_tiny_paraformer_dir, build_tiny_whisper_pt


@pytest.fixture(scope="session")
def tiny_whisper_pt(tmp_path_factory) -> Path:
    return build_tiny_whisper_pt(tmp_path_factory.mktemp("tiny_whisper"))


@pytest.fixture(scope="session")
def tiny_paraformer_dir(tmp_path_factory) -> Path:
    return build_tiny_paraformer_dir(tmp_path_factory.mktemp("tiny_paraformer"))


# -- shared data and the loopback Hub ------------------------------------------------------------------

@pytest.fixture(scope="session")
def belle_dir() -> Path:
    """The original BELLE-eval-S2S folder (test.tsv + wav/); read only, never copied into the project."""
    return require_belle()


@pytest.fixture
def hub_server():
    """A loopback Hugging Face Hub on 127.0.0.1 with empty in-memory repos (tests/fixtures/hub_server.py).

    Clients reach it through ``hub_server.env(tmp_path)`` (HF_ENDPOINT, HF_HUB_DISABLE_XET=1, a fake
    HF_TOKEN, caches in tmp); run them in a subprocess, since huggingface_hub reads those at import.
    """
    from tests.fixtures.hub_server import running_hub

    with running_hub() as hub:
        yield hub


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say loudly which tests did not run and why (a missing browser, data folder or package)."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    terminalreporter.write_sep("!", f"{len(skipped)} TEST(S) NOT RUN", red=True, bold=True)
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        terminalreporter.write_line(f"NOT RUN {report.nodeid}: {reason.removeprefix('Skipped: ')}", yellow=True)
