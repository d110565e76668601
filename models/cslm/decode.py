"""Batched local decoding: left-padded prompts, one KV cache, per-row seeded sampling.

``generate()`` of transformers draws every row of a batch from one random stream, so a request's sample
would depend on which other requests share its batch. This loop runs the model's own forward (with a
``DynamicCache``) and samples each row with its own ``torch.Generator`` seeded for that request, so a row's
draws never depend on its neighbours. Logits are processed exactly as ``GenerationMixin._sample`` does for
``do_sample=True`` with no beams (float32 logits, then TemperatureLogitsWarper if temperature != 1, then
TopKLogitsWarper if top_k != 0, then TopPLogitsWarper if top_p < 1, min_tokens_to_keep=1; softmax;
``torch.multinomial(probs, 1)``); greedy is ``argmax``. Finished rows are fed the pad token, as generate()
does. Left padding is masked and position ids restart at each row's first real token, so a padded row sees
the same positions as when it runs alone; only float rounding of differently shaped kernels can differ.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DecodeSettings:
    max_new_tokens: int                  # tokens generated per row at most (an end token counts)
    end_ids: frozenset[int]              # a row stops after emitting one of these (kept in its stream)
    pad_id: int                          # left padding, and what finished rows are fed
    do_sample: bool = False              # False: argmax (greedy); True: temperature / top_k / top_p, multinomial
    temperature: float = 1.0             # as transformers: skipped when exactly 1.0
    top_k: int = 0                       # 0 disables
    top_p: float = 1.0                   # 1.0 disables


def warpers(settings: DecodeSettings):
    """The LogitsProcessorList generate() builds for these settings (same classes, same order)."""
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    out = LogitsProcessorList()
    if settings.temperature != 1.0:
        out.append(TemperatureLogitsWarper(settings.temperature))
    if settings.top_k:
        out.append(TopKLogitsWarper(top_k=settings.top_k, min_tokens_to_keep=1))
    if settings.top_p < 1.0:
        out.append(TopPLogitsWarper(top_p=settings.top_p, min_tokens_to_keep=1))
    return out


def left_pad(prompts: Sequence[np.ndarray], pad_id: int, device) -> tuple:
    """(input_ids, attention_mask, position_ids), each (rows, longest prompt), padding on the left."""
    import torch

    longest = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), longest), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, longest - len(prompt):] = torch.as_tensor(np.asarray(prompt, dtype=np.int64))
        mask[row, longest - len(prompt):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # generate()'s rule: padded slots get 0, masked anyway
    return ids.to(device), mask.to(device), positions.to(device)


def decode(model, prompts: Sequence[np.ndarray], settings: DecodeSettings, seeds: Sequence[int] | None = None,
           on_token: Callable[[int, int], None] | None = None,
           on_end: Callable[[int], None] | None = None) -> list[list[int]]:
    """Generate for every prompt in one left-padded batch; returns each row's generated ids (end token kept).

    ``seeds``: one per row (sampling); ``on_token(row, token)`` is called as each token is chosen, and
    ``on_end(row)`` once when that row is done (streamers stamp timing there).
    """
    import torch
    from transformers import DynamicCache

    device = model.device
    rows = len(prompts)
    ids, mask, positions = left_pad(prompts, settings.pad_id, device)
    process = warpers(settings) if settings.do_sample else None
    generators = None
    if settings.do_sample:
        if seeds is None or len(seeds) != rows:
            raise ValueError("sampling needs one seed per row")
        generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
    cache = DynamicCache(config=model.config)
    out: list[list[int]] = [[] for _ in range(rows)]
    active = set(range(rows))
    step_ids = ids
    with torch.inference_mode():
        for step in range(settings.max_new_tokens):
            logits = model(input_ids=step_ids, attention_mask=mask, position_ids=positions, cache=cache,
                           use_cache=True, logits_to_keep=1).logits[:, -1].to(dtype=torch.float32)
            if process is None:
                chosen = torch.argmax(logits, dim=-1).tolist()
            else:
                probs = torch.nn.functional.softmax(process(None, logits), dim=-1)
                chosen = [settings.pad_id] * rows
                for row in sorted(active):  # each row from its own stream: independent of its neighbours
                    chosen[row] = int(torch.multinomial(probs[row], 1, generator=generators[row]))
            still = set()
            for row in range(rows):
                if row not in active:
                    chosen[row] = settings.pad_id
                    continue
                token = int(chosen[row])
                out[row].append(token)
                if on_token is not None:
                    on_token(row, token)
                if token in settings.end_ids or step + 1 == settings.max_new_tokens:
                    if on_end is not None:
                        on_end(row)
                else:
                    still.add(row)
            active = still
            if not active:
                break
            step_ids = torch.as_tensor(chosen, dtype=torch.long, device=device)[:, None]
            mask = torch.cat([mask, mask.new_ones((rows, 1))], dim=-1)
            positions = positions[:, -1:] + 1
    return out


def length_groups(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of at most ``batch_size`` by prompt length (least padding), in order of
    length; ties keep their input order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
