"""The training loss computed at labelled positions only: the LM head never sees a prompt or padding token.

A causal LM's own loss projects every position onto the vocabulary (batch x length x vocab logits) and then
ignores the ~85 % whose label is -100 (prompt tokens, packing boundaries, padding). Here the labels are shifted
first (the prediction at position t is for label t + 1, as transformers' ``ForCausalLMLoss``), and the model is
asked for the logits of the labelled positions only, through transformers' ``logits_to_keep`` with a boolean
(batch, length) mask (transformers >= 5: the hidden states are gathered at the True positions before the LM head,
giving (n_labelled, vocab) logits). The forward still goes through whatever wraps the model (DeepSpeed engine,
DDP, PEFT), so ZeRO's and DDP's hooks see an ordinary forward and backward.

Normalisation is transformers' (``fixed_cross_entropy``): the token-summed cross entropy divided by the
Trainer's ``num_items_in_batch`` (labelled tokens of the whole accumulated batch, summed over ranks when
``average_tokens_across_devices``) when given, else the mean over this batch's labelled tokens. A batch with no
labelled token gives a loss of 0 with zero gradients (transformers' own path gives NaN there).
"""
from __future__ import annotations

import logging
from typing import Any

import torch
from transformers import Trainer

from training.chat import IGNORE

log = logging.getLogger(__name__)


def shifted_labels(inputs: dict[str, Any]) -> torch.Tensor:
    """The label each position predicts: ``shift_labels`` when the collator gives them, else labels[t + 1]
    (the last position predicts nothing), as transformers' ForCausalLMLoss."""
    if inputs.get("shift_labels") is not None:
        return inputs["shift_labels"]
    labels = inputs["labels"]
    return torch.nn.functional.pad(labels, (0, 1), value=IGNORE)[..., 1:]


def labelled_loss(model, inputs: dict[str, Any],
                  num_items_in_batch: torch.Tensor | int | None = None) -> tuple[torch.Tensor, Any]:
    """(loss, model outputs) of a causal LM on ``inputs`` (input_ids, labels and attention_mask or packed
    position_ids), with the LM head applied to the labelled positions only; ``outputs.logits`` is then
    (n_labelled, vocab), in the row-major order of the labelled positions. ``model`` may be wrapped."""
    target = shifted_labels(inputs)
    keep = target != IGNORE
    forward = {k: v for k, v in inputs.items() if k not in ("labels", "shift_labels")}
    outputs = model(**forward, logits_to_keep=keep)
    logits = outputs.logits
    n = int(keep.sum())
    if logits.dim() != 2 or logits.shape[0] != n:
        raise TypeError(f"{type(model).__name__} returned logits of shape {tuple(logits.shape)} for a boolean "
                        f"logits_to_keep mask with {n} True positions (expected ({n}, vocab)): its forward does "
                        f"not slice with transformers' slice_logits_to_keep; train it with the plain Trainer")
    total = torch.nn.functional.cross_entropy(logits.float(), target[keep].to(logits.device), reduction="sum")
    if num_items_in_batch is None:
        return total / max(n, 1), outputs
    if torch.is_tensor(num_items_in_batch):
        return total / num_items_in_batch.to(total.device).clamp(min=1), outputs
    return total / max(num_items_in_batch, 1), outputs


class LabelledLossTrainer(Trainer):
    """``transformers.Trainer`` whose training (and loss-only evaluation) loss is ``labelled_loss``; with label
    smoothing or a ``compute_loss_func``, or when logits are wanted (``predict``, ``compute_metrics``), the
    Trainer's own path runs, full logits included."""

    _logged = False

    def _own_path(self, inputs) -> bool:
        return (self.label_smoother is not None or self.compute_loss_func is not None
                or inputs.get("labels") is None)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs or self._own_path(inputs):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        loss, _ = labelled_loss(model, inputs, num_items_in_batch)
        if not self._logged and model.training:
            self._logged = True
            n, m = int((shifted_labels(inputs) != IGNORE).sum()), inputs["labels"].numel()
            log.info("labelled loss through %s: LM head on %d of %d positions (%.1f %%)",
                     type(model).__name__, n, m, 100 * n / max(m, 1))
        # As Trainer.compute_loss: num_items_in_batch was summed over the ranks, and the ranks' gradients are
        # averaged, so each rank's loss is scaled by the number of ranks. With num_items_in_batch the loss is
        # already normalised over the accumulated batch; training_step decides that the way it does for the
        # model's own loss (loss_is_scaled_for_ga stays None).
        if (self.args.average_tokens_across_devices and self.model_accepts_loss_kwargs
                and num_items_in_batch is not None):
            loss_scale = self.accelerator.num_processes // self.get_tp_size()
            loss *= loss_scale if self.args.n_gpu <= 1 else self.args.n_gpu
        return loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        if not prediction_loss_only or self._own_path(inputs):
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():  # the batch's mean, as the model's own loss
            loss, _ = labelled_loss(model, inputs)
        return loss.detach().mean(), None, None


def logits_bytes(batch: int, length: int, vocab: int, labelled_fraction: float, dtype_bytes: int) -> dict[str, int]:
    """Bytes of one logits tensor: the model's own path (every position) and the labelled path (the labelled
    positions only). The loss upcasts logits to float32 (another tensor of the same shape: dtype_bytes=4)."""
    positions = batch * length
    return {"full": positions * vocab * dtype_bytes,
            "labelled": round(positions * labelled_fraction) * vocab * dtype_bytes}
