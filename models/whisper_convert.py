"""Whisper weights from one format to another: CTranslate2 folder -> openai-whisper checkpoint -> transformers folder.

Offline, the only real Whisper weights are CTranslate2 folders installed by pip (models/bundled.py). These
functions turn one into an openai-whisper checkpoint (``{'dims', 'model_state_dict'}``) and that into a
``WhisperForConditionalGeneration`` folder, so the openai-whisper and transformers backends run real weights
in tests. The name mapping is written here from the three layouts (CTranslate2's WhisperSpec, openai-whisper's
``whisper/model.py``, transformers' ``modeling_whisper.py``); no conversion script of another project is used.

CTranslate2 ``model.bin`` (binary version 6, written by ctranslate2/specs/model_spec.py ``_serialize``):
uint32 version, string spec name, uint32 spec revision, uint32 variable count, then per variable: string name,
uint8 rank, uint32 dims, uint8 dtype (float32, int8, int16, int32, float16, bfloat16), uint32 byte count,
bytes; then uint32 alias count and (alias, target) string pairs. Strings are uint16 length (with the NUL) +
UTF-8 + NUL. Quantized weights (int8 with a ``weight_scale``) are dequantized.
"""
from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from models.whisper_faster import MULTILINGUAL_VOCAB

CT2_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
TIMESTAMP_TOKENS = 1501  # <|0.00|> ... <|30.00|> in steps of 0.02 s, after <|notimestamps|>


# -- CTranslate2 -> openai-whisper -----------------------------------------------------------------------
def read_ct2_variables(path: Path) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 ``model.bin``, aliases resolved, as float32/int arrays."""
    with open(path, "rb") as fh:
        version = _unpack(fh, "I")
        if version < 5:
            raise ValueError(f"{path}: CTranslate2 binary version {version} is too old (need >= 5)")
        spec = _string(fh)
        _unpack(fh, "I")  # spec revision
        variables: dict[str, np.ndarray] = {}
        for _ in range(_unpack(fh, "I")):
            name = _string(fh)
            shape = [_unpack(fh, "I") for _ in range(_unpack(fh, "B"))]
            dtype = CT2_DTYPES[_unpack(fh, "B")]
            raw = fh.read(_unpack(fh, "I"))
            if dtype == "bfloat16":  # numpy has no bfloat16: widen the 16 high bits to float32
                array = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                array = np.frombuffer(raw, dtype)
            variables[name] = array.reshape(shape)
        for _ in range(_unpack(fh, "I")):
            alias, target = _string(fh), _string(fh)
            variables[alias] = variables[target]
    if spec != "WhisperSpec":
        raise ValueError(f"{path}: a {spec} model, not a CTranslate2 Whisper (WhisperSpec)")
    return _dequantize(variables)


def _unpack(fh: BinaryIO, fmt: str) -> int:
    return struct.unpack(fmt, fh.read(struct.calcsize(fmt)))[0]


def _string(fh: BinaryIO) -> str:
    return fh.read(_unpack(fh, "H"))[:-1].decode("utf-8")


def _dequantize(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for name, value in variables.items():
        if name.endswith("/weight_scale"):
            continue
        scale = variables.get(name + "_scale")
        if scale is not None and value.dtype == np.int8:  # int8: one scale per output row
            value = value.astype(np.float32) / scale.astype(np.float32).reshape(-1, *[1] * (value.ndim - 1))
        out[name] = value.astype(np.float32) if value.dtype in (np.float16, np.int8) and value.ndim else value
    return out


def ct2_to_openai(folder: Path) -> dict[str, Any]:
    """An openai-whisper checkpoint ``{'dims', 'model_state_dict'}`` from a CTranslate2 Whisper folder."""
    import torch

    var = read_ct2_variables(Path(folder) / "model.bin")
    n_enc = _count_layers(var, "encoder")
    n_dec = _count_layers(var, "decoder")
    state = _ct2_convs_and_norms(var)
    state.update({"encoder.positional_embedding": var["encoder/position_encodings/encodings"],
                  "decoder.positional_embedding": var["decoder/position_encodings/encodings"],
                  "decoder.token_embedding.weight": var["decoder/embeddings/weight"]})
    for i in range(n_enc):
        ct2, ours = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        state.update(_ct2_self_attention(var, f"{ct2}/self_attention", f"{ours}.attn", f"{ours}.attn_ln"))
        state.update(_ct2_ffn(var, f"{ct2}/ffn", ours))
    for i in range(n_dec):
        ct2, ours = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        state.update(_ct2_self_attention(var, f"{ct2}/self_attention", f"{ours}.attn", f"{ours}.attn_ln"))
        state.update(_ct2_cross_attention(var, f"{ct2}/attention", ours))
        state.update(_ct2_ffn(var, f"{ct2}/ffn", ours))
    embeddings = var["decoder/embeddings/weight"]
    dims = {"n_mels": int(var["encoder/conv1/weight"].shape[1]),
            "n_audio_ctx": int(var["encoder/position_encodings/encodings"].shape[0]),
            "n_audio_state": int(var["encoder/conv1/weight"].shape[0]),
            "n_audio_head": int(var["encoder/num_heads"]), "n_audio_layer": n_enc,
            "n_vocab": int(embeddings.shape[0]),
            "n_text_ctx": int(var["decoder/position_encodings/encodings"].shape[0]),
            "n_text_state": int(embeddings.shape[1]),
            "n_text_head": int(var["decoder/num_heads"]), "n_text_layer": n_dec}
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()}
    return {"dims": dims, "model_state_dict": tensors}


def _count_layers(var: dict[str, np.ndarray], side: str) -> int:
    return len({name.split("/")[1] for name in var if re.match(rf"{side}/layer_\d+/", name)})


def _linear(var, ct2: str, ours: str, bias: bool = True) -> dict[str, np.ndarray]:
    out = {f"{ours}.weight": var[f"{ct2}/weight"]}
    if bias:
        out[f"{ours}.bias"] = var[f"{ct2}/bias"]
    return out


def _norm(var, ct2: str, ours: str) -> dict[str, np.ndarray]:
    return {f"{ours}.weight": var[f"{ct2}/gamma"], f"{ours}.bias": var[f"{ct2}/beta"]}


def _ct2_convs_and_norms(var) -> dict[str, np.ndarray]:
    out = {**_linear(var, "encoder/conv1", "encoder.conv1"), **_linear(var, "encoder/conv2", "encoder.conv2")}
    out.update(_norm(var, "encoder/layer_norm", "encoder.ln_post"))
    out.update(_norm(var, "decoder/layer_norm", "decoder.ln"))
    return out


def _split_fused(var, ct2: str, parts: list[str], ours: str) -> dict[str, np.ndarray]:
    """CTranslate2 stores q,k,v (self-attention) or k,v (cross-attention) as one fused linear, in that order.
    Whisper's key projection has no bias: CTranslate2 fills its slice with zeros, which must stay zero."""
    weights = np.split(var[f"{ct2}/weight"], len(parts))
    biases = np.split(var[f"{ct2}/bias"], len(parts))
    out = {}
    for part, weight, bias in zip(parts, weights, biases):
        out[f"{ours}.{part}.weight"] = weight
        if part == "key":
            if np.abs(bias).max() > 1e-6:
                raise ValueError(f"{ct2}: the key slice of the fused bias is not zero; unexpected q,k,v layout")
        else:
            out[f"{ours}.{part}.bias"] = bias
    return out


def _ct2_self_attention(var, ct2: str, attn: str, ln: str) -> dict[str, np.ndarray]:
    out = _split_fused(var, f"{ct2}/linear_0", ["query", "key", "value"], attn)
    out.update(_linear(var, f"{ct2}/linear_1", f"{attn}.out"))
    out.update(_norm(var, f"{ct2}/layer_norm", ln))
    return out


def _ct2_cross_attention(var, ct2: str, block: str) -> dict[str, np.ndarray]:
    out = _linear(var, f"{ct2}/linear_0", f"{block}.cross_attn.query")
    out.update(_split_fused(var, f"{ct2}/linear_1", ["key", "value"], f"{block}.cross_attn"))
    out.update(_linear(var, f"{ct2}/linear_2", f"{block}.cross_attn.out"))
    out.update(_norm(var, f"{ct2}/layer_norm", f"{block}.cross_attn_ln"))
    return out


def _ct2_ffn(var, ct2: str, block: str) -> dict[str, np.ndarray]:
    return {**_linear(var, f"{ct2}/linear_0", f"{block}.mlp.0"), **_linear(var, f"{ct2}/linear_1", f"{block}.mlp.2"),
            **_norm(var, f"{ct2}/layer_norm", f"{block}.mlp_ln")}


# -- openai-whisper -> transformers ------------------------------------------------------------------------
# Per block: openai-whisper's module name -> transformers' (encoder and decoder blocks share the pattern).
BLOCK_NAMES = {"attn.query": "self_attn.q_proj", "attn.key": "self_attn.k_proj", "attn.value": "self_attn.v_proj",
               "attn.out": "self_attn.out_proj", "attn_ln": "self_attn_layer_norm",
               "cross_attn.query": "encoder_attn.q_proj", "cross_attn.key": "encoder_attn.k_proj",
               "cross_attn.value": "encoder_attn.v_proj", "cross_attn.out": "encoder_attn.out_proj",
               "cross_attn_ln": "encoder_attn_layer_norm", "mlp.0": "fc1", "mlp.2": "fc2", "mlp_ln": "final_layer_norm"}
TOP_NAMES = {"encoder.conv1": "model.encoder.conv1", "encoder.conv2": "model.encoder.conv2",
             "encoder.ln_post": "model.encoder.layer_norm", "decoder.ln": "model.decoder.layer_norm",
             "encoder.positional_embedding": "model.encoder.embed_positions.weight",
             "decoder.positional_embedding": "model.decoder.embed_positions.weight",
             "decoder.token_embedding": "model.decoder.embed_tokens"}


def transformers_name(name: str) -> str:
    """openai-whisper parameter name -> WhisperForConditionalGeneration's (``encoder.blocks.0.attn.query.weight``
    -> ``model.encoder.layers.0.self_attn.q_proj.weight``)."""
    for ours, theirs in TOP_NAMES.items():
        if name == ours or name.startswith(ours + "."):
            return theirs + name[len(ours):]
    side, blocks, index, rest = name.split(".", 3)
    if blocks != "blocks":
        raise KeyError(f"no transformers name for openai-whisper parameter {name!r}")
    module, _, param = rest.rpartition(".")
    if module not in BLOCK_NAMES:
        raise KeyError(f"no transformers name for openai-whisper parameter {name!r}")
    return f"model.{side}.layers.{index}.{BLOCK_NAMES[module]}.{param}"


def openai_to_transformers(checkpoint: dict[str, Any], tokenizer_json: Path, out_dir: Path,
                           suppress_tokens: list[int] | None = None) -> Path:
    """Write a ``WhisperForConditionalGeneration`` folder (config, generation config, safetensors weights,
    tokenizer, feature extractor) from an openai-whisper checkpoint and the model's ``tokenizer.json``.

    The generation config mirrors the Hub's: an English-only model (vocabulary < 51865) starts with
    <|startoftranscript|><|notimestamps|> and takes no language/task; a multilingual one gets lang_to_id /
    task_to_id so ``generate(language=, task=)`` forces them. ``suppress_tokens``: the model's own list (a
    CTranslate2 config.json carries it as suppress_ids); by default openai-whisper's non-speech list.
    """
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )

    dims, state = checkpoint["dims"], checkpoint["model_state_dict"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tokenizer.json").write_bytes(Path(tokenizer_json).read_bytes())
    tokenizer = WhisperTokenizer.from_pretrained(out_dir)
    specials = _special_ids(tokenizer)
    missing = dims["n_vocab"] - len(tokenizer)
    if missing == TIMESTAMP_TOKENS:  # CTranslate2's tokenizer.json stops at <|notimestamps|>
        tokenizer.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(TIMESTAMP_TOKENS)])
    if len(tokenizer) != dims["n_vocab"]:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens, the model {dims['n_vocab']}")
    multilingual = dims["n_vocab"] >= MULTILINGUAL_VOCAB
    config = WhisperConfig(
        vocab_size=dims["n_vocab"], num_mel_bins=dims["n_mels"], d_model=dims["n_audio_state"],
        encoder_layers=dims["n_audio_layer"], encoder_attention_heads=dims["n_audio_head"],
        decoder_layers=dims["n_text_layer"], decoder_attention_heads=dims["n_text_head"],
        encoder_ffn_dim=4 * dims["n_audio_state"], decoder_ffn_dim=4 * dims["n_text_state"],
        max_source_positions=dims["n_audio_ctx"], max_target_positions=dims["n_text_ctx"],
        pad_token_id=specials["eot"], bos_token_id=specials["eot"], eos_token_id=specials["eot"],
        decoder_start_token_id=specials["sot"], begin_suppress_tokens=[220, specials["eot"]],
        activation_function="gelu", scale_embedding=False, tie_word_embeddings=True)
    model = WhisperForConditionalGeneration(config)
    renamed = {transformers_name(k): v for k, v in state.items()}
    result = model.load_state_dict(renamed, strict=False)
    if result.unexpected_keys or set(result.missing_keys) - {"proj_out.weight"}:
        raise ValueError(f"weights do not fit WhisperForConditionalGeneration: missing {result.missing_keys}, "
                         f"unexpected {result.unexpected_keys}")
    model.tie_weights()
    if suppress_tokens is None:
        suppress_tokens = _non_speech_tokens(dims["n_vocab"])
    model.generation_config = _generation_config(config, tokenizer, specials, multilingual, suppress_tokens)
    model.save_pretrained(out_dir)
    features = WhisperFeatureExtractor(feature_size=dims["n_mels"])
    WhisperProcessor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(out_dir)
    return out_dir


def _special_ids(tokenizer) -> dict[str, int]:
    names = {"eot": "<|endoftext|>", "sot": "<|startoftranscript|>", "translate": "<|translate|>",
             "transcribe": "<|transcribe|>", "prev": "<|startofprev|>", "notimestamps": "<|notimestamps|>"}
    ids = {key: tokenizer.convert_tokens_to_ids(token) for key, token in names.items()}
    absent = [names[k] for k, v in ids.items() if v is None or v == tokenizer.unk_token_id and k != "eot"]
    if absent:
        raise ValueError(f"tokenizer.json lacks Whisper's special tokens {absent}")
    return ids


def _generation_config(config, tokenizer, specials: dict[str, int], multilingual: bool, suppress: list[int]):
    from transformers import GenerationConfig

    gen = GenerationConfig(
        decoder_start_token_id=specials["sot"], bos_token_id=specials["sot"], eos_token_id=specials["eot"],
        pad_token_id=specials["eot"], max_length=config.max_target_positions, is_multilingual=multilingual,
        no_timestamps_token_id=specials["notimestamps"], prev_sot_token_id=specials["prev"],
        max_initial_timestamp_index=50, return_timestamps=False, begin_suppress_tokens=[220, specials["eot"]],
        suppress_tokens=sorted(suppress))
    if multilingual:
        vocab = tokenizer.get_vocab()
        gen.lang_to_id = {tok: idx for tok, idx in vocab.items()
                          if specials["sot"] < idx < specials["translate"] and tok.startswith("<|")}
        gen.task_to_id = {"translate": specials["translate"], "transcribe": specials["transcribe"]}
    else:  # English-only: <|startoftranscript|><|notimestamps|>, as openai-whisper decodes .en models
        gen.forced_decoder_ids = [[1, specials["notimestamps"]]]
    return gen


def _non_speech_tokens(n_vocab: int) -> list[int]:
    """openai-whisper's default suppression (``suppress_tokens="-1"``: non-speech symbols) for this vocabulary."""
    from whisper.tokenizer import get_tokenizer

    multilingual = n_vocab >= MULTILINGUAL_VOCAB
    # openai-whisper's own count (whisper/model.py num_languages)
    tok = get_tokenizer(multilingual, num_languages=n_vocab - 51765 - int(multilingual))
    return list(tok.non_speech_tokens)


def ct2_to_transformers(ct2_folder: Path, out_dir: Path) -> Path:
    """A transformers Whisper folder from a CTranslate2 one (through the openai-whisper checkpoint)."""
    ct2_folder = Path(ct2_folder)
    checkpoint = ct2_to_openai(ct2_folder)
    ct2_config = json.loads((ct2_folder / "config.json").read_text(encoding="utf-8"))
    out = openai_to_transformers(checkpoint, ct2_folder / "tokenizer.json", out_dir,
                                 suppress_tokens=ct2_config.get("suppress_ids"))
    (out / "converted_from.json").write_text(json.dumps({"ctranslate2_folder": ct2_folder.name}), encoding="utf-8")
    return out
