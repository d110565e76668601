"""Train the unit -> mel net on one long stream of (units, log mel) with seeded random crops; resumable.

Crops for step ``s`` come from ``default_rng(seed, s)``, and the checkpoint holds the weights, the optimizer
and the step, so a killed run resumed from its last checkpoint continues exactly as an unbroken one would.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np


def train_vocoder(units: np.ndarray, mels: np.ndarray, net_config, recipe, seed: int, ckpt_path: Path,
                  progress_factory) -> dict:
    """units (N,) int64, mels (N x upsample, n_mels) float32 -> trains; returns a summary (loss, steps, time)."""
    import torch

    from models.codec.net import UnitMelNet

    torch.manual_seed(seed)
    net = UnitMelNet(net_config)
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=0.0)
    step, history, spent = 0, [], 0.0
    if ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, history, spent = state["step"], state["history"], state["seconds"]
    up = net_config.upsample
    crop = min(recipe.crop_units, len(units))
    units_t = torch.from_numpy(units)
    mels_t = torch.from_numpy(mels)

    def lr_at(s: int) -> float:
        return warmup_cosine(s, recipe.lr, recipe.warmup, recipe.steps)

    def save():
        save_checkpoint(ckpt_path, net, opt, step, history, spent)

    net.train()
    start = time.perf_counter() - spent
    bar = progress_factory(total=recipe.steps, initial=step, desc="train vocoder")
    stopped_early = False
    while step < recipe.steps:
        rng = np.random.default_rng([seed, step])
        starts = rng.integers(0, len(units) - crop + 1, size=recipe.batch_size)
        x = torch.stack([units_t[s:s + crop] for s in starts])
        y = torch.stack([mels_t[s * up:(s + crop) * up] for s in starts])
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        loss = torch.nn.functional.l1_loss(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        spent = time.perf_counter() - start
        history.append(round(loss.item(), 5))
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(history[-50:]):.4f}")
        if step % recipe.checkpoint_every == 0 or step == recipe.steps:
            save()
        if recipe.max_minutes and spent > recipe.max_minutes * 60 and step < recipe.steps:
            save()
            stopped_early = True
            break
    bar.close()
    net.eval()
    return {"net": net, "steps_done": step, "steps": recipe.steps, "seconds": round(spent, 1),
            "final_loss": float(np.mean(history[-50:])) if history else None, "stopped_early": stopped_early}


def warmup_cosine(step: int, lr: float, warmup: int, steps: int) -> float:
    """Linear warm-up, then cosine decay to 0 at ``steps``: the codec trainers' learning rate."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def save_checkpoint(path: Path, net, opt, step: int, history: list, seconds: float) -> None:
    """A resumable training state, written atomically (a kill never leaves half a checkpoint)."""
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "step": step, "history": history,
                "seconds": seconds}, tmp)
    tmp.replace(path)
