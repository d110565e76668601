"""Hub datasets record the commit they read, resolved from the revision asked for (loopback Hub)."""
import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]

# Loads through the harness loader in a fresh process (HF_ENDPOINT is read at import) and reports what it read.
LOAD = r"""
import json, sys
from harness.datasets.hub import HubAudioDataset
load = HubAudioDataset(sys.argv[1], split="test", lang="en", revision=sys.argv[2] or None, name="tiny").load()
print(json.dumps({"items": [[i.id, i.text, len(i.audio_bytes)] for i in load.items], "info": load.info}))
"""


def parquet(texts: list[str]) -> bytes:
    wav = io.BytesIO()
    sf.write(wav, np.zeros(1600, dtype=np.float32), 16000, format="WAV")
    table = pa.table({"id": [f"u{i}" for i in range(len(texts))], "text": texts,
                      "audio": [{"bytes": wav.getvalue(), "path": f"u{i}.wav"} for i in range(len(texts))]})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def load(hub, home: Path, repo: str, revision: str = "", offline: bool = False) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env = {**env, **hub.env(home), **({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"} if offline else {})}
    result = subprocess.run([sys.executable, "-c", LOAD, repo, revision], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_hub_loader_records_the_resolved_commit(hub_server, tmp_path):
    source = tmp_path / "v1"
    (source / "data").mkdir(parents=True)
    (source / "data" / "test-00000-of-00001.parquet").write_bytes(parquet(["one", "two"]))
    repo = hub_server.seed("someone/tiny-speech", source)
    first = repo.commits[-1].oid
    # A second commit changes the data: the head moves on.
    hub_server.apply_commit(repo, [{"key": "header", "value": {"summary": "v2"}},
                                   {"key": "file", "value": {"path": "data/test-00000-of-00001.parquet",
                                                             "content": base64.b64encode(parquet(["uno"])).decode()}}])
    head = repo.commits[-1].oid
    assert head != first

    latest = load(hub_server, tmp_path, "someone/tiny-speech")
    assert [t for _, t, _ in latest["items"]] == ["uno"]
    assert latest["info"]["revision"] == head and latest["info"]["revision_requested"] == "main"
    requests = len(hub_server.requests)
    offline = load(hub_server, tmp_path, "someone/tiny-speech", offline=True)  # the cached copy, and its commit
    assert offline["items"] == latest["items"] and offline["info"]["revision"] == head
    assert len(hub_server.requests) == requests  # offline means no request at all
    pinned = load(hub_server, tmp_path, "someone/tiny-speech", first)  # an old commit asked for by sha
    assert [(i, t) for i, t, _ in pinned["items"]] == [("u0", "one"), ("u1", "two")]
    assert pinned["info"]["revision"] == first and all(n > 44 for _, _, n in pinned["items"])
    assert hub_server.errors == [] and hub_server.unhandled == []
