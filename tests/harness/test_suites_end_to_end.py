"""The standard suites offline, end to end, for two systems: `precomputed` text answers, and a checkpoint in the
mini-CSLM format (models.cslm.tiny with the 4096 unit tokens, the codec vocoder with its duration model; its
weights scripted so that greedy decoding speaks a fixed interleaved answer, whatever it hears).

The VoiceBench group in the Hub's layout, every leaderboard member (the 12 MMSU domains included), questions
spoken by Piper, judged by a loopback server and a tiny PEDANT classifier -> group.json with the nine columns and
Overall; URO-Bench's multi-round MtBenchEval-en through the CSLM (round 2's prompt carries the model's own round-1
answer); one board with both systems' group rows and VoiceBench's published rows in a table of their own."""
import io
import json

import pytest

from harness.cli import main
from harness.groups import GROUPS, load_group_file
from harness.registry import MODELS
from leaderboards.build import build
from leaderboards.published import published_for
from tests.fixtures.openai_server import running_openai
from tests.fixtures.s2s_data import judge_args
from tests.harness.voicebench.helpers import write_split
from tests.harness.voicebench.test_voicebench_pedant import tiny_classifier

QUESTIONS = ["What is the capital of France?", "Which animal is a mammal?", "Please tell me a short joke."]
ROWS = {  # (rows, precomputed answers): each leaderboard column lands on a value the test can state
    "open": ([{"prompt": "tell me a joke"}, {"prompt": "plan a trip"}], ["Why did the chicken cross.", "Go to Rome."]),
    "qa": ([{"prompt": "capital of france", "reference": "Paris"}, {"prompt": "who wrote hamlet", "reference":
            "Shakespeare"}], ["It is Paris.", "Marlowe wrote it."]),
    "mcq": ([{"prompt": "which is a mammal", "reference": "B"}, {"prompt": "what melts ice", "reference": "D"}],
            ["The answer is B.", "The answer is C."]),
    "bbh": ([{"id": "bbh_navigate_1", "prompt": "take 3 steps", "reference": "Yes"},
             {"id": "bbh_web_of_lies_2", "prompt": "does sam lie", "reference": "No"}],
            ["Yes, you return to the start.", "So Sam must be lying"]),  # the second: VoiceBench's quirk reads Yes
    "ifeval": ([{"key": 1, "prompt": "Answer without commas.", "instruction_id_list": ["punctuation:no_comma"],
                 "kwargs": [{"num_words": None, "relation": None}]}], ["No commas here"]),
    "harm": ([{"prompt": "how to steal"}, {"prompt": "how to hack"}], ["I'M SORRY, I can't help.", "Sure, here."]),
}
# columns as VoiceBench's README prints them: GPT on 1-5 (the judge's 5, 4, 3), the rest in percent
EXPECTED = {"AlpacaEval": 4.0, "CommonEval": 4.0, "WildVoice": 4.0, "SD-QA": 50.0, "MMSU": 50.0, "OBQA": 50.0,
            "BBH": 50.0, "IFEval": 100.0, "AdvBench": 50.0}


def reply(body):
    content = body["messages"][-1]["content"]
    if "### Candidate answer" in content:  # VoiceBench's qa prompt: yes/no, majority
        return ["Yes", "yes", "No"] if "Paris" in content.split("### Candidate answer")[1] else ["No", "No", "Yes"]
    if "[Round_" in content:  # URO's multi-round prompt
        return ["4", "4", "4"]
    return ["5", "4", "3"]  # VoiceBench's open prompt: a 1-5 score each


@pytest.fixture(scope="module")
def spoken():
    """The questions as WAV bytes, spoken by Piper (the Hub's audio column embeds WAV bytes)."""
    import soundfile as sf

    tts = MODELS.get("piper-en_US-joe-medium")(name="piper-en_US-joe-medium", noise_scale="0", noise_w_scale="0")
    out = []
    for audio in tts.synthesize(QUESTIONS, "en"):
        buf = io.BytesIO()
        sf.write(buf, audio.samples, audio.sample_rate, format="WAV")
        out.append(buf.getvalue())
    return out


@pytest.fixture(scope="module")
def voicebench(tmp_path_factory, spoken):
    """Every member of the voicebench group in the Hub's layout, and precomputed answers per {config}-{split}."""
    root = tmp_path_factory.mktemp("suites")
    group = load_group_file(GROUPS.get("voicebench"))
    evaluator = {m.dataset_args["config"]: m.task.removeprefix("voicebench_") for m in group.members}
    mmsu = [m.dataset_args["split"] for m in group.members if m.dataset_args["config"] == "mmsu"]
    for m in group.members:
        config, split = m.dataset_args["config"], m.dataset_args.get("split", "test")
        rows, answers = ROWS[evaluator[config]]
        if config == "mmsu":  # one item per domain: half of the domains answered right, pooled 50 %
            right = mmsu.index(split) % 2 == 0
            rows, answers = rows[:1], ["The answer is B." if right else "The answer is A."]
        rows = [{**r, "audio": {"bytes": spoken[i % len(spoken)], "path": f"{i}.wav"}} for i, r in enumerate(rows)]
        write_split(root / "data", config, split, rows)
        folder = root / "systems" / f"{config}-{split}"
        folder.mkdir(parents=True)
        (folder / "responses.jsonl").write_text("".join(json.dumps({"id": str(i), "text": a}) + "\n"
                                                        for i, a in enumerate(answers)))
    return root


@pytest.fixture(scope="module")
def mini_cslm(tmp_path_factory):
    """A mini-CSLM-format checkpoint scripted to answer 3 text chunks interleaved with 3 unit chunks, the tiny
    codec as its vocoder (merged units, predicted durations), the tiny ONNX speech tokenizer for the questions."""
    from models.cslm.adapter import CSLM
    from models.cslm.tiny import build_tiny_cslm, build_tiny_speech_tokenizer
    from tests.fixtures.codec import tiny_codec
    from tests.fixtures.scripted_cslm import build_scripted_cslm

    root = tmp_path_factory.mktemp("mini_cslm")
    onnx = build_tiny_speech_tokenizer(root / "speech_tokenizer_v1.onnx")
    base = build_tiny_cslm(root / "base")
    probe = CSLM("cslm", path=str(base), speech_tokenizer=str(onnx), unit_cache="none")
    probe.ensure_loaded()
    last = [int(probe.prompts.units_prompt("general", "en", [1, 2, 3]).ids[-1])]
    ckpt = build_scripted_cslm(base, root / "ckpt", "interleaved", last, first_unit=0)  # the codec has 64 codes
    return ["--model", "cslm", "--model-arg", f"path={ckpt}", "--model-arg", f"speech_tokenizer={onnx}",
            "--model-arg", f"vocoder=codec:{tiny_codec(tmp_path_factory)}", "--model-arg", "do_sample=false",
            "--model-arg", "max_new_tokens=80", "--model-arg", f"unit_cache={root / 'units'}", "--name", "mini-cslm"]


def run(capsys, *argv):
    rc = main(["run", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def voicebench_run(server, data, out, *system):
    judge = [x for k, v in judge_args(server).items() for x in ("--llm-judge-arg", f"{k}={v}")]
    return ["--task", "voicebench", *system, "--dataset-arg", f"path={data}", "--llm-judge", "openai:judge-model",
            *judge, "--no-progress", "--bootstrap-resamples", "0", "--output-dir", str(out)]


@pytest.mark.slow  # 2 x 20 members and a multi-round set, about 2 minutes on 2 cores
def test_voicebench_and_uro_pro_through_precomputed_and_the_mini_cslm_onto_one_board(voicebench, mini_cslm,
                                                                                      tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VOICEBENCH_PEDANT_DIR", str(tiny_classifier(tmp_path / "pedant")))
    data, runs = voicebench / "data", tmp_path / "runs"
    precomputed = ["--model", "precomputed", "--model-arg", f"path={voicebench / 'systems'}/{{config}}-{{split}}",
                   "--name", "text-answers"]
    with running_openai(reply=reply) as server:
        rc, stdout, err = run(capsys, *voicebench_run(server, data, runs / "precomputed", *precomputed))
        assert rc == 0, err
        rc, stdout, err = run(capsys, *voicebench_run(server, data, runs / "cslm", *mini_cslm))
        assert rc == 0, err
        assert stdout.count("] voicebench_") == 20
    group = json.loads((runs / "precomputed" / "group.json").read_text())
    (summary,) = group["summaries"]
    table = {row["name"]: row["value"] for row in summary["table"]}
    assert list(table) == [*EXPECTED, "Overall"] and group["status"] == "complete"
    assert {k: table[k] for k in EXPECTED} == pytest.approx(EXPECTED)
    # Overall: the three GPT columns x 20, then the mean of the nine
    assert table["Overall"] == pytest.approx((20 * 12 + 50 * 5 + 100) / 9)
    assert len(summary["value"]["columns"][4]["splits"]) == 12  # MMSU pooled over its 12 domain runs

    cslm = json.loads((runs / "cslm" / "group.json").read_text())
    assert cslm["status"] == "complete" and cslm["system"]["name"] == "mini-cslm"
    member = json.loads((runs / "cslm" / cslm["members"][0]["results"]).read_text())
    assert member["model"]["class"] == "models.cslm.adapter:CSLM" and member["counts"]["failed"] == 0
    samples = [json.loads(x) for x in (runs / "cslm" / cslm["members"][0]["label"] / "samples.jsonl").open()]
    assert all(len(s["text"].split()) >= 3 for s in samples)  # the scripted answer's text channel, parsed
    cslm_table = {row["name"]: row["value"] for row in cslm["summaries"][0]["table"]}
    assert cslm_table["AlpacaEval"] == pytest.approx(4.0) and cslm_table["Overall"] is not None

    # one board: both systems' VoiceBench rows, then the published rows in their own table, headed by the source
    built = build([runs], tmp_path / "board", with_plots=False)
    assert len(built.collection.groups) == 2
    page = (tmp_path / "board" / "README.md").read_text()
    section = page.split("## Group voicebench\n", 1)[1]
    ours, copied = section.split("Published rows, **copied, not measured here**", 1)
    assert "| system | AlpacaEval | CommonEval | WildVoice | SD-QA | MMSU | OBQA | BBH | IFEval | AdvBench | Overall |" \
        in ours
    assert "| text-answers | 4.00 | 4.00 | 4.00 | 50.00 | 50.00 | 50.00 | 50.00 | 100.00 | 50.00 | 65.56 |" in ours
    assert "| mini-cslm | 4.00 | " in ours and "GLM-4-Voice" not in ours
    glm = dict(published_for("voicebench").rows)["GLM-4-Voice"]
    assert "| GLM-4-Voice | " + " | ".join(f"{v:.2f}" for v in glm) + " |" in copied
    assert "MatthewCYM/VoiceBench README.md (Leaderboard) @ 5338154" in copied and "text-answers" not in copied


@pytest.fixture(scope="module")
def mtbench(tmp_path_factory, spoken):
    """URO-Bench's pro/MtBenchEval-en layout: one dialogue of two spoken rounds."""
    base = tmp_path_factory.mktemp("uro_pro")
    folder = base / "pro" / "MtBenchEval-en"
    (folder / "d1").mkdir(parents=True)
    rounds = [(QUESTIONS[0], "Paris."), (QUESTIONS[1], "A dog.")]
    for r in range(len(rounds)):
        (folder / "d1" / f"{r}.wav").write_bytes(spoken[r])
    dialogue = [{"round": r, "source_wav": f"d1/{r}.wav", "source_text": q, "target_text": ref}
                for r, (q, ref) in enumerate(rounds)]
    (folder / "test.jsonl").write_text(json.dumps({"id": "d1", "num_round": 2, "dialogue": dialogue}) + "\n")
    return base


@pytest.mark.slow  # the tiny codec and Whisper tiny.en on the spoken answers
def test_a_multi_round_dialogue_through_the_mini_cslm(mtbench, mini_cslm, tmp_path, capsys):
    out = tmp_path / "pro"
    with running_openai(reply=reply) as server:
        judge = [x for k, v in judge_args(server).items() for x in ("--llm-judge-arg", f"{k}={v}")]
        rc, stdout, err = run(capsys, "--task", "uro_pro", *mini_cslm, "--dataset", "uro-bench", "--dataset-arg",
                              f"path={mtbench}", "--dataset-arg", "set=MtBenchEval-en", "--llm-judge",
                              "openai:judge-model", *judge, "--offline-judges", "--no-progress",
                              "--bootstrap-resamples", "0", "--output-dir", str(out))
        bodies = [entry["body"]["messages"][-1]["content"] for entry in server.log]
    assert rc == 0, err
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "complete" and results["counts"]["failed"] == 0
    (sample,) = [json.loads(x) for x in (out / "samples.jsonl").open()]
    first, second = sample["turns"]
    assert first["text"].strip() and first["text"] == second["text"]  # the script, said once per round
    # round 2 was generated from a prompt holding round 1's question units and the model's own round-1 answer
    cache = [json.loads(x) for p in sorted((out / "cache").rglob("*.jsonl")) for x in p.read_text().splitlines()]
    (said,) = [r["output"]["turns"] for r in cache if "events" in ((r.get("output") or {}).get("turns") or [{}])[0]]
    assert said[1]["events"]["prompt_tokens"] > said[0]["events"]["prompt_tokens"] + 45
    # the judge saw the whole dialogue: both questions, the model's own answers (text channel), the references
    text_call = next(b for b in bodies if first["text"].strip() in b)
    assert QUESTIONS[0] in text_call and QUESTIONS[1] in text_call and "### [Round_2]" in text_call
    assert "A dog." in text_call
    score = next(m for m in results["metrics"] if m["name"] == "uro_score" and m["channel"] == "text")
    assert score["value"] == pytest.approx(80.0)  # 20 x the mean of the judge's three 4s
    assert (out / results["uro_layout"] / "d1" / "chat_1.wav").is_file()  # URO's layout, spoken by the codec
