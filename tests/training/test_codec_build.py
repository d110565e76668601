"""build-codec: recipes validate, sentences are seeded and never the held-out ones, the tiny recipe builds and resumes."""
import json
from pathlib import Path

import pytest

from training.codec.recipe import CodecRecipeError, load_codec_recipe
from training.codec.sentences import distinct_words, frequent_word_sentences, generate, vocabulary_size

CODEC_RECIPES = sorted((Path(__file__).resolve().parents[2] / "training" / "recipes" / "codec").glob("*.yaml"))


@pytest.mark.parametrize("path", CODEC_RECIPES, ids=lambda p: p.stem)
def test_shipped_codec_recipes_validate(path):
    recipe = load_codec_recipe(path)
    assert recipe.codes <= recipe.kmeans_vectors and recipe.output_dir.startswith("runs/")
    assert "python -m training build-codec" in path.read_text()


def test_codec_recipe_mistakes_fail_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("output_dir: x\ncodez: 12\n")
    with pytest.raises(CodecRecipeError, match="codez"):
        load_codec_recipe(bad)
    bad.write_text("output_dir: x\nvocoder: {stepz: 3}\n")
    with pytest.raises(CodecRecipeError, match="stepz"):
        load_codec_recipe(bad)
    with pytest.raises(CodecRecipeError, match="codes"):
        load_codec_recipe(CODEC_RECIPES[0], ["codes=999999999"])


def test_sentences_are_seeded_distinct_and_never_held_out():
    from training.codec.corpus import heldout_sentences

    heldout = heldout_sentences()
    assert len(heldout) == 24
    first = generate(300, seed=3, exclude=heldout)
    assert first == generate(300, seed=3, exclude=heldout) != generate(300, seed=4, exclude=heldout)
    assert len(set(first)) == 300 and not set(first) & set(heldout)
    assert vocabulary_size() >= 200


def test_frequent_word_sentences_are_seeded_diverse_and_never_held_out():
    from training.codec.corpus import heldout_sentences

    heldout = heldout_sentences()
    first = frequent_word_sentences(400, seed=1, exclude=heldout)
    assert first == frequent_word_sentences(400, seed=1, exclude=heldout) != frequent_word_sentences(400, seed=2)
    assert len(set(first)) == 400 and not set(first) & set(heldout)
    assert distinct_words(first) > 5 * vocabulary_size()  # thousands of words, not the templates' few hundred
    assert all(6 <= len(s.split()) <= 14 and s[0].isupper() and s.endswith(".") for s in first)
    assert not {"shit", "mr", "etc"} & {w.strip(".").lower() for s in first for w in s.split()}


def test_a_resumed_build_refuses_other_data_and_redoes_the_steps_whose_settings_changed(tmp_path):
    from tests.fixtures.codec import tiny_recipe
    from training.codec.build import CodecBuilder

    folder, work = tmp_path / "codec", tmp_path / "codec" / "work"
    CodecBuilder(tiny_recipe(folder), progress=False)._check_recipe()  # first: records each step's settings

    def touch(*paths):
        for p in paths:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"x")
    tokenizer_out = [folder / "centroids.npy", folder / "feature_norm.npy", work / "stream.npz"]
    vocoder_out = [work / "vocoder-ckpt.pt", folder / "vocoder.pt"]
    touch(*tokenizer_out, *vocoder_out, work / "sentences.txt")
    CodecBuilder(tiny_recipe(folder, "vocoder.max_minutes=5"), progress=False)._check_recipe()  # not an output
    assert all(p.is_file() for p in tokenizer_out + vocoder_out)
    CodecBuilder(tiny_recipe(folder, "vocoder.steps=99"), progress=False)._check_recipe()
    assert all(p.is_file() for p in tokenizer_out) and not any(p.is_file() for p in vocoder_out)
    touch(*vocoder_out)
    durations_out = [work / "durations-ckpt.pt", folder / "durations.pt", folder / "codec.json"]
    touch(*durations_out)
    CodecBuilder(tiny_recipe(folder, "vocoder.steps=99", "durations.steps=7"), progress=False)._check_recipe()
    assert all(p.is_file() for p in tokenizer_out + vocoder_out) and not any(p.is_file() for p in durations_out)
    recorded = json.loads((work / "recipe.json").read_text())
    del recorded["durations"]  # a build recorded before the durations step: that step is simply new
    (work / "recipe.json").write_text(json.dumps(recorded))
    touch(folder / "codec.json")
    CodecBuilder(tiny_recipe(folder, "vocoder.steps=99"), progress=False)._check_recipe()
    assert all(p.is_file() for p in tokenizer_out + vocoder_out) and (folder / "codec.json").is_file()
    touch(*durations_out)
    CodecBuilder(tiny_recipe(folder, "vocoder.steps=99", "codes=48"), progress=False)._check_recipe()
    assert not any(p.is_file() for p in tokenizer_out + vocoder_out + durations_out)
    with pytest.raises(CodecRecipeError, match=r"en_word_sentences: 8 -> 9.*new output_dir"):
        CodecBuilder(tiny_recipe(folder, "en_word_sentences=9"), progress=False)._check_recipe()


@pytest.mark.slow
def test_tiny_recipe_builds_a_codec_and_a_rerun_skips_every_step(tmp_path):
    from tests.fixtures.codec import tiny_recipe
    from training.codec.build import build_codec

    recipe = tiny_recipe(tmp_path / "codec", "en_sentences=12", "codes=16", "belle_count=2", "vocoder.steps=10",
                         "vocoder.checkpoint_every=5")
    folder = build_codec(recipe, progress=False)
    manifest = json.loads((folder / "codec.json").read_text())
    assert manifest["codes"] == 16 and set(manifest["files"]) == {"centroids.npy", "feature_norm.npy", "vocoder.pt",
                                                                  "durations.pt"}
    assert manifest["durations"]["net"]["codes"] == 16 and manifest["durations"]["rounding"] == "quantile:0.8"
    assert manifest["training"]["complete"] and manifest["training"]["english_sentences"] == 12 + 8
    assert manifest["training"]["distinct_words"] > 40
    assert (folder / "work" / "vocoder-ckpt.pt").is_file()
    stamp = {p.name: p.stat().st_mtime_ns for p in (folder / "work" / "en").iterdir()}
    before = (folder / "vocoder.pt").read_bytes(), (folder / "durations.pt").read_bytes()
    build_codec(recipe, progress=False)  # everything done: nothing is redone
    assert {p.name: p.stat().st_mtime_ns for p in (folder / "work" / "en").iterdir()} == stamp
    assert ((folder / "vocoder.pt").read_bytes(), (folder / "durations.pt").read_bytes()) == before
    report = json.loads((folder / "work" / "report.json").read_text())
    assert report["vocoder"]["steps_done"] == 10 and report["features"]["en"]["utterances"] == 12 + 8


@pytest.mark.slow
def test_a_codec_built_before_the_duration_model_gains_it_and_nothing_else(tmp_path_factory, tmp_path):
    """The tiny codec, made to look like one built before step 6 existed (no durations.pt, no record of the step,
    a complete codec.json without it): a rerun trains only the duration model and rewrites codec.json."""
    import shutil

    from models.codec.bundle import load_codec, write_manifest
    from tests.fixtures.codec import tiny_codec, tiny_recipe
    from training.codec.build import build_codec

    old = tmp_path / "old"
    shutil.copytree(tiny_codec(tmp_path_factory), old)
    for p in (old / "durations.pt", old / "work" / "durations-ckpt.pt"):
        p.unlink()
    for name in ("recipe.json", "report.json"):
        data = json.loads((old / "work" / name).read_text())
        data.pop("durations")
        data.get("seconds", {}).pop("durations", None)
        (old / "work" / name).write_text(json.dumps(data))
    manifest = json.loads((old / "codec.json").read_text())
    files = {k: v for k, v in manifest["files"].items() if k != "durations.pt"}
    for key in ("durations", "files", "format"):
        manifest.pop(key)
    write_manifest(old, manifest)
    assert not load_codec(old).has_durations and load_codec(old).load_durations() is None

    def stamps():
        return {str(p.relative_to(old)): p.stat().st_mtime_ns for p in old.rglob("*")
                if p.is_file() and p.name not in ("codec.json", "report.json", "recipe.json")}
    before = stamps()
    build_codec(tiny_recipe(old), progress=False)
    after = stamps()
    assert {k: v for k, v in after.items() if k in before} == before  # speech, features, k-means, vocoder: untouched
    assert set(after) - set(before) == {"durations.pt", "work/durations-ckpt.pt"}
    codec = load_codec(old)
    assert {k: v for k, v in codec.data["files"].items() if k != "durations.pt"} == files  # the same weights
    assert codec.has_durations and codec.load_durations().durations([1, 2, 3]).min() >= 1
    assert json.loads((old / "work" / "report.json").read_text())["durations"]["steps_done"] == codec.data[
        "durations"]["trained_on"]["steps"]
