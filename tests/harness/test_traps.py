"""Issue 25's traps: mistakes that used to give wrong numbers with exit status 0. Each now stops with a clear first
line on stderr (exit 2: nothing ran) or says what went wrong (a warning; exit 3 for an incomplete result)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from harness.cli import EXIT_CONFIG, EXIT_INCOMPLETE, main

REPO = Path(__file__).resolve().parents[2]
SR = 16000


def tone(path: Path, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR), dtype=np.float32) / SR
    sf.write(path, (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR)


def asr_set(root: Path, rows: list[tuple[str, str]], wavs: bool = True, header: str = "id\ttext") -> Path:
    """A local TSV manifest (+ one wav per row unless ``wavs`` is False)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "test.tsv").write_text("\n".join([header, *("\t".join(r) for r in rows)]) + "\n", encoding="utf-8")
    for item_id, *_ in rows if wavs else []:
        tone(root / f"{item_id}.wav")
    return root / "test.tsv"


def run(capsys, *argv: str) -> tuple[int, str]:
    """``python -m harness run ...`` in-process: exit status and the first line on stderr."""
    capsys.readouterr()
    rc = main(["run", "--no-progress", "--bootstrap-resamples", "0", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err[0] if err else ""


def asr(manifest: Path, out: Path, *extra: str) -> list[str]:
    return ["--task", "asr_wer", "--model", "dummy-asr", "--model-arg", "text=hello", "--dataset", "local",
            "--dataset-arg", f"path={manifest}", "--output-dir", str(out), *extra]


# 1 -- a local dataset's language is never assumed
def test_local_dataset_without_language_is_refused(tmp_path, capsys):
    manifest = asr_set(tmp_path / "zh", [("a", "今天天气很好"), ("b", "我们去公园")])
    rc, first = run(capsys, *asr(manifest, tmp_path / "out"))
    assert rc == EXIT_CONFIG and not (tmp_path / "out").exists()
    assert first == (f"error: {manifest}:2: no language for 2 row(s) (line 2, 3) (the text looks like zh); pass "
                     f"--dataset-arg lang=en|zh, or give every row a 'lang' field")
    # Given on the command line, or by every row: it runs, in that language.
    assert run(capsys, *asr(manifest, tmp_path / "arg", "--dataset-arg", "lang=zh"))[0] == 0
    jsonl = tmp_path / "zh" / "rows.jsonl"
    jsonl.write_text("".join(json.dumps({"id": i, "text": "你好", "lang": "zh"}) + "\n" for i in "ab"))
    assert run(capsys, *asr(jsonl, tmp_path / "rows"))[0] == 0
    results = json.loads((tmp_path / "rows" / "results.json").read_text())
    assert {m["lang"] for m in results["metrics"]} == {"zh"}


# 2 -- precomputed outputs that match none (or some) of the dataset's ids, or serve a task they hold nothing for
def outputs(root: Path, rows: dict[str, str], wavs: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "responses.jsonl").write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in rows.items()))
    for key in rows if wavs else []:
        tone(root / "wav" / f"{key}.wav")
    return root


def precomputed(manifest: Path, system: Path, out: Path, task: str = "asr_wer") -> list[str]:
    return ["--task", task, "--model", "precomputed", "--model-path", str(system), "--dataset", "local",
            "--dataset-arg", f"path={manifest}", "--dataset-arg", "lang=en", "--judge", "en=dummy-asr",
            "--output-dir", str(out)]


def test_precomputed_ids_that_match_nothing_are_a_configuration_error(tmp_path, capsys):
    manifest = asr_set(tmp_path / "data", [(str(i), "hello world") for i in range(4)])
    system = outputs(tmp_path / "sys", {f"{i:04d}": "hello world" for i in range(4)})
    rc, first = run(capsys, *precomputed(manifest, system, tmp_path / "out"))
    assert rc == EXIT_CONFIG and not (tmp_path / "out").exists()
    assert first == (f"error: --model precomputed: none of the 4 sample(s) has an output in {system}/responses.jsonl: "
                     f"the dataset's ids are '0', '1', '2', ..., the outputs' keys '0000', '0001', '0002', ...; near "
                     f"miss: sample '0' vs output key '0000' (zero padding). Were these outputs made from this "
                     f"dataset? Make the keys match the ids (or pass --model-arg order=FILE / layout=)")


def test_precomputed_missing_some_ids_warns_and_counts_them(tmp_path):
    manifest = asr_set(tmp_path / "data", [(str(i), "hello world") for i in range(4)])
    system = outputs(tmp_path / "sys", {"0": "hello world", "1": "hello world"})
    cmd = [sys.executable, "-m", "harness", "run", "--no-progress", "--bootstrap-resamples", "0",
           *precomputed(manifest, system, tmp_path / "out")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == (
        f"WARNING harness: precomputed: 2 of 4 sample(s) have no output in {system}/responses.jsonl (first: '2', "
        f"'3'); they count as the system's failures (missing_output)")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    wer = next(m for m in results["metrics"] if m["headline"])
    assert wer["coverage"] == {"scored": 2, "total": 4, "system_failed": 2, "measurement_failed": 0}
    assert wer["value"] == 0.5  # the missing ones count: every reference word deleted


def test_precomputed_spoken_answers_cannot_serve_tts(tmp_path, capsys):
    texts = [("s1", "the cat sat on the mat"), ("s2", "a bird in the hand")]
    manifest = asr_set(tmp_path / "data", texts, wavs=False)
    answers = outputs(tmp_path / "s2s", {"s1": "I like cats.", "s2": "Birds fly south."})
    rc, first = run(capsys, *precomputed(manifest, answers, tmp_path / "out", task="tts_wer"))
    assert rc == EXIT_CONFIG
    assert first == ("error: --model precomputed: no output's text in "
                     f"{answers}/responses.jsonl is its item's text (e.g. sample 's1': input 'the cat sat on the "
                     "mat', output 'I like cats.'); the task scores speech of each item's text, and these look like "
                     "answers to other inputs (a spoken-conversation system's outputs)")
    text_only = outputs(tmp_path / "text", dict(texts), wavs=False)
    rc, first = run(capsys, *precomputed(manifest, text_only, tmp_path / "out2", task="tts_wer"))
    assert rc == EXIT_CONFIG and first.startswith(
        f"error: --model precomputed: {text_only} holds no wav for any of the 2 matching sample(s)")
    speech = outputs(tmp_path / "tts", dict(texts))  # the same ids, the items' texts, wavs: runs
    assert run(capsys, *precomputed(manifest, speech, tmp_path / "out3", task="tts_wer"))[0] == 0


# 3 -- no audio at all is the configuration's fault; unreadable rows are listed and never sent to --retry-failed
def test_no_item_has_its_audio_is_a_configuration_error(tmp_path, capsys):
    manifest = asr_set(tmp_path / "data", [("a", "hello"), ("b", "world")], wavs=False)
    rc, first = run(capsys, *asr(manifest, tmp_path / "out", "--dataset-arg", "lang=en"))
    assert rc == EXIT_CONFIG and not (tmp_path / "out").exists()
    assert first == (f"error: dataset local: none of the 2 item(s) of {manifest} has its audio file (e.g. "
                     f"{tmp_path}/data/a.wav, {tmp_path}/data/b.wav); point --dataset-arg audio_dir=DIR at the "
                     f"folder holding them, or fix the rows' 'audio' paths")


def test_bad_manifest_rows_are_listed_not_retried(tmp_path, capsys):
    manifest = asr_set(tmp_path / "data", [("a", "hello"), ("b", "hello", "extra")])
    capsys.readouterr()
    rc = main(["run", "--no-progress", "--bootstrap-resamples", "0",
               *asr(manifest, tmp_path / "out", "--dataset-arg", "lang=en")])
    err = capsys.readouterr().err
    assert rc == EXIT_INCOMPLETE and "--retry-failed" not in err
    assert err.splitlines() == [
        "incomplete: the measurement failed on 1 of 2 sample(s) (manifest: 1); they are left out of the figures "
        "(1 scored, 0 failed by the system)",
        "1 manifest row(s) cannot be read; fix them in the manifest (a retry cannot):",
        f"  {manifest}:3: 3 tab-separated fields, header has 2 (id, text)"]
    counts = json.loads((tmp_path / "out" / "results.json").read_text())["counts"]
    assert counts["scored"] + counts["system_failed"] + counts["measurement_failed"] == counts["samples"] == 2


# 4 -- an empty manifest
def test_empty_manifest_is_a_configuration_error(tmp_path, capsys):
    manifest = asr_set(tmp_path / "data", [])  # a header and no rows
    rc, first = run(capsys, *asr(manifest, tmp_path / "out", "--dataset-arg", "lang=en"))
    assert rc == EXIT_CONFIG
    assert first == (f"error: dataset local: {manifest} has no rows; add one row per sample (TSV: a header "
                     f"'id<TAB>text' then the rows; JSONL: one object per line)")
    empty = tmp_path / "data" / "empty.jsonl"
    empty.write_text("\n")
    assert run(capsys, *asr(empty, tmp_path / "out", "--dataset-arg", "lang=en"))[0] == EXIT_CONFIG


# 5 -- --output-dir naming a file
def test_output_dir_that_is_a_file(tmp_path, capsys):
    manifest = asr_set(tmp_path / "data", [("a", "hello")])
    taken = tmp_path / "results.txt"
    taken.write_text("not a folder")
    rc, first = run(capsys, *asr(manifest, taken, "--dataset-arg", "lang=en"))
    assert (rc, first) == (EXIT_CONFIG, f"error: --output-dir {taken} is a file; name a folder (a new one, or a "
                                        f"previous run's)")
    rc, first = run(capsys, *asr(manifest, taken / "sub", "--dataset-arg", "lang=en"))
    assert rc == EXIT_CONFIG and first.startswith(f"error: --output-dir {taken}/sub lies under {taken}, which is a file")


# 6 -- the default folder names the dataset; a finished result is not replaced by another spec
def test_default_folder_and_no_silent_replacement(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    manifest = asr_set(tmp_path / "data", [("a", "hello"), ("b", "hello")])
    base = ["--task", "asr_wer", "--model", "dummy-asr", "--dataset", "local", "--dataset-arg", f"path={manifest}",
            "--dataset-arg", "lang=en"]
    assert run(capsys, *base, "--model-arg", "text=hello")[0] == 0
    folder = Path("runs/asr_wer--dummy-asr--local")
    first_result = json.loads((folder / "results.json").read_text())
    assert run(capsys, *base, "--model-arg", "text=hello")[0] == 0  # the same spec: resumes, fine
    rc, first = run(capsys, *base, "--model-arg", "text=bye")
    assert rc == EXIT_CONFIG
    assert first == ("error: runs/asr_wer--dummy-asr--local holds a finished result of another run (model_args: "
                     "{'text': 'hello'} -> {'text': 'bye'}); pass --overwrite to replace it, or --output-dir DIR to "
                     "keep both")
    assert json.loads((folder / "results.json").read_text())["options"] == first_result["options"]  # untouched
    assert run(capsys, *base, "--model-arg", "text=bye", "--overwrite")[0] == 0
    # A set's name is input: it cannot steer the folder out of runs/.
    assert run(capsys, *base, "--model-arg", "text=hello", "--dataset-arg", "name=../../x")[0] == 0
    made = sorted(p.name for p in Path("runs").iterdir())
    assert made[0] == "asr_wer--dummy-asr--.._.._x-" + made[0].rsplit("-", 1)[1] and len(made) == 2
    assert not (tmp_path.parent / "x").exists() and not Path("x").exists()


# 7 -- hints that point the right way
def test_hints_name_the_right_options(tmp_path, capsys):
    manifest = asr_set(tmp_path / "data", [("a", "hello world")], wavs=False)
    rc, first = run(capsys, "--task", "tts_wer", "--model", "dummy-tts", "--dataset", "local", "--dataset-arg",
                    f"path={manifest}", "--dataset-arg", "lang=en", "--judge", "en=whisper-huge-v9",
                    "--output-dir", str(tmp_path / "out"))
    assert rc == EXIT_CONFIG and "--model-arg" not in first
    assert first.endswith("or pass a local checkpoint with --judge-arg en.path=MODEL.pt; or pass --offline-judges "
                          "(the judges that install offline)")
    rc, first = run(capsys, *asr(manifest, tmp_path / "out", "--dataset-arg", "lang=en")[:4], "--task", "tts_wer")
    assert rc == EXIT_CONFIG and "`python -m harness list models` shows capabilities" in first
    capsys.readouterr()
    assert main(["list", "models"]) == 0
    listing = capsys.readouterr().out.splitlines()
    at = listing.index(next(line for line in listing if line.strip().startswith("dummy-asr ")))
    assert listing[at + 1].strip() == "can: transcribe | languages: any"
    assert "can: transcribe | languages: en" in listing[listing.index(
        next(line for line in listing if line.strip().startswith("whisper-tiny.en-bundled"))) + 1]
    from training.cli import main as training_main

    try:
        training_main(["train", "tiny_cpu_cpt", "--output-dir", str(tmp_path / "t")])
    except SystemExit as exc:
        assert exc.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("give the recipe override output_dir=DIR "
                                                                     "(mini-cslm-probe: --set output_dir=DIR), not "
                                                                     "--output-dir")


# 8 -- results record what ran: the effective options, a hash of the data, and the system's name
def test_results_record_what_ran(tmp_path, capsys):
    manifest = asr_set(tmp_path / "data", [("a", "hello"), ("b", "world")])
    assert run(capsys, *asr(manifest, tmp_path / "one", "--dataset-arg", "lang=en", "--name", "my-asr"))[0] == 0
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    assert one["model"]["name"] == "my-asr" and one["options"]["dataset"] == "local"
    assert set(one["dataset"]) >= {"manifest_sha256", "audio_sha256"}
    (tmp_path / "data" / "test.tsv").write_text("id\ttext\na\thello\nb\tword\n")  # another manifest, same name
    assert run(capsys, *asr(manifest, tmp_path / "two", "--dataset-arg", "lang=en"))[0] == 0
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    assert two["dataset"]["manifest_sha256"] != one["dataset"]["manifest_sha256"]
    assert two["dataset"]["audio_sha256"] == one["dataset"]["audio_sha256"] and "name" not in two["model"]
    capsys.readouterr()
    main(["show", str(tmp_path / "one")])
    assert "| my-asr " in capsys.readouterr().out


def test_reference_scorer_recorded_as_it_ran(tmp_path, capsys):
    # s2s_reference_qa's YAML turns the reference scorer on; results say so, whatever the flags said.
    questions = tmp_path / "qa.jsonl"
    tone(tmp_path / "q0.wav")
    questions.write_text(json.dumps({"id": "q0", "text": "two plus two?", "reference": "four",
                                     "audio": str(tmp_path / "q0.wav")}) + "\n")
    system = outputs(tmp_path / "sys-a", {"q0": "four"}, wavs=False)
    rc, _ = run(capsys, "--task", "s2s_reference_qa", "--model", "precomputed", "--model-path", str(system),
                "--dataset", "local", "--dataset-arg", f"path={questions}", "--dataset-arg", "lang=en",
                "--judge", "en=dummy-asr", "--output-dir", str(tmp_path / "out"))
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert rc == 0 and results["options"]["reference_scorer"] is True
    assert results["model"]["name"] == "sys-a"  # a precomputed system: its folder's name
