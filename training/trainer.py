"""One trainer for both stages (CPT and SFT): HF Trainer, optional DeepSpeed ZeRO-2, packing, resume.

The final model is written to ``output_dir`` itself (weights, tokenizer, generation config), next to the
``checkpoint-N`` folders the Trainer keeps for resuming; ``output_dir`` is what the harness loads as a
``cslm`` model and what the next stage names as its ``model``.
"""
from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import yaml

from models.cslm.checkpoint import CSLM_DEFAULTS_FILE
from training.chat import ChatEncoder
from training.dataset import PlannedExamples, Schedule, TokenizedExamples, build_examples, cache_key
from training.packing import PackedCollator, PackedDataset, check_packing_support
from training.recipe import Recipe

log = logging.getLogger("training")
RECIPE_FILE = "training_recipe.yaml"
REPORT_FILE = "data_report.json"


def resolve_device(recipe: Recipe) -> str:
    import torch

    if recipe.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if recipe.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device=cuda but no CUDA device is visible; use device=cpu (fp32) or device=auto")
    return recipe.device


def resolve_precision(recipe: Recipe, device: str) -> str:
    """bf16 on a GPU that has it (fp16 otherwise), float32 on CPU."""
    import torch

    if recipe.precision != "auto":
        return recipe.precision
    if device == "cpu":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def pad_token_id(recipe: Recipe, tokenizer) -> int:
    """The recipe's pad id, else the tokenizer's pad token, else EOS; checked against the vocabulary."""
    pad = recipe.pad_token_id
    if pad is None:
        return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if not 0 <= pad < len(tokenizer):
        raise ValueError(f"pad_token_id={pad} is outside the tokenizer of {recipe.model} ({len(tokenizer)} tokens); "
                         f"set pad_token_id=null to pad with its own pad token (or EOS)")
    return pad


def training_arguments(recipe: Recipe, device: str, precision: str, has_eval: bool):
    from dataclasses import fields as dc_fields

    from transformers import TrainingArguments

    # transformers 5 folded warmup_ratio into warmup_steps (a float < 1 is a ratio); 4.x has both.
    names = {f.name for f in dc_fields(TrainingArguments)}
    warmup = {"warmup_ratio": recipe.warmup_ratio} if "warmup_ratio" in names else {"warmup_steps": recipe.warmup_ratio}
    # ... and renamed gradient_checkpointing to activation_checkpointing.
    ckpt = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    return TrainingArguments(
        **warmup,
        output_dir=recipe.output_dir,
        per_device_train_batch_size=recipe.per_device_train_batch_size,
        per_device_eval_batch_size=recipe.per_device_train_batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps,
        learning_rate=recipe.learning_rate, weight_decay=recipe.weight_decay,
        lr_scheduler_type=recipe.lr_scheduler_type,
        # the planned mix holds ceil(num_train_epochs) epochs of fresh draws (see schedule): one pass over it
        num_train_epochs=recipe.num_train_epochs / max(1, math.ceil(recipe.num_train_epochs)),
        max_steps=recipe.max_steps,
        max_grad_norm=recipe.max_grad_norm,
        bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=device == "cpu",
        deepspeed=recipe.deepspeed, **{ckpt: recipe.gradient_checkpointing},
        save_strategy="steps", save_steps=recipe.save_steps, save_total_limit=recipe.save_total_limit,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=(recipe.eval_steps or recipe.save_steps) if has_eval else None,
        logging_steps=recipe.logging_steps, report_to=recipe.report_to, seed=recipe.seed,
        data_seed=recipe.seed, dataloader_num_workers=recipe.dataloader_num_workers,
        remove_unused_columns=False,  # the collator builds exactly what the model takes
        # the planned mix is shuffled per epoch already; reading it in order keeps its epochs in order and lets
        # the data report say which records training reached (training.dataset.PlannedExamples)
        **({"train_sampling_strategy": "sequential"} if "train_sampling_strategy" in names else {}),
        optim="adamw_torch",
    )


def schedule(recipe: Recipe, args) -> Schedule:
    """How many rows training reads, so the mix plans that many epochs of fresh draws."""
    pack = (recipe.pack_length or recipe.max_length) if recipe.packing else None
    if recipe.max_steps > 0:
        rows = recipe.max_steps * recipe.per_device_train_batch_size * recipe.gradient_accumulation_steps
        return Schedule(rows=rows * args.world_size, pack_length=pack)
    return Schedule(epochs=max(1, math.ceil(recipe.num_train_epochs)), pack_length=pack)


def prepare_data(recipe: Recipe, tokenizer, args) -> tuple[PlannedExamples, TokenizedExamples | None, dict]:
    """Tokenize on the main process once; other ranks load the cached arrays it wrote."""
    encoder = ChatEncoder(tokenizer, recipe.max_length, recipe.train_on_inputs, recipe.truncate,
                          recipe.loss_mask, recipe.encoding)
    plan = schedule(recipe, args)
    key = cache_key([s.path for s in recipe.data], {
        "tokenizer": getattr(tokenizer, "name_or_path", ""), "vocab": len(tokenizer),
        "template": tokenizer.chat_template, "max_length": recipe.max_length, "truncate": recipe.truncate,
        "train_on_inputs": recipe.train_on_inputs, "loss_mask": recipe.loss_mask, "encoding": recipe.encoding,
        "mix": [(s.path, s.ratio) for s in recipe.data],
        "mix_size": recipe.mix_size, "eval_size": recipe.eval_size, "seed": recipe.seed,
        "schedule": vars(plan), "plan": 2})
    cache = Path(recipe.output_dir) / "tokenized" / key
    with args.main_process_first(desc="tokenize"):
        if not (cache / "report.json").is_file():
            mixed = build_examples([(s.path, s.ratio) for s in recipe.data], encoder, mix_size=recipe.mix_size,
                                   eval_size=recipe.eval_size, seed=recipe.seed, num_proc=recipe.num_proc,
                                   schedule=plan)
            cache.mkdir(parents=True, exist_ok=True)
            mixed.train.save(cache)
            if mixed.eval is not None:
                mixed.eval.save(cache / "eval.npz")
            (cache / "report.json").write_text(json.dumps(mixed.report, indent=2, ensure_ascii=False) + "\n")
        train = PlannedExamples.load(cache)
        evals = TokenizedExamples.load(cache / "eval.npz") if (cache / "eval.npz").is_file() else None
        report = json.loads((cache / "report.json").read_text())
    return train, evals, report


def last_checkpoint(recipe: Recipe) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    if recipe.resume == "never":
        return None
    if recipe.resume != "auto":
        if not Path(recipe.resume).is_dir():
            raise FileNotFoundError(f"resume={recipe.resume}: no such checkpoint folder")
        return recipe.resume
    return get_last_checkpoint(recipe.output_dir) if Path(recipe.output_dir).is_dir() else None


def train(recipe: Recipe) -> dict[str, Any]:
    """Run one stage; returns a summary (final loss, steps, data report, output folder)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq

    from models.cslm.units import detect_units
    from training.labelled_loss import LabelledLossTrainer

    device = resolve_device(recipe)
    precision = resolve_precision(recipe, device)
    if recipe.precision in ("bf16", "fp16") and device == "cpu":
        raise RuntimeError(f"precision={recipe.precision} on CPU: use precision=fp32 or auto")
    if recipe.packing:
        check_packing_support()
    if recipe.deepspeed and device == "cpu":
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    looks_local = recipe.model.startswith((".", "/", "~")) or recipe.model.count("/") != 1
    if looks_local and not Path(recipe.model).expanduser().is_dir():
        raise FileNotFoundError(f"model {recipe.model} does not exist; point model= at a merged-vocabulary "
                                f"checkpoint (python -m training merge-vocab) or the previous stage's output_dir")
    tokenizer = AutoTokenizer.from_pretrained(recipe.model)
    if recipe.stage != "text":  # stage 0 trains the text model itself, before merge-vocab adds the units
        detect_units(tokenizer)  # refuse a text-only model: run `python -m training merge-vocab` first
    if not tokenizer.chat_template:
        raise ValueError(f"{recipe.model}: the tokenizer has no chat template (records are chat turns)")
    pad_id = pad_token_id(recipe, tokenizer)

    args = training_arguments(recipe, device, precision, has_eval=recipe.eval_size > 0)
    train_ex, eval_ex, report = prepare_data(recipe, tokenizer, args)

    # Weights stay float32 (mixed precision autocasts; DeepSpeed keeps fp32 masters), as the released scripts.
    model = AutoModelForCausalLM.from_pretrained(recipe.model, dtype=torch.float32,
                                                 attn_implementation=recipe.attn_implementation)
    model.config.use_cache = False  # no KV cache while training (the packed collator also says so per batch)
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens, embeddings {model.get_input_embeddings().weight.shape[0]} "
                         f"rows: the checkpoint's vocabulary was not merged with its weights")

    if recipe.packing:
        capacity = recipe.pack_length or recipe.max_length
        train_ds = PackedDataset(train_ex, train_ex.lengths().tolist(), capacity, seed=recipe.seed,
                                 groups=train_ex.epochs())
        eval_ds = PackedDataset(eval_ex, eval_ex.lengths().tolist(), capacity, seed=recipe.seed) if eval_ex else None
        collator = PackedCollator(pad_id)
    else:
        train_ds, eval_ds = train_ex, eval_ex
        tokenizer.pad_token_id, tokenizer.padding_side = pad_id, "right"  # as released; labels padded with -100
        collator = DataCollatorForSeq2Seq(tokenizer, pad_to_multiple_of=8, padding=True, return_tensors="pt")
    callbacks = []
    if recipe.harness_eval is not None:
        from training.harness_eval import make_callback

        callbacks.append(make_callback(recipe.harness_eval, recipe.output_dir, recipe.seed,
                                       lambda folder: write_cslm_defaults(recipe, folder)))
    trainer = LabelledLossTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                                  data_collator=collator, processing_class=tokenizer, callbacks=callbacks)
    resume = last_checkpoint(recipe)
    result = trainer.train(resume_from_checkpoint=resume)
    report["seen"] = seen_by_source(train_ex, train_ds, trainer.state.global_step * args.per_device_train_batch_size
                                    * args.gradient_accumulation_steps * args.world_size)
    model.config.use_cache = True  # the saved checkpoint generates with a KV cache
    trainer.save_model(recipe.output_dir)  # final weights + tokenizer: the folder the harness loads
    summary = {"stage": recipe.stage, "output_dir": recipe.output_dir, "resumed_from": resume,
               "global_step": trainer.state.global_step, "train_loss": result.training_loss,
               "device": device, "precision": precision, "deepspeed": recipe.deepspeed,
               "rows": len(train_ds), "examples": len(train_ex), "log_history": trainer.state.log_history}
    if trainer.is_world_process_zero():
        out = Path(recipe.output_dir)
        (out / RECIPE_FILE).write_text(yaml.safe_dump(
            {**recipe.to_dict(), "data": [vars(s) for s in recipe.data]}, sort_keys=False, allow_unicode=True))
        (out / REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        (out / "train_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        write_cslm_defaults(recipe, out)
        if callbacks and recipe.harness_eval.final:  # the final model too (save_model calls no on_save)
            rows = callbacks[0].evaluator.evaluate(out, trainer.state.global_step, label="final")
            summary["harness_eval"] = rows
            (out / "train_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return {**summary, "data_report": report}


def seen_by_source(planned: PlannedExamples, rows_dataset, rows: int) -> dict[str, dict[str, int]]:
    """Per source: the records, the draws training read, and how many distinct records they were (the Trainer
    reads the planned rows in order, wrapping round when a run reads more than were planned)."""
    import numpy as np

    read = np.arange(rows) % len(rows_dataset)
    positions = rows_dataset.positions(read.tolist()) if isinstance(rows_dataset, PackedDataset) else read
    return planned.seen(positions)


def write_cslm_defaults(recipe: Recipe, folder: str | Path) -> None:
    """Decoding defaults the harness's CSLM adapter reads: this trainer's targets follow a standard generation
    prompt, not the released decode scripts' closed empty assistant turn -- except a model trained with the
    released encoding (double BOS, as the released decode prompt), which is decoded as released."""
    mode = "released" if recipe.encoding == "released" else "generation-prompt"
    (Path(folder) / CSLM_DEFAULTS_FILE).write_text(json.dumps({"generation": {"prompt_mode": mode}}, indent=2) + "\n")
