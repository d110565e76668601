"""Decoding defaults per prompt_mode: released (4096 new tokens, float16 requested, cut at <eoa>) vs
generation-prompt (2048, bf16 GPU / fp32 CPU, no cut); explicit --model-arg values win; all in results.json."""
import json
import shutil

import pytest

from harness.model import ModelConfigError
from harness.options import RunOptions
from harness.runner import evaluate
from models.cslm.adapter import CSLM
from models.cslm.options import CSLMGenerationOptions
from tests.fixtures.scripted_cslm import build_scripted_cslm


@pytest.fixture(scope="module")
def scripted_ckpt(tmp_path_factory):
    """Greedy output is a fixed interleaved script ending in <|eot_id|>: a released-mode run with the default
    4096 new tokens stops after a few dozen tokens. Every released prompt ends with the closed empty assistant
    turn, so its last token is <|eot_id|>."""
    from transformers import AutoTokenizer

    from models.cslm.tiny import build_tiny_cslm

    root = tmp_path_factory.mktemp("scripted")
    base = build_tiny_cslm(root / "base")  # the default corpus leaves enough English word tokens for the script
    eot = AutoTokenizer.from_pretrained(base).convert_tokens_to_ids("<|eot_id|>")
    return build_scripted_cslm(base, root / "ckpt", "interleaved", [eot])


def test_released_run_records_the_release_decoding(scripted_ckpt, speech_tokenizer_onnx, belle_dir, tmp_path):
    args = {"path": str(scripted_ckpt), "speech_tokenizer": str(speech_tokenizer_onnx), "do_sample": "false",
            "unit_cache": "none"}
    results = evaluate(RunOptions(task="asr_wer", model="cslm", model_args=args, dataset="belle-eval-s2s",
                                  dataset_args={"path": str(belle_dir)}, limit=1, output_dir=str(tmp_path / "run"),
                                  bootstrap_resamples=0, progress=False))
    model = json.loads((tmp_path / "run" / "results.json").read_text())["model"]
    assert model == results["model"]
    assert model["prompt_mode"] == "released" and model["max_new_tokens"] == 4096
    assert model["generation"]["max_new_tokens"] == 4096 and model["generation"]["eoa_cut"] is True
    assert model["dtype_requested"] == "float16" and model["eoa_cut"] is True and model["device"] == "cpu"
    assert model["dtype"] == "float32" and "CPU runs float32" in model["dtype_note"]  # this machine has no GPU
    assert results["counts"]["samples"] == 1
    rows = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert rows[0]["hypothesis"]  # the scripted text chunks, read through the released decode path


def test_what_runs_matches_what_is_recorded(tiny_ckpt, speech_tokenizer_onnx, speechlike):
    released = CSLM("cslm", path=str(tiny_ckpt))
    released.ensure_loaded()
    assert released.gen_config.max_new_tokens == 4096
    assert str(released.model.dtype) == "torch.float32" and released.describe()["dtype"] == "float32"
    forced = CSLM("cslm", path=str(tiny_ckpt), dtype="float16", max_new_tokens="3", unit_cache="none",
                  speech_tokenizer=str(speech_tokenizer_onnx))  # explicit wins, even on CPU
    assert forced.describe()["dtype"] == "float16" and forced.describe()["dtype_note"] is None
    forced.ensure_loaded()
    assert str(forced.model.dtype) == "torch.float16" and forced.gen_config.max_new_tokens == 3
    assert isinstance(forced.transcribe([speechlike], "en")[0], str)  # float16 generation runs on CPU


def test_generation_prompt_keeps_the_project_defaults(tiny_ckpt, tmp_path):
    gp = CSLM("cslm", path=str(tiny_ckpt), prompt_mode="generation-prompt").describe()
    assert (gp["max_new_tokens"], gp["eoa_cut"], gp["dtype_requested"], gp["dtype"]) == (2048, False, "auto", "float32")
    # The effective prompt_mode decides: a checkpoint trained here says generation-prompt in cslm_harness.json.
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_ckpt, ckpt)
    (ckpt / "cslm_harness.json").write_text(json.dumps({"generation": {"prompt_mode": "generation-prompt"}}))
    trained = CSLM("cslm", path=str(ckpt)).describe()
    assert (trained["prompt_mode"], trained["max_new_tokens"], trained["eoa_cut"]) == ("generation-prompt", 2048, False)
    back = CSLM("cslm", path=str(ckpt), prompt_mode="released").describe()  # explicit mode: its defaults follow
    assert (back["max_new_tokens"], back["eoa_cut"], back["dtype_requested"]) == (4096, True, "float16")
    own = CSLM("cslm", path=str(ckpt), max_new_tokens="100", eoa_cut="true").describe()  # explicit values win
    assert (own["prompt_mode"], own["max_new_tokens"], own["eoa_cut"]) == ("generation-prompt", 100, True)
    assert own != trained  # both shape output, so both key the caches


def test_mode_defaults_resolve_in_the_options():
    assert (CSLMGenerationOptions().max_new_tokens, CSLMGenerationOptions().eoa_cut) == (4096, True)
    gp = CSLMGenerationOptions(prompt_mode="generation-prompt")
    assert (gp.max_new_tokens, gp.eoa_cut) == (2048, False)
    assert CSLMGenerationOptions().resolve_dtype("cuda:0") == ("float16", None)
    assert gp.resolve_dtype("cuda:1", bf16_supported=True) == ("bfloat16", None)
    assert gp.resolve_dtype("cuda:1", bf16_supported=False) == ("float16", None)
    assert CSLMGenerationOptions(dtype="bfloat16").resolve_dtype("cpu") == ("bfloat16", None)
    with pytest.raises(ModelConfigError, match="eoa_cut"):
        CSLMGenerationOptions.from_args({"eoa_cut": "maybe"})


def test_device_option_is_resolved_and_recorded(tiny_ckpt):
    assert CSLM("cslm", path=str(tiny_ckpt), device="cpu").describe()["device"] == "cpu"
    with pytest.raises(ModelConfigError, match="device='tpu'"):
        CSLM("cslm", path=str(tiny_ckpt), device="tpu")


def test_eoa_cut_on_parsed_output(cslm, tiny_tokenizer):
    """The released postprocess keeps the decoded text up to the first <eoa>: what follows is in neither channel."""
    ids = tiny_tokenizer.encode("Machine learning<1><2> data<eoa> weather<3><4>", add_special_tokens=False)
    raw, parsed = cslm._parse(ids, expect_units=True, expect_text=True)
    assert cslm.gen.eoa_cut and "<eoa> weather" in raw  # raw keeps everything, for diagnostics
    assert parsed.text == "Machine learning data" and parsed.units == [1, 2]
    whole = CSLM("cslm", path=cslm.options["path"], eoa_cut="false", max_new_tokens="4")
    whole.ensure_loaded()
    _, kept = whole._parse(ids, expect_units=True, expect_text=True)
    assert kept.text == "Machine learning data<eoa> weather" and kept.units == [1, 2, 3, 4]
