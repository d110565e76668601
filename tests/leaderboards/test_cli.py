"""`python -m harness leaderboard build`, exported runs without absolute paths, the committed leaderboard."""
import csv
import json
from pathlib import Path

import pytest

from harness.cli import main as harness_main
from leaderboards.collect import collect
from leaderboards.export import repo_root

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "leaderboards"


def test_build_command_writes_every_output_and_reports_skipped_files(runs_root, asr_runs, tts_runs, tmp_path,
                                                                     capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text('{"schema": "cslm-harness/results/v1"}', encoding="utf-8")
    out = tmp_path / "lb"
    rc = harness_main(["leaderboard", "build", str(runs_root), str(bad), "--out", str(out), "--copy-runs"])
    assert rc == 0
    captured = capsys.readouterr()
    assert f"skipped: {bad / 'results.json'}: missing field 'task'" in captured.err
    assert "5 results files, 2 tables, 1 skipped" in captured.out
    for name in ("README.md", "leaderboard.csv", "index.html", "plots/asr_wer.png", "plots/tts_wer.png"):
        assert (out / name).is_file(), name
    copies = collect([out / "results"])
    assert len(copies.runs) == 5 and not copies.skipped
    root = str(repo_root())
    for path in (out / "results").rglob("*"):
        if path.is_file():
            assert root not in path.read_text(encoding="utf-8"), path  # no absolute path of this checkout
    md = (out / "README.md").read_text(encoding="utf-8")
    assert "](results/" in md and "Skipped results files" in md
    assert harness_main(["leaderboard", "build", str(bad), "--out", str(tmp_path / "none")]) == 1


def test_the_committed_leaderboard_matches_its_runs():
    csv_path = COMMITTED / "leaderboard.csv"
    if not csv_path.is_file():
        pytest.skip("no committed leaderboard yet (make leaderboard)")
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert rows
    for row in rows:
        results = json.loads((COMMITTED / row["results"]).read_text(encoding="utf-8"))
        assert (COMMITTED / row["samples"]).is_file()
        metric = next(m for m in results["metrics"] if (m["name"], m["lang"], m["aggregation"]) ==
                      (row["metric"], row["lang"], row["aggregation"]))
        assert float(row["value"]) == metric["value"]
    root = str(REPO)
    for path in [COMMITTED / "README.md", COMMITTED / "index.html", csv_path, *COMMITTED.glob("results/**/*.json*"),
                 *COMMITTED.glob("ablations/**/*.md")]:
        assert root not in path.read_text(encoding="utf-8"), path


def test_runs_sharing_a_folder_name_are_copied_under_their_group_and_sub_boards_are_linked(asr_runs, tts_runs,
                                                                                           tmp_path):
    """results/<checkpoint>/<run> layouts (the mini-CSLM's) repeat run names: copies are named <group>--<run>;
    a board built into a sub-folder is linked from the page above it, never merged into its tables."""
    from tests.leaderboards.helpers import copy_run

    runs = tmp_path / "runs"
    copy_run(asr_runs["hello"], runs / "cpt" / "asr")
    copy_run(asr_runs["province"], runs / "sft" / "asr")
    copy_run(tts_runs["ls10"], runs / "sft" / "tts")
    main = tmp_path / "lb"
    assert harness_main(["leaderboard", "build", str(runs), "--out", str(main / "mini"), "--copy-runs"]) == 0
    assert sorted(p.name for p in (main / "mini" / "results").iterdir()) == ["cpt--asr", "sft--asr", "tts"]
    assert harness_main(["leaderboard", "build", str(tts_runs["ls13"]), "--out", str(main), "--copy-runs"]) == 0
    md = (main / "README.md").read_text(encoding="utf-8")
    assert "## Other boards" in md and "- [mini](mini/README.md)" in md
    assert 'href="mini/README.md"' in (main / "index.html").read_text(encoding="utf-8")
    assert len(collect([main / "results"]).runs) == 1  # the sub-board's runs stay out of the main tables
    before = {p.relative_to(main): p.read_bytes() for p in (main / "mini" / "results").rglob("*.json*")}
    # rebuilt in place from its own copies (what `make mini-cslm` does to the main page): nothing is lost
    assert harness_main(["leaderboard", "build", str(main / "mini" / "results"), "--out", str(main / "mini"),
                         "--copy-runs"]) == 0
    assert {p.relative_to(main): p.read_bytes() for p in (main / "mini" / "results").rglob("*.json*")} == before


def test_a_local_checkpoint_is_named_by_its_last_two_folders():
    from leaderboards.collect import describe_model

    assert describe_model({"id": "cslm", "checkpoint": "/x/runs/mini-cslm/sft-full", "hub_id": None,
                           "revision": "sha256:" + "ab" * 20}) == "cslm[mini-cslm/sft-full]@sha256:abababababab"
    assert describe_model({"id": "cslm-sft", "checkpoint": "ICTNLP/CSLM-SFT", "hub_id": "ICTNLP/CSLM-SFT"},
                          revision=False) == "cslm-sft"
    assert describe_model({"id": "piper", "options": {"length_scale": 1.3}}) == "piper (length_scale=1.3)"
