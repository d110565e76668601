"""Vocabulary merge: units added in one block (token = offset + unit), markers, embedding init, and a
checkpoint the harness's CSLM adapter loads."""
import json

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from models.cslm.units import DEFAULT_UNITS, detect_units
from training.vocab import MERGE_INFO, merge_vocab


def test_units_map_by_arithmetic_and_markers_exist(tiny_base, tiny_merged):
    base = AutoTokenizer.from_pretrained(tiny_base)
    tok = AutoTokenizer.from_pretrained(tiny_merged)
    units = detect_units(tok)
    assert units.format == "angle" and units.n_units == DEFAULT_UNITS
    assert units.offset is not None
    for u in (0, 1, 77, 4095):
        assert tok.convert_tokens_to_ids(f"<{u}>") == units.offset + u
        assert tok(f"<{u}>", add_special_tokens=False).input_ids == [units.offset + u]
    assert units.units_to_ids([3, 4095]).tolist() == [units.offset + 3, units.offset + 4095]
    for marker in ("<sosp>", "<eosp>", "[question]", "[answer]"):
        assert marker in tok.get_vocab()
    assert len(tok) == len(base) + DEFAULT_UNITS + 2  # [question], [answer] (the base had <sosp>/<eosp>)
    # plain added tokens: skip_special_tokens keeps units and markers (the released decode relies on it)
    ids = tok("<sosp><5><6><eosp>", add_special_tokens=False).input_ids
    assert tok.decode(ids, skip_special_tokens=True) == "<sosp><5><6><eosp>"
    info = json.loads((tiny_merged / MERGE_INFO).read_text())
    assert info["unit_offset"] == units.offset and info["init"].startswith("new rows ~ N(mean, covariance)")


def test_embedding_rows_resized_and_initialised_like_existing_rows(tiny_base, tiny_merged):
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    merged = AutoModelForCausalLM.from_pretrained(tiny_merged)
    n_old = base.get_input_embeddings().weight.shape[0]
    for get in ("get_input_embeddings", "get_output_embeddings"):
        old = getattr(base, get)().weight.detach()
        new = getattr(merged, get)().weight.detach()
        assert new.shape[0] == len(AutoTokenizer.from_pretrained(tiny_merged))
        assert torch.equal(new[:n_old], old)  # existing rows untouched
        added = new[n_old:]
        # same mean and spread as the existing rows; distinct vectors (not the mean repeated)
        assert torch.allclose(added.mean(0), old.mean(0), atol=4 * old.std().item() / np.sqrt(len(added)) + 1e-3)
        assert added.std(0).mean().item() == pytest.approx(old.std(0).mean().item(), rel=0.15)
        assert torch.cdist(added[:50], added[:50]).fill_diagonal_(1).min() > 0.1 * old.std().item()


def test_unit_rows_from_codec_centroids_keep_their_geometry(tiny_base, tmp_path):
    """init=centroids: units whose centroids are close start close (in both matrices), at the text rows' spread."""
    rng = np.random.default_rng(0)
    n_units = 64
    centres = rng.standard_normal((n_units, 32)).astype(np.float32)
    centres[1] = centres[0] + 0.01  # units 0 and 1 sound alike
    np.save(tmp_path / "centroids.npy", centres)
    merge_vocab(str(tiny_base), tmp_path / "m", n_units=n_units, init="centroids", centroids=tmp_path / "centroids.npy")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    units = detect_units(AutoTokenizer.from_pretrained(tmp_path / "m"), n_units=n_units)
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    n_old = base.get_input_embeddings().weight.shape[0]
    for get in ("get_input_embeddings", "get_output_embeddings"):
        w = getattr(model, get)().weight.detach()
        rows, old = w[units.offset:units.offset + n_units], w[:n_old]
        d = torch.cdist(rows, rows).fill_diagonal_(float("inf"))
        assert d[0].argmin().item() == 1 and d[0, 1] < 0.1 * d[0].sort().values[1]
        spread = (old - old.mean(0)).norm(dim=1).mean()
        assert (rows - old.mean(0)).norm(dim=1).mean().item() == pytest.approx(spread.item(), rel=1e-3)
    assert "centroids" in json.loads((tmp_path / "m" / MERGE_INFO).read_text())["init"]
    with pytest.raises(ValueError, match="64 units"):
        merge_vocab(str(tiny_base), tmp_path / "x", n_units=64, init="centroids",
                    centroids=_save(tmp_path / "bad.npy", centres[:10]))


def _save(path, array):
    np.save(path, array)
    return path


def test_refuses_a_partial_unit_block(tiny_base, tmp_path):
    tok = AutoTokenizer.from_pretrained(tiny_base)
    tok.add_tokens(["<0>", "<1>"])
    tok.save_pretrained(tmp_path / "half")
    AutoModelForCausalLM.from_pretrained(tiny_base).save_pretrained(tmp_path / "half")
    with pytest.raises(ValueError, match="already has 2 of 4096"):
        merge_vocab(str(tmp_path / "half"), tmp_path / "out")


def test_s_pipe_format(tiny_base, tmp_path):
    info = merge_vocab(str(tiny_base), tmp_path / "pipe", unit_format="s-pipe", n_units=16, init="mean")
    tok = AutoTokenizer.from_pretrained(tmp_path / "pipe")
    assert tok.convert_tokens_to_ids("<|s_15|>") == info["unit_offset"] + 15


def test_the_harness_adapter_loads_the_merged_checkpoint(tiny_merged, tiny_onnx_tokenizer):
    from harness.registry import MODELS

    cls = MODELS.get("cslm")
    model = cls("cslm", path=str(tiny_merged), speech_tokenizer=str(tiny_onnx_tokenizer),
                prompt_mode="generation-prompt", do_sample="false", max_new_tokens="4")
    model.ensure_loaded()
    assert model.vocab.offset == detect_units(AutoTokenizer.from_pretrained(tiny_merged)).offset
    text = model.transcribe([np.sin(np.arange(16000) * 0.03).astype(np.float32) * 0.3], "en")
    assert isinstance(text[0], str)
