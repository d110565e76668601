"""Vocabulary merge: a text LLM (Llama-3.1-8B-Instruct) becomes a CSLM starting point.

Adds the span markers ``<sosp>``/``<eosp>``, the SFT tags ``[question]``/``[answer]`` and the 4096
CosyVoice unit tokens (one block, so unit u is
token ``offset + u``) as plain added tokens -- not "special", so ``skip_special_tokens`` keeps them, as the
released decode scripts rely on -- then resizes the input embeddings and the LM head.

Initialisation of the new rows (``init``):
- ``normal`` (default): every new row -- input embedding and, when untied, LM-head row -- is drawn from
  N(mean, covariance) of the existing rows of that matrix. A new token looks like a typical existing token:
  its logit starts in the range of the others (no zero or N(0, 0.02) outlier that dominates or vanishes
  in the softmax), and the 4096 units start as DIFFERENT vectors, so the model can tell them apart from
  step one.
- ``mean``: transformers' ``mean_resizing``, which scales the covariance by 1e-9: all new rows are
  (almost exactly) the mean row. Measured here: a tiny model then cannot separate the units within 100
  steps (first-token loss stays at ln 8 on an 8-way mapping), because they start identical.
- ``centroids``: the unit rows come from the speech tokenizer's k-means centroids (``centroids``: a .npy of
  n_units x dim), projected to the model width (their principal components; a seeded rotation when the
  model is wider than the centroids' rank) and scaled so each row's distance from the existing rows' mean
  is their mean distance: units that sound alike start close. The markers are drawn as ``normal``.
The seed is fixed and recorded.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.cslm.units import DEFAULT_UNITS, SPAN_CLOSE, SPAN_OPEN, UNIT_FORMATS, detect_units
from training.sft_data import ANSWER_TAG, QUESTION_TAG

# Added with the units so CPT and SFT share one vocabulary: the SFT response tags, which the released
# sft.py adds to the tokenizer at SFT time.
DEFAULT_EXTRA_TOKENS = (QUESTION_TAG, ANSWER_TAG)

MERGE_INFO = "cslm_vocab.json"  # written next to the weights: what was added, where, and how it was initialised
INITS = {"normal": "new rows ~ N(mean, covariance) of the existing rows (input embeddings and LM head)",
         "mean": "transformers mean_resizing: new rows = mean of the existing rows (+ 1e-9-scaled noise)",
         "centroids": "unit rows = the codec's k-means centroids, projected to the model width (principal "
                      "components) and scaled to the existing rows' spread; markers as normal"}


def sample_like(rows, n: int, generator):
    """``n`` vectors from N(mean, covariance) of ``rows`` (float32; a small ridge keeps it positive definite)."""
    import torch

    x = rows.detach().float()
    mean = x.mean(0)
    centered = x - mean
    cov = centered.T @ centered / max(len(x) - 1, 1)
    ridge = 1e-6 * cov.diagonal().mean().clamp_min(1e-12)
    chol = torch.linalg.cholesky(cov + ridge * torch.eye(cov.shape[0]))
    noise = torch.randn(n, x.shape[1], generator=generator)
    return mean + noise @ chol.T


def rows_from_centroids(centroids, like, generator):
    """Unit rows from k-means centroids (n x dim): projected to ``like``'s width and placed around ``like``'s mean
    at its rows' mean distance from it."""
    import torch

    c = torch.as_tensor(centroids, dtype=torch.float32)
    c = c - c.mean(0)
    u, s, _ = torch.linalg.svd(c, full_matrices=False)
    width = like.shape[1]
    k = min(width, len(s))
    proj = torch.zeros(len(c), width)
    proj[:, :k] = u[:, :k] * s[:k]
    if k < width:  # rotate so the empty dimensions are not always the last ones
        q, _ = torch.linalg.qr(torch.randn(width, width, generator=generator))
        proj = proj @ q
    x = like.detach().float()
    mean = x.mean(0)
    spread = (x - mean).norm(dim=1).mean()
    return mean + proj * (spread / proj.norm(dim=1, keepdim=True).clamp_min(1e-12))


def merge_vocab(base: str, out_dir: str | Path, *, n_units: int = DEFAULT_UNITS, unit_format: str = "angle",
                extra_tokens: tuple[str, ...] = DEFAULT_EXTRA_TOKENS, pad_to_multiple_of: int | None = None, seed: int = 0,
                dtype: str = "auto", init: str = "normal", centroids: str | Path | None = None) -> dict[str, Any]:
    """Write ``base`` with the merged vocabulary to ``out_dir``; returns the merge summary."""
    import torch
    from tokenizers import AddedToken
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)} (got {init!r})")
    if (init == "centroids") != (centroids is not None):
        raise ValueError("init=centroids needs centroids= (the codec's centroids.npy), and centroids= needs "
                         "init=centroids")
    if centroids is not None:
        import numpy as np

        table = np.load(centroids)
        if table.ndim != 2 or table.shape[0] != n_units:
            raise ValueError(f"{centroids}: {table.shape} centroids for {n_units} units; give the codec whose "
                             f"units these are (n_units = its number of codes)")
    if unit_format not in UNIT_FORMATS:
        raise ValueError(f"unknown unit format {unit_format!r}; known: {', '.join(UNIT_FORMATS)}")
    tokenizer = AutoTokenizer.from_pretrained(base)
    before = len(tokenizer)
    vocab = tokenizer.get_vocab()
    markers = [t for t in (SPAN_OPEN, SPAN_CLOSE, *extra_tokens) if t not in vocab]
    fmt = UNIT_FORMATS[unit_format][0]
    present = [i for i in range(n_units) if fmt.format(i) in vocab]
    if present and len(present) != n_units:
        raise ValueError(f"{base} already has {len(present)} of {n_units} {fmt.format(0)}-style unit tokens; "
                         f"merge into a clean text model")
    tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in markers])
    if not present:
        tokenizer.add_tokens([AddedToken(fmt.format(i), normalized=False, special=False) for i in range(n_units)])
    units = detect_units(tokenizer, n_units=n_units, prefer=unit_format)
    if units.offset is None:
        raise ValueError("the unit tokens did not get contiguous ids; the arithmetic unit -> token mapping "
                         "needs one block (is a token of the block already in the vocabulary?)")

    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    old_rows = model.get_input_embeddings().weight.shape[0]
    torch.manual_seed(seed)
    model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=pad_to_multiple_of,
                                  mean_resizing=init == "mean")
    new_rows = model.get_input_embeddings().weight.shape[0]
    if init in ("normal", "centroids"):
        generator = torch.Generator().manual_seed(seed)
        matrices = [model.get_input_embeddings().weight]
        head = model.get_output_embeddings()
        if head is not None and head.weight.data_ptr() != matrices[0].data_ptr():
            matrices.append(head.weight)
        for weight in matrices:
            with torch.no_grad():
                weight[old_rows:] = sample_like(weight[:old_rows], new_rows - old_rows, generator).to(weight.dtype)
                if init == "centroids":
                    lo = units.offset
                    weight[lo:lo + n_units] = rows_from_centroids(table, weight[:old_rows], generator).to(weight.dtype)
    # The config's vocab_size follows the embedding; eos/pad ids are unchanged (new tokens come last).
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    info = {
        "base": str(base), "tokenizer_size_before": before, "tokenizer_size_after": len(tokenizer),
        "embedding_rows_before": old_rows, "embedding_rows_after": new_rows,
        "added_markers": markers, "unit_format": unit_format, "unit_token_0": fmt.format(0),
        "n_units": n_units, "unit_offset": units.offset,
        "init": INITS[init], **({"centroids": str(centroids)} if centroids is not None else {}),
        "seed": seed,
    }
    (out / MERGE_INFO).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return info
