"""The S2S reference scorer end to end, offline: Piper speaks the answers, Whisper tiny.en transcribes them, no LLM
judge; each channel is scored against the dataset's reference answers."""
import json

import pytest

from harness.cli import EXIT_CONFIG, main
from harness.options import ConfigError, RunOptions
from harness.runner import evaluate
from tests.fixtures.s2s_data import write_precomputed


def metric(results, name, channel, aggregation=None):
    return next(m for m in results["metrics"] if m["name"] == name and m["channel"] == channel
                and (aggregation is None or m["aggregation"] == aggregation))


def write_questions(path, answers, references):
    """A local JSONL dataset: question i is spoken by answer i's recording (any speech serves as a question)."""
    with open(path, "w", encoding="utf-8") as fh:
        for i, (_, wav) in enumerate(answers):
            row = {"id": f"q{i}", "text": f"question {i}", "audio": str(wav)}
            if references is not None:
                row["reference"] = references[i]
            fh.write(json.dumps(row) + "\n")
    return path


@pytest.fixture(scope="module")
def qa(tmp_path_factory, english_answers):
    """q0: right answer; q1: the reference ("thirty four") inside a sentence; q2: a wrong answer; q3: no speech."""
    root = tmp_path_factory.mktemp("reference_qa")
    texts = [text for text, _ in english_answers]
    references = [texts[0], "thirty four", texts[2], texts[3]]
    dataset = write_questions(root / "questions.jsonl", english_answers, references)
    system = write_precomputed(root / "system", {"q0": english_answers[0], "q1": english_answers[1],
                                                 "q2": english_answers[3], "q3": english_answers[3]})
    lines = [json.loads(x) for x in (system / "responses.jsonl").read_text(encoding="utf-8").splitlines()]
    (system / lines[3]["audio"]).unlink()
    lines[3]["audio"] = None  # q3: a text answer and no speech
    (system / "responses.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return root, dataset, system


def options(root, dataset, system, **extra):
    return RunOptions(**{"task": "s2s_reference_qa", "model": "precomputed", "model_args": {"path": str(system)},
                         "dataset": "local", "dataset_args": {"path": str(dataset), "lang": "en"},
                         "offline_judges": True, "output_dir": str(root / "run"), "progress": False,
                         "bootstrap_resamples": 200, **extra})


def test_reference_scorer_offline_both_channels_and_failures(qa):
    root, dataset, system = qa
    results = evaluate(options(root, dataset, system))
    assert results["status"] == "complete"
    assert results["counts"]["system_failed"] == 1 and results["counts"]["measurement_failed"] == 0
    assert results["llm_judge"] == {"id": "none", "status": "not used", "chosen_by": (
        f"{results['task']['source']}: options.llm_judge none")}
    assert not any(m["name"] == "judge_score" for m in results["metrics"])
    assert not any(k.startswith("judge_") for k in results["stage_keys"])  # no judge stage ran
    scorer = results["reference_scorer"]
    assert scorer["field"] == "reference" and scorer["normalizer"]["name"] == "asr-default"
    rows = {r["id"]: r for r in map(json.loads, (root / "run" / "samples.jsonl").read_text().splitlines())}
    assert rows["q1"]["reference"] == "thirty four"

    # Text channel: every answer is there. q0 equals its reference; q1 contains it ("thirty four" -> "34" on
    # both sides); q2 is another sentence; q3 equals its reference.
    assert [rows[f"q{i}"]["ref_exact_match_text"] for i in range(4)] == [1.0, 0.0, 0.0, 1.0]
    assert [rows[f"q{i}"]["ref_contains_text"] for i in range(4)] == [1.0, 1.0, 0.0, 1.0]
    assert rows["q0"]["ref_errors_text"] == 0 and rows["q3"]["ref_errors_text"] == 0
    assert rows["q1"]["ref_errors_text"] == 7  # one reference token ("34") in an eight-word sentence
    assert rows["q2"]["ref_errors_text"] > 0
    em = metric(results, "ref_exact_match", "text")
    assert em["value"] == 0.5 and em["n"] == 4 and em["headline"] and len(em["ci95"]) == 2
    assert em["coverage"] == {"scored": 4, "total": 4, "system_failed": 0, "measurement_failed": 0}
    assert metric(results, "ref_contains", "text")["value"] == 0.75
    wer = metric(results, "ref_wer", "text", "corpus")
    ref_tokens = sum(rows[f"q{i}"]["ref_tokens"] for i in range(4))
    assert wer["headline"] and wer["value"] == pytest.approx((7 + rows["q2"]["ref_errors_text"]) / ref_tokens)
    assert wer["scored_only"]["value"] == wer["value"] and "reference token counts as deleted" in wer["failure_rule"]

    # Speech channel: the transcript of the spoken answer. q3 has no speech: the system's failure, scored 0 /
    # every reference token deleted, never left out; its text channel was still scored above.
    assert rows["q3"]["channels"]["speech"]["status"] == "system_failure" and "ref_exact_match_speech" not in rows["q3"]
    assert rows["q0"]["ref_errors_speech"] <= 1 and rows["q1"]["ref_contains_speech"] == 1.0
    assert rows["q2"]["ref_exact_match_speech"] == 0.0 and rows["q2"]["ref_errors_speech"] > 0
    scored = [rows[f"q{i}"]["ref_exact_match_speech"] for i in range(3)]
    em = metric(results, "ref_exact_match", "speech")
    assert em["value"] == pytest.approx(sum(scored) / 4) and em["scored_only"]["value"] == pytest.approx(sum(scored) / 3)
    assert em["coverage"] == {"scored": 3, "total": 4, "system_failed": 1, "measurement_failed": 0}
    assert em["failure_rule"].startswith("system failure (no answer, empty text answer, no speech): 0")
    wer = metric(results, "ref_wer", "speech", "corpus")
    errors = sum(rows[f"q{i}"]["ref_errors_speech"] for i in range(3)) + rows["q3"]["ref_tokens"]
    assert wer["value"] == pytest.approx(errors / ref_tokens) and wer["coverage"]["system_failed"] == 1
    per_utterance = [rows[f"q{i}"]["ref_errors_speech"] / rows[f"q{i}"]["ref_tokens"] for i in range(3)] + [1.0]
    assert metric(results, "ref_wer", "speech", "mean-utterance")["value"] == pytest.approx(sum(per_utterance) / 4)

    # The ASR judge failing on q0 is the measurement's failure: left out, counted, the result incomplete; the
    # text channel is untouched. Only the transcription re-runs (the answers are cached).
    failed = evaluate(options(root, dataset, system, offline_judges=False, judges={"en": "faulty"}, overwrite=True,
                              judge_args={"en": {"inner": "whisper-tiny.en-bundled", "fault": "raise", "ids": "q0"}}))
    assert failed["status"] == "incomplete" and failed["stage_keys"]["respond"] == results["stage_keys"]["respond"]
    em = metric(failed, "ref_exact_match", "speech")
    assert em["coverage"] == {"scored": 2, "total": 4, "system_failed": 1, "measurement_failed": 1}
    assert em["value"] == pytest.approx(sum(scored[1:]) / 3)
    assert metric(failed, "ref_wer", "speech", "corpus")["coverage"]["measurement_failed"] == 1
    assert metric(failed, "ref_exact_match", "text")["value"] == 0.5

    # The CLI: an LLM-judged task scored by the reference scorer alone, "no LLM judge" chosen and recorded.
    out = root / "cli"
    rc = main(["run", "--task", "s2s_conversation", "--model", "precomputed", "--model-path", str(system),
               "--dataset", "local", "--dataset-arg", f"path={dataset}", "--dataset-arg", "lang=en",
               "--offline-judges", "--llm-judge", "none",
               "--reference-scorer", "--output-dir", str(out), "--no-progress", "--bootstrap-resamples", "200"])
    assert rc == 0
    cli = json.loads((out / "results.json").read_text())
    assert cli["llm_judge"]["chosen_by"] == "--llm-judge none"
    assert cli["options"]["llm_judge"] == "none" and cli["options"]["reference_scorer"] is True
    for channel in ("text", "speech"):
        assert metric(cli, "ref_exact_match", channel)["value"] == metric(results, "ref_exact_match", channel)["value"]


def test_configuration_errors_before_any_sample_runs(qa, english_answers, capsys):
    root, _, system = qa
    bare = write_questions(root / "no_references.jsonl", english_answers, None)
    with pytest.raises(ConfigError, match=r"4 of 4 item\(s\) of dataset local \(.*no_references.jsonl\) have no "
                                          r"'reference' field"):
        evaluate(options(root, bare, system, output_dir=str(root / "bare")))
    assert not (root / "bare").exists()  # nothing ran
    rc = main(["run", "--task", "s2s_reference_qa", "--model", "precomputed", "--model-path", str(system),
               "--dataset", "local", "--dataset-arg", f"path={bare}", "--dataset-arg", "lang=en", "--offline-judges",
               "--output-dir", str(root / "bare_cli")])
    assert rc == EXIT_CONFIG and "'reference' field" in capsys.readouterr().err

    # "No LLM judge" must leave something to score with, and takes no judge options.
    with pytest.raises(ConfigError, match="nothing to score the answers with"):
        evaluate(options(root, bare, system, task="s2s_conversation", llm_judge="none"))
    with pytest.raises(ConfigError, match="--llm-judge none and --llm-judge-arg conflict"):
        evaluate(options(root, bare, system, llm_judge="none", llm_judge_args={"n": "3"}))
    with pytest.raises(ConfigError, match="task tts_wer has no reference scorer"):
        evaluate(options(root, bare, system, task="tts_wer", reference_scorer=True))
