"""The tiny recipe end to end: text, real Piper and real espeak-ng speech at 16 kHz, manifests the training
data builders read; a rerun redoes nothing; a changed world in the same folder is refused."""
import json
from pathlib import Path

import pytest
import soundfile as sf

from tests.fixtures.paths import require_espeak
from training.cli import main
from training.sources import speech_rows, table_rows
from training.world.build import build_world_folder
from training.world.recipe import WorldRecipeError, load_world_recipe

TINY = Path(__file__).resolve().parents[3] / "training" / "recipes" / "world" / "world_tiny.yaml"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    require_espeak()
    out = tmp_path_factory.mktemp("world") / "tiny"
    assert main(["build-world", str(TINY), f"output_dir={out}", "--no-progress"]) == 0
    return out


def test_tiny_world_text_and_speech(built):
    report = json.loads((built / "report.json").read_text())
    assert report["synthesized"] == {"en": 6, "zh": 6}  # 2 sentence pairs + 2 QA pairs x (question, answer)
    info = json.loads((built / "world.json").read_text())
    assert info["counts"]["sentence_pairs"] == 6 * 5 + 12 + 60 and info["counts"]["qa_pairs"] > 30
    rows = [json.loads(line) for line in (built / "sentences.jsonl").read_text().splitlines()]
    assert {r["lang"] for r in rows} == {"en", "zh"} and {"id", "pair", "text", "translation", "split"} <= set(rows[0])
    qa = [json.loads(line) for line in (built / "qa.jsonl").read_text().splitlines()]
    assert {"id", "lang", "question", "answer", "split"} <= set(qa[0])
    wavs = sorted((built / "speech").rglob("*.wav"))
    assert len(wavs) == 12
    for wav in wavs:
        data, sr = sf.read(wav, dtype="float32")
        assert sr == 16000 and 0.4 < len(data) / sr < 20 and abs(data).max() > 0.05, wav


def test_manifests_feed_the_data_builders(built):
    zh, problems = speech_rows(built / "asr-zh-train.jsonl", "zh")
    assert not problems and len(zh) == 2 and Path(zh[0].item.audio).is_file()
    dialogues, problems = table_rows(built / "dialogues-train.jsonl")
    held, _ = table_rows(built / "dialogues-heldout.jsonl")
    assert not problems and len(dialogues) + len(held) == 8  # 2 QA pairs x (en, zh, zh2en, en2zh)
    assert (built / dialogues[0].fields["answer_audio"]).is_file()
    cross = [r.fields for r in dialogues + held if r.id.endswith("-zh2en")]
    assert cross and cross[0]["question_lang"] == "zh" and cross[0]["answer_lang"] == "en"
    assert cross[0]["question_audio"].startswith("speech/zh/") and cross[0]["answer_audio"].startswith("speech/en/")
    mt, problems = table_rows(built / "mt-train.jsonl")
    assert not problems and len(mt) > 50 and {"en", "zh"} <= set(mt[0].fields)
    instruct, _ = table_rows(built / "instruct-heldout.jsonl")
    assert instruct and {"prompt", "response"} <= set(instruct[0].fields)


def test_text_tables_feed_build_cpt(built, tmp_path):
    for kind, table in (("mt", "mt-train.jsonl"), ("instruct", "instruct-train.jsonl")):
        out = tmp_path / f"{kind}.jsonl"
        assert main(["build-cpt", kind, "--manifest", str(built / table), "--out", str(out)]) == 0
        report = json.loads(out.with_name(f"{kind}.jsonl.report.json").read_text())
        assert report["written"] > 0 and report["refused_total"] == 0


def test_rerun_redoes_nothing(built):
    before = {p: p.stat().st_mtime_ns for p in (built / "speech").rglob("*.wav")}
    text_before = (built / "qa.jsonl").stat().st_mtime_ns
    report = build_world_folder(load_world_recipe(TINY, [f"output_dir={built}"]), progress=False)
    assert report["synthesized"] == {"en": 0, "zh": 0}
    assert {p: p.stat().st_mtime_ns for p in (built / "speech").rglob("*.wav")} == before
    assert (built / "qa.jsonl").stat().st_mtime_ns == text_before


def test_another_world_in_the_same_folder_is_refused(built):
    with pytest.raises(WorldRecipeError, match="seed"):
        build_world_folder(load_world_recipe(TINY, [f"output_dir={built}", "seed=7"]), progress=False)
    assert main(["build-world", str(TINY), f"output_dir={built}", "seed=7", "--no-progress"]) == 2


def test_build_sft_with_the_whisper_aligner(built, tmp_path):
    """The world's spoken QA through `build-sft --aligner whisper`: word times from Whisper, recorded in the report."""
    manifest = built / "dialogues-train.jsonl"
    dialogues, _ = table_rows(manifest)
    units = tmp_path / "units.jsonl"
    with units.open("w") as fh:
        for row in dialogues:
            for side in ("question", "answer"):
                seconds = sf.info(built / row.fields[f"{side}_audio"]).duration
                fh.write(json.dumps({"id": f"{row.id}:{side}", "units": [i % 50 for i in range(round(seconds * 25))]})
                         + "\n")
    out = tmp_path / "sft.jsonl"
    assert main(["build-sft", "--manifest", str(manifest), "--units", str(units), "--aligner", "whisper",
                 "--out", str(out)]) == 0
    report = json.loads(out.with_name("sft.jsonl.report.json").read_text())
    assert report["aligner"]["kind"] == "whisper-word-timestamps" and report["written"] == len(dialogues)
    for rec in map(json.loads, out.read_text().splitlines()):
        starts = [c["start"] for c in rec["chunks"]]
        assert starts == sorted(starts) and rec["chunks"][0]["start"] == 0


def test_same_recipe_same_bytes_for_any_workers(built, tmp_path):
    """Deterministic for (recipe, seed): text and speech are byte-identical, whatever the worker count."""
    other = tmp_path / "again"
    build_world_folder(load_world_recipe(TINY, [f"output_dir={other}", "workers=1", "speech_items=1"]), progress=False)
    for name in ("sentences.jsonl", "qa.jsonl", "world.json"):
        assert (other / name).read_bytes() == (built / name).read_bytes(), name
    wavs = sorted(p.relative_to(other) for p in (other / "speech").rglob("*.wav"))
    assert len(wavs) == 6
    for rel in wavs:
        assert (other / rel).read_bytes() == (built / rel).read_bytes(), rel
