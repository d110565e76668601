"""CSLM end to end through the harness on the tiny checkpoint (random weights: the pipeline is checked --
records, counts, provenance, determinism -- never a WER threshold)."""
import json

import numpy as np
import pytest

from harness.audio import read_audio
from harness.model import ModelConfigError
from harness.options import ConfigError, RunOptions
from harness.response import COUNT_EVENTS, TIME_EVENTS, Response
from harness.runner import evaluate
from models.cslm.adapter import CSLM


def test_asr_wer_end_to_end(model_args, belle_dir, tmp_path):
    out = tmp_path / "asr"
    results = evaluate(RunOptions(task="asr_wer", model="cslm", model_args=model_args, dataset="belle-eval-s2s",
                                  dataset_args={"path": str(belle_dir)}, limit=3, output_dir=str(out),
                                  bootstrap_resamples=0, progress=False))
    counts = results["counts"]
    assert counts["samples"] == 3 and counts["scored"] + counts["failed"] == 3 and counts["failed"] == 0
    model = results["model"]
    assert model["id"] == "cslm" and model["revision"].startswith("sha256:")
    assert model["generation"]["top_p"] == 0.7 and model["generation"]["max_new_tokens"] == 16
    assert model["prompt_mode"] == "released" and model["speech_tokenizer"]["sha256"]
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all("hypothesis" in r for r in rows)
    # A rerun reads the stage cache: same key, no new records.
    again = evaluate(RunOptions(task="asr_wer", model="cslm", model_args=model_args, dataset="belle-eval-s2s",
                                dataset_args={"path": str(belle_dir)}, limit=3, output_dir=str(out),
                                bootstrap_resamples=0, progress=False))
    assert again["stage_keys"] == results["stage_keys"] and again["metrics"] == results["metrics"]


def test_tts_wer_end_to_end(model_args, tmp_path):
    """unit-sine tones judged by dummy-asr: checks the pipeline and provenance, not intelligibility."""
    out = tmp_path / "tts"
    results = evaluate(RunOptions(task="tts_wer", model="cslm", model_args={**model_args, "seed": "3"},
                                  judges={"en": "dummy-asr"}, limit=3, output_dir=str(out),
                                  bootstrap_resamples=0, progress=False))
    counts = results["counts"]
    assert counts["samples"] == 3 and counts["scored"] + counts["failed"] == 3 and counts["scored"] >= 1
    assert results["model"]["generation"]["seed"] == 3 and results["model"]["vocoder"]["id"] == "unit-sine"
    # generated units are run-merged; a vocoder without a duration model renders one frame per run, and says so
    assert results["model"]["unit_durations"] == {"durations": "one frame per run",
                                                  "why": "the unit-sine vocoder has no duration model"}
    assert results["options"]["model_args"]["seed"] == "3"
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    for row in rows:
        if row["status"] == "ok":
            audio = read_audio(out / row["audio"])
            assert audio.sample_rate == 16000 and abs(audio.seconds - row["audio_seconds"]) < 1e-3
        else:  # a random model may emit no units: recorded with its reason, never a crash
            assert row["error"]["code"] == "no_units"


def test_tts_without_vocoder_fails_with_a_how_to(model_args, tmp_path):
    """A TTS task on a CSLM with no vocoder is refused before any model loads or sample runs."""
    args = {k: v for k, v in model_args.items() if k != "vocoder"}
    with pytest.raises(ConfigError, match="vocoder=external:DIR"):
        evaluate(RunOptions(task="tts_wer", model="cslm", model_args=args, judges={"en": "dummy-asr"},
                            limit=2, output_dir=str(tmp_path), bootstrap_resamples=0, progress=False))
    assert not (tmp_path / "cache").exists()  # nothing ran


def test_respond(cslm, belle_dir):
    audio = read_audio(belle_dir / "wav" / "0.wav", 16000)
    r = cslm.respond(audio, None, "zh")
    assert isinstance(r, Response) and r.unit_runs is None
    assert set(TIME_EVENTS + COUNT_EVENTS) <= set(r.events)
    assert r.events["end"] >= r.events["speech_tokenizer_end"] > 0
    assert r.events["input_units"] > 0 and r.events["total_tokens"] <= 16
    assert r.raw and (r.malformed is None or isinstance(r.malformed, str))
    if r.units:
        assert r.audio is not None and len(r.audio.samples) == 640 * len(r.units)
        assert r.events["tokens_before_first_unit"] is not None
    json.dumps(r.to_dict())
    again = cslm.respond(audio.samples, None, "zh")  # same input, same seed: same draw
    assert again.raw == r.raw and again.units == r.units
    cross = cslm.respond(audio, "Answer in one word.", "en")
    assert isinstance(cross.text, str)


def test_seed_and_describe(model_args, cslm, speechlike):
    before = CSLM("cslm", **model_args).describe()
    assert before == cslm.describe()  # stable across load(): it keys the caches
    assert cslm.transcribe([speechlike], "en") == cslm.transcribe([speechlike], "en")
    other = CSLM("cslm", **{**model_args, "seed": "12345"})
    assert other.describe()["generation"]["seed"] == 12345 and other.describe() != before


def test_configuration_errors(model_args, monkeypatch, tmp_path):
    with pytest.raises(ModelConfigError, match="unknown option"):
        CSLM("cslm", **model_args, temprature="1")
    with pytest.raises(ModelConfigError, match="top_p"):
        CSLM("cslm", **model_args, top_p="0")
    with pytest.raises(ModelConfigError, match="prompt_mode"):
        CSLM("cslm", **model_args, prompt_mode="chat")
    with pytest.raises(ModelConfigError, match="--model-path"):
        CSLM("cslm")
    with pytest.raises(ModelConfigError, match="not a checkpoint folder"):
        CSLM("cslm", path=str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelConfigError, match=r"--model-path DIR") as err:
        CSLM("cslm-sft")
    assert "ICTNLP/CSLM-SFT" in str(err.value)
    with pytest.raises(ConfigError, match="--model-path"):  # through the harness: one clear message
        evaluate(RunOptions(task="tts_wer", model="cslm-sft", judges={"en": "dummy-asr"}, output_dir=str(tmp_path)))
    # The local folder wins over the Hub id, offline.
    assert CSLM("cslm-sft", **model_args).describe()["hub_id"] is None


def test_audio_input_needs_a_speech_tokenizer(tiny_ckpt, speechlike):
    model = CSLM("cslm", path=str(tiny_ckpt), max_new_tokens="4")
    assert model.describe()["speech_tokenizer"] is None and model.describe()["vocoder"] is None
    with pytest.raises(ModelConfigError, match="speech_tokenizer=PATH"):
        model.transcribe([speechlike], "en")
    with pytest.raises(ModelConfigError, match="vocoder=unit-sine"):
        model.synthesize(["hello"], "en")
    with pytest.raises(ModelConfigError, match="vocoder_durations='guess'"):
        CSLM("cslm", path=str(tiny_ckpt), vocoder="unit-sine", vocoder_durations="guess")


def test_greedy_and_full_chain_options(model_args, speechlike):
    model = CSLM("cslm", **{**model_args, "do_sample": "false", "chain": "full", "prompt_mode": "generation-prompt"})
    r = model.respond(speechlike, None, "en")
    assert model.gen_config.do_sample is False and model.gen_config.top_p is None
    assert r.raw == model.respond(speechlike, None, "en").raw
    assert np.all(np.asarray(r.units) < 4096)


def test_checkpoint_decoding_defaults_and_explicit_args(tiny_ckpt, tmp_path):
    """A checkpoint's cslm_harness.json (written by training/) sets decoding defaults; --model-arg wins."""
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, ckpt)
    assert CSLM("cslm", path=str(ckpt)).gen.prompt_mode == "released"  # no file: the released default
    (ckpt / "cslm_harness.json").write_text(json.dumps({"generation": {"prompt_mode": "generation-prompt"}}))
    assert CSLM("cslm", path=str(ckpt)).gen.prompt_mode == "generation-prompt"
    assert CSLM("cslm", path=str(ckpt), prompt_mode="released").gen.prompt_mode == "released"
    (ckpt / "cslm_harness.json").write_text(json.dumps({"generation": {"prompt_mod": "released"}}))
    with pytest.raises(ModelConfigError, match="prompt_mod"):
        CSLM("cslm", path=str(ckpt))
