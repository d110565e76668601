"""Train the codec's duration model (models.codec.durations) on the codec's own training utterances; resumable.

Each utterance's un-merged units give the truth: merge the repeats, and each run's length is its target
(a class over 1..max_frames). The utterances become one stream, each padded with boundary ids (left_context
before, lookahead after), so a window never sees across utterances; a step draws ``batch_size`` windows of
``window_runs`` runs from ``default_rng(seed, step)``, and the checkpoint holds weights, optimizer and step, so
a resumed run continues exactly as an unbroken one. A seeded share of the utterances is kept out of training
to measure the fit (never the codec's held-out evaluation sentences: those are not among its utterances).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from models.codec.durations import DurationConfig, DurationModel, DurationNet, pad
from models.unit_vocoder import merge_repeats
from training.codec.train_vocoder import save_checkpoint, warmup_cosine


def split_utterances(count: int, share: float, seed: int) -> tuple[list[int], list[int]]:
    """(training, validation) utterance indices; at least one of each when there are two or more."""
    rng = np.random.default_rng([seed, 7])
    n_val = min(count - 1, max(1, round(count * share))) if count > 1 else 0
    val = set(rng.choice(count, n_val, replace=False).tolist()) if n_val else set()
    return [i for i in range(count) if i not in val], sorted(val)


def fit_report(model: DurationModel, utterances: list[np.ndarray]) -> dict:
    """How well predicted run lengths match the true ones, beside the all-ones rendering (one frame per run).

    ``exact``: share of runs given their true length; ``mae``: mean |predicted - true| frames per run;
    ``alignment``: mean |predicted - true| start frame of each run (how far the rendering drifts in time);
    ``length_ratio``: frames rendered / true frames."""
    rows = {"model": [], "ones": []}
    for units in utterances:
        merged, runs = merge_repeats(units)
        if not len(merged):
            continue
        for key, pred in (("model", model.durations(merged)), ("ones", np.ones_like(runs))):
            rows[key].append((pred, runs))
    out = {}
    for key, pairs in rows.items():
        pred = np.concatenate([p for p, _ in pairs])
        true = np.concatenate([t for _, t in pairs])
        drift = np.concatenate([np.abs(np.cumsum(p) - np.cumsum(t)) for p, t in pairs])
        out[key] = {"exact": round(float((pred == true).mean()), 4), "mae": round(float(np.abs(pred - true).mean()), 4),
                    "alignment": round(float(drift.mean()), 3), "length_ratio": round(float(pred.sum() / true.sum()), 4)}
    out["runs"] = int(sum(len(t) for _, t in rows["model"]))
    out["mean_run_frames"] = round(float(np.concatenate([t for _, t in rows["model"]]).mean()), 4)
    return out


def train_durations(utterances: list[np.ndarray], config: DurationConfig, recipe, seed: int, ckpt_path: Path,
                    progress_factory, centroids: np.ndarray | None = None) -> dict:
    """utterances: un-merged unit arrays -> trains; returns a summary (net, loss, steps, time, fit).
    ``centroids`` (codes x feature_dim, standardized space): the unit inputs when unit_features is centroids."""
    import torch

    train_idx, val_idx = split_utterances(len(utterances), recipe.validation_share, seed)
    ids, targets = [], []
    for i in train_idx:
        merged, runs = merge_repeats(utterances[i])
        if not len(merged):
            continue
        ids.append(pad(merged, config))
        targets.append(np.concatenate([np.full(config.left_context, -1), np.minimum(runs, config.max_frames) - 1,
                                       np.full(config.lookahead, -1)]))
    ids_t = torch.from_numpy(np.concatenate(ids))
    targets_np = np.concatenate(targets)
    span = recipe.window_runs + config.left_context + config.lookahead
    if len(ids_t) < span:
        raise ValueError(f"{len(ids_t)} padded runs cannot fill one window of {span}: lower durations.window_runs")

    torch.manual_seed(seed)
    net = DurationNet(config)
    if config.unit_features == "centroids":
        if centroids is None:
            raise ValueError("unit_features centroids needs the codec's centroids")
        net.set_centroids(centroids)
    drop = torch.nn.Dropout(recipe.dropout)
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=recipe.lr, weight_decay=0.01)
    step, history, spent = 0, [], 0.0
    if ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, history, spent = state["step"], state["history"], state["seconds"]

    def lr_at(s: int) -> float:
        return warmup_cosine(s, recipe.lr, recipe.warmup, recipe.steps)

    def save():
        save_checkpoint(ckpt_path, net, opt, step, history, spent)

    net.train()
    start = time.perf_counter() - spent
    bar = progress_factory(total=recipe.steps, initial=step, desc="train durations")
    while step < recipe.steps:
        rng = np.random.default_rng([seed, step])
        starts = rng.integers(0, len(ids_t) - span + 1, size=recipe.batch_size)
        x = torch.stack([ids_t[s:s + span] for s in starts])
        y = torch.from_numpy(np.stack([targets_np[s + config.left_context:s + config.left_context + recipe.window_runs]
                                       for s in starts]))
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        logits = net(x, dropout=drop)  # dropout on the unit inputs (training only)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, config.max_frames), y.reshape(-1), ignore_index=-1)
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
    bar.close()
    net.eval()
    model = DurationModel(net, recipe.rounding)
    fit = {"training": fit_report(model, [utterances[i] for i in train_idx]),
           "validation": fit_report(model, [utterances[i] for i in val_idx]) if val_idx else None,
           "utterances": {"training": len(train_idx), "validation": len(val_idx)}}
    return {"net": net, "steps_done": step, "steps": recipe.steps, "seconds": round(spent, 1),
            "final_loss": float(np.mean(history[-50:])) if history else None, "fit": fit}
