"""The voicebench dataset: parquet files in hlt-lab/voicebench's layout (<config>/<split>-NNNNN-of-NNNNN.parquet),
from a local folder and from a (loopback) Hub, whose commit is recorded; user mistakes are one-line errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.audio import item_audio
from harness.datasets.base import DatasetUnavailableError
from harness.datasets.voicebench import VoiceBench
from harness.options import ConfigError
from harness.registry import DATASETS
from tests.harness.voicebench.helpers import write_split

REPO = Path(__file__).resolve().parents[3]
SDQA = [{"prompt": "what is the capital of france", "reference": "Paris"},
        {"prompt": "how many legs does a spider have", "reference": "eight"}]
MMSU = [{"prompt": f"law question {i}", "reference": "ABCD"[i % 4], "question_id": i} for i in range(5)]


@pytest.fixture
def local(tmp_path):
    root = tmp_path / "voicebench"
    write_split(root, "sd-qa", "usa", SDQA)
    write_split(root, "sd-qa", "aus", SDQA[:1])
    write_split(root, "mmsu", "law", MMSU, shards=2)  # law-00000-of-00002.parquet, law-00001-of-00002.parquet
    return root


def test_local_copy_in_the_hub_layout(local):
    load = DATASETS.get("voicebench")(config="sd-qa", split="usa", path=str(local)).load()
    assert [(i.id, i.text, i.custom["reference"], i.lang) for i in load.items] == [
        ("0", SDQA[0]["prompt"], "Paris", "en"), ("1", SDQA[1]["prompt"], "eight", "en")]
    assert "audio" not in load.items[0].custom and load.items[0].custom["prompt"] == SDQA[0]["prompt"]
    audio = item_audio(load.items[1], 16000)  # the embedded bytes decode with soundfile
    assert audio.sample_rate == 16000 and 0.35 < audio.seconds < 0.45
    assert load.info["name"] == "voicebench/sd-qa/usa" and load.info["files"] == ["sd-qa/usa-00000-of-00001.parquet"]
    assert load.info["config"] == "sd-qa" and load.info["split"] == "usa" and load.info["revision"] is None


def test_shards_are_read_in_order(local):
    load = VoiceBench(config="mmsu", split="law", path=str(local)).load()
    assert [i.custom["question_id"] for i in load.items] == list(range(5))
    assert len(load.info["files"]) == 2


def test_single_split_configs_default_to_test(tmp_path):
    write_split(tmp_path, "openbookqa", "test", [{"prompt": "q", "reference": "A"}])
    assert VoiceBench(config="openbookqa", path=str(tmp_path)).load().info["split"] == "test"


@pytest.mark.parametrize("args,message", [
    ({"config": "sdqa"}, "no config 'sdqa'; choose one of alpacaeval, alpacaeval_full"),
    ({}, "needs a subset: --dataset-arg config=NAME"),
    ({"config": "sd-qa"}, "several splits: pass --dataset-arg split=NAME, one of aus, gbr"),
    ({"config": "sd-qa", "split": "us"}, "no split 'us'; choose one of aus, gbr, ind_n"),
    ({"config": "mmsu", "split": "maths"}, "choose one of biology, business"),
    ({"config": "mtbench"}, "multi-turn"),
])
def test_unknown_config_or_split(args, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        VoiceBench(**args)


def test_local_folder_mistakes(local, tmp_path):
    with pytest.raises(DatasetUnavailableError, match="is not a folder"):
        VoiceBench(config="bbh", path=str(tmp_path / "nowhere")).load()
    with pytest.raises(DatasetUnavailableError, match=r"no folder .*bbh for config bbh; .* holds: mmsu, sd-qa"):
        VoiceBench(config="bbh", path=str(local)).load()
    with pytest.raises(DatasetUnavailableError, match=r"no gbr-\*\.parquet .* holds: aus-00000-of-00001.parquet"):
        VoiceBench(config="sd-qa", split="gbr", path=str(local)).load()


def test_a_row_without_audio_is_a_problem_not_a_crash(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "advbench").mkdir()
    pq.write_table(pa.Table.from_pylist([{"prompt": "q", "audio": {"bytes": None, "path": "x.wav"}}]),
                   tmp_path / "advbench" / "test-00000-of-00001.parquet")
    load = VoiceBench(config="advbench", path=str(tmp_path)).load()
    assert not load.items and "no embedded audio bytes" in load.problems[0].reason


LOAD = r"""
import json, sys
from harness.datasets.voicebench import VoiceBench
load = VoiceBench(config=sys.argv[1], split=sys.argv[2]).load()
print(json.dumps({"items": [[i.id, i.text, i.custom.get("reference"), len(i.audio_bytes)] for i in load.items],
                  "info": load.info}))
"""
CARD = """---
configs:
- config_name: sd-qa
  data_files:
  - split: usa
    path: sd-qa/usa-*
  - split: aus
    path: sd-qa/aus-*
- config_name: mmsu
  data_files:
  - split: law
    path: mmsu/law-*
---
"""


def test_hub_records_the_commit_read(hub_server, local, tmp_path):
    (local / "README.md").write_text(CARD, encoding="utf-8")  # the Hub card names each config's files
    repo = hub_server.seed("hlt-lab/voicebench", local)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))} | hub_server.env(tmp_path)
    result = subprocess.run([sys.executable, "-c", LOAD, "sd-qa", "usa"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert [i[:3] for i in out["items"]] == [["0", SDQA[0]["prompt"], "Paris"], ["1", SDQA[1]["prompt"], "eight"]]
    assert out["info"]["revision"] == repo.commits[-1].oid and out["info"]["source"] == "hub:hlt-lab/voicebench"
    assert hub_server.errors == []
