"""Task groups and user task files, on real offline runs: `--task a,b` (one a user's YAML), the uro-basic-en group
with its summary over a 10-set URO fixture (precomputed answers, offline ASR judge, loopback LLM judge), reruns,
config errors before anything runs, `harness show` and `leaderboard build` on the group folder."""
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from harness.audio import write_wav
from harness.cli import main
from harness.datasets.uro_bench import SETS
from harness.groups import GROUPS, load_group_file
from harness.registry import MODELS, TASKS
from harness.tasks.uro_layout import uro_summary
from leaderboards.build import build
from tests.fixtures.openai_server import running_openai
from tests.fixtures.s2s_data import judge_args

REPO = Path(__file__).resolve().parents[2]
URO_README_EN = ["Repeat", "Summary", "GaokaoEval", "StoralEval", "TruthfulEval", "Gsm8kEval", "MLC", "AlpacaEval",
                 "CommonEval", "WildchatEval"]
PIPER = ["--model", "piper-en_US-joe-medium", "--model-arg", "noise_scale=0", "--model-arg", "noise_w_scale=0"]
QUICK = ["--offline-judges", "--limit", "1", "--no-progress", "--bootstrap-resamples", "20"]


def run(capsys, *argv):
    rc = main(["run", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def user_task(folder: Path, text: str, name: str = "my_tts.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


MY_TTS = (REPO / "harness/tasks/tts_wer/tts_wer.yaml").read_text(encoding="utf-8").replace("task: tts_wer\n", "")


def test_two_tasks_one_a_user_file_then_rerun_skips_and_show_reads_the_folder(tmp_path, capsys):
    mine = user_task(tmp_path, MY_TTS)
    out = tmp_path / "g"
    rc, stdout, err = run(capsys, "--task", f"tts_wer,{mine}", *PIPER, *QUICK, "--output-dir", str(out))
    assert rc == 0, err
    assert "[1/2] tts_wer: complete (ran" in stdout and "[2/2] my_tts: complete (ran" in stdout
    shipped = json.loads((out / "tts_wer" / "results.json").read_text())
    own = json.loads((out / "my_tts" / "results.json").read_text())
    assert shipped["task"]["name"] == "tts_wer" and own["task"]["name"] == "my_tts"  # a task file: its stem
    assert own["task"]["source"] == str(mine)
    assert own["task"]["sha256"] == hashlib.sha256(mine.read_bytes()).hexdigest()
    group = json.loads((out / "group.json").read_text())
    assert group["status"] == "complete" and group["summaries"] == []
    assert [(m["label"], m["results"], m["status"]) for m in group["members"]] == [
        ("tts_wer", "tts_wer/results.json", "complete"), ("my_tts", "my_tts/results.json", "complete")]

    stamp = (out / "tts_wer" / "results.json").stat().st_mtime_ns
    rc, stdout, err = run(capsys, "--task", f"tts_wer,{mine}", *PIPER, *QUICK, "--output-dir", str(out))
    assert rc == 0, err
    assert stdout.count("complete (skipped: finished earlier") == 2
    assert (out / "tts_wer" / "results.json").stat().st_mtime_ns == stamp  # not even rewritten

    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "| tts_wer " in shown and "| my_tts " in shown and "group tts_wer+my_tts" in shown


def test_config_errors_stop_the_group_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "never"
    rc, _, err = run(capsys, "--task", "tts_wer,no_such_task", *PIPER, *QUICK, "--output-dir", str(out))
    assert rc == 2 and "unknown task 'no_such_task'" in err and "list groups" in err
    rc, _, err = run(capsys, "--task", "tts_wer,asr_wer", *PIPER, *QUICK, "--output-dir", str(out))
    assert rc == 2 and "member asr_wer" in err and "needs a model that can transcribe" in err
    rc, _, err = run(capsys, "--task", "tts_wer,tts_wer", *PIPER, *QUICK, "--output-dir", str(out))
    assert rc == 2 and "listed twice" in err
    assert not out.exists()  # the first member was checked, not run


@pytest.mark.parametrize("text, field", [
    (MY_TTS.replace("needs: [synthesize]", "needs: synthesize"), "field 'needs' must be a list"),
    (MY_TTS + "normaliser: seed-tts-eval\n", "unknown field(s) normaliser"),
    (MY_TTS.replace("normalizer: seed-tts-eval", "normalizer: seed-tts"), "field 'normalizer'"),
    (MY_TTS.replace("aggregation: mean-utterance", "aggregation: median"), "aggregation 'median'"),
    ("task: other\n" + MY_TTS, "field 'task' is 'other'"),
    (MY_TTS.replace("class: harness.tasks.wer:TTSWERTask", "class: harness.tasks.wer:NoSuch"), "field 'class'"),
])
def test_a_broken_user_task_file_names_the_file_and_field(tmp_path, capsys, text, field):
    path = user_task(tmp_path, text)
    rc, _, err = run(capsys, "--task", str(path), *PIPER, *QUICK, "--output-dir", str(tmp_path / "o"))
    assert rc == 2 and str(path) in err and field in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_a_missing_task_file_is_a_config_error(tmp_path, capsys):
    rc, _, err = run(capsys, "--task", str(tmp_path / "nope.yaml"), *PIPER, *QUICK)
    assert rc == 2 and "no such task file" in err


# -- the shipped groups ----------------------------------------------------------------------------------------
def test_uro_groups_hold_every_basic_set_of_their_language_in_evaluate_py_order():
    for lang in ("en", "zh"):
        group = load_group_file(GROUPS.get(f"uro-basic-{lang}"))
        expected = [s.name for s in SETS.values() if s.track == "basic" and s.lang == lang]
        assert [m.key for m in group.members] == [m.dataset_args["set"] for m in group.members] == expected
        assert {m.task for m in group.members} == {"uro_basic"} and len(expected) == 10
    # the pro track's multi-round sets: every set URO scores with --mode multi or sa, in evaluate.py's order
    group = load_group_file(GROUPS.get("uro-pro-multiturn"))
    expected = [s.name for s in SETS.values() if s.track == "pro" and s.mode in ("multi", "sa")]
    assert [m.key for m in group.members] == [m.dataset_args["set"] for m in group.members] == expected
    assert {m.task for m in group.members} == {"uro_pro"} and len(expected) == 3
    assert [label for label, _ in group.summaries[0].show] == [*expected, "Overall"]


def test_voicebench_group_covers_every_leaderboard_column_with_its_own_tasks():
    from harness.tasks.voicebench import data_file

    group = load_group_file(GROUPS.get("voicebench"))
    subsets = data_file("subsets.json")["subsets"]
    columns = [c["subset"] for c in data_file("leaderboard.json")["columns"]]
    assert list(dict.fromkeys(m.key for m in group.members)) == columns
    for m in group.members:
        assert m.task in TASKS and m.dataset == "voicebench" and m.key == m.dataset_args["config"]
        evaluator = subsets[m.key]["evaluator"]
        assert m.task == f"voicebench_{evaluator}"
        assert ("llm_judge" in m.without) == (evaluator not in ("open", "qa"))  # rule-based scorers refuse one
    assert sorted(m.dataset_args["split"] for m in group.members if m.key == "mmsu") == sorted(subsets["mmsu"]["splits"])
    from harness.groups import _import

    _import(group.summaries[0].function, "voicebench")  # the summary function resolves


def test_a_group_file_cannot_steer_writes_outside_the_run_folder(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("group: mine\nmembers:\n  - {task: tts_wer, label: ../../escape}\n", encoding="utf-8")
    (member,) = load_group_file(path).members
    assert "/" not in member.label and not member.label.startswith(".")


# -- uro-basic-en on a fixture of all ten English basic sets, one item each -----------------------------------
QUESTION, ANSWER = "Please close the door.", "Please close the door."


@pytest.fixture(scope="module")
def uro(tmp_path_factory):
    """root/URO-Bench-data/basic/<Set>/test.jsonl + audio; systems/<Set>/ the answers in URO's output layout."""
    base = tmp_path_factory.mktemp("uro-group")
    tts = MODELS.get("piper-en_US-joe-medium")(name="piper-en_US-joe-medium", noise_scale="0", noise_w_scale="0")
    (audio,) = tts.synthesize([QUESTION], "en")
    wav = base / "q.wav"
    write_wav(wav, audio.samples, audio.sample_rate)
    for spec in SETS.values():
        if spec.track != "basic" or spec.lang != "en":
            continue
        data = base / "data" / "URO-Bench-data" / "basic" / spec.name
        (data / "audio").mkdir(parents=True)
        shutil.copyfile(wav, data / "audio" / "0.wav")
        question = f"{QUESTION} ({spec.name})" if spec.mode != "wer" else QUESTION
        row = {"source_wav": "audio/0.wav", "source_text": question} | ({} if spec.mode == "wer" else
                                                                        {"target_text": "Done."})
        (data / "test.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
        system = base / "systems" / spec.name
        (system / "audio").mkdir(parents=True)
        (system / "pred_text.jsonl").write_text(json.dumps({"0000": ANSWER}) + "\n", encoding="utf-8")
        shutil.copyfile(wav, system / "audio" / "0000.wav")
    return base


def uro_args(uro, server, out):
    judge = [x for k, v in judge_args(server).items() for x in ("--llm-judge-arg", f"{k}={v}")]
    return ["--task", "uro-basic-en", "--model", "precomputed", "--model-arg", "layout=uro-bench",
            "--model-arg", f"path={uro / 'systems'}/{{set}}", "--dataset-arg", f"path={uro / 'data'}",
            "--llm-judge", "openai:judge-model", *judge, "--offline-judges", "--no-progress",
            "--bootstrap-resamples", "20", "--name", "sys-a", "--output-dir", str(out)]


@pytest.mark.slow  # ten members, two passes: about 3 minutes on a busy 2-core CPU
def test_uro_basic_en_group_incomplete_member_then_resumed_with_its_summary_shown_and_on_the_board(uro, tmp_path,
                                                                                                  capsys):
    out = tmp_path / "uro-group"
    down = {"Summary": True}  # the judge fails on the Summary set's question until the rerun

    def fault(body, attempt):
        return "500" if down["Summary"] and "(Summary)" in body["messages"][-1]["content"] else None

    with running_openai(fault=fault) as server:
        rc, stdout, err = run(capsys, *uro_args(uro, server, out))
        assert rc == 3, err  # the judge failed on one member: the group is incomplete, the other members ran
        assert "uro_basic--Summary" in err and stdout.count("] uro_basic--") == 10
        group = json.loads((out / "group.json").read_text())
        status = {m["label"]: m["status"] for m in group["members"]}
        assert status.pop("uro_basic--Summary") == "incomplete" and set(status.values()) == {"complete"}
        assert group["status"] == "incomplete" and not group["summaries"][0]["complete"]

        down["Summary"] = False
        rc, stdout, err = run(capsys, *uro_args(uro, server, out), "--retry-failed")
    assert rc == 0, err
    group = json.loads((out / "group.json").read_text())
    assert group["status"] == "complete"
    results = {m["key"]: json.loads((out / m["results"]).read_text()) for m in group["members"]}
    assert (out / "uro_basic--Repeat" / "uro" / "eval" / "basic" / "Repeat").is_dir()  # each member's own layout
    assert results["Repeat"]["model"]["options"]["path"].endswith("systems/Repeat")  # {set} filled per member
    (summary,) = group["summaries"]
    expected = uro_summary(results, channel="speech")
    assert summary["complete"] and summary["value"]["final_score"] == pytest.approx(expected["final_score"])
    table = {row["name"]: row["value"] for row in summary["table"]}
    assert list(table) == ["Overall", *URO_README_EN, "Understanding", "Reasoning", "Oral"]  # pastes into URO's table
    assert table["Overall"] == pytest.approx(expected["final_score"])
    assert table["Oral"] == pytest.approx(expected["categories"]["oral_basic_en"])

    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "summary of uro-basic-en" in shown and f"{table['Overall']:.2f}" in shown and "| uro_basic " in shown

    built = build([out], tmp_path / "board", with_plots=False)
    assert len(built.collection.runs) == 10 and built.collection.groups[0]["name"] == "uro-basic-en"
    page = (tmp_path / "board" / "README.md").read_text()
    assert "## Group uro-basic-en" in page and "| system | Overall | Repeat | Summary | GaokaoEval |" in page
    assert "Published rows, **copied, not measured here**: [Ruiqi-Yan/URO-Bench" in page and "| GLM-4-Voice | 69.09 |" in page
    assert "| sys-a | " in page and f"{table['Overall']:.2f} |" in page
