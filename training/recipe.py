"""Training recipes: YAML files turned into one frozen dataclass, with ``key=value`` overrides.

Unknown keys fail at once, naming the key and the closest known ones; values are type-checked against
the field annotations. Relative paths are relative to the current directory (``deepspeed`` may also
name a config shipped in ``training/``, e.g. ``ds_zero2.json``).
"""
from __future__ import annotations

import difflib
import types
import typing
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from training.chat import ENCODINGS, LOSS_MASKS
from training.harness_eval import HarnessEval, HarnessEvalError, parse_harness_eval

TRAINING_DIR = Path(__file__).resolve().parent
RECIPES_DIR = TRAINING_DIR / "recipes"


STAGES = ("cpt", "sft", "text")


class RecipeError(ValueError):
    """A recipe mistake found before anything loads; the message names the key and what to do."""


@dataclass(frozen=True)
class DataSource:
    path: str            # JSONL (or JSON) file of prompt/response records written by build-cpt / build-sft
    ratio: float = 1.0   # share of the mixed dataset drawn from this source (normalised over sources)


@dataclass(frozen=True)
class Recipe:
    # "cpt" or "sft": names the run; both use the same trainer. "text": stage 0, a text-only model trained
    # before merge-vocab (the stand-in for Llama-3.1-8B-Instruct); the only stage that allows no unit tokens.
    stage: str
    model: str                          # starting checkpoint: merged-vocabulary model (merge-vocab) or CSLM-base
    output_dir: str                     # checkpoints, final model, data report
    data: tuple[DataSource, ...]        # training sources and their mixing ratios
    mix_size: int | None = None         # examples per epoch after mixing; None: largest mix without repeats
    eval_size: int = 0                  # examples held out for evaluation (released: 2000 CPT, 1000 SFT)
    max_length: int = 1024              # tokens per example; longer ones are refused and counted
    truncate: bool = False              # cut over-long examples to max_length (released) instead of refusing them
    train_on_inputs: bool = False       # True: loss on every token (released flag; both releases set False)
    # Which labels carry the loss (train_on_inputs=false): "assistant" = assistant turns only (this project);
    # "released" = all but each [user header, assistant header) span and the first BOS (released
    # pretrain.py/sft.py: trains the system block, assistant headers, <|eot_id|>s and a second BOS).
    loss_mask: str = "assistant"
    # "template": the chat template's tokens (one BOS); "released": the tokenizer adds its BOS too (double
    # BOS), ids are cut to max_length before masking, EOS appended when missing (released tokenize()).
    encoding: str = "template"
    packing: bool = True                # pack examples into rows (position_ids restart, no cross attention)
    pack_length: int | None = None      # tokens per packed row; None: max_length
    per_device_train_batch_size: int = 1  # rows (packed) or examples (padded) per device and micro-step
    gradient_accumulation_steps: int = 1  # micro-steps per optimizer step
    learning_rate: float = 2e-5         # peak learning rate
    weight_decay: float = 0.0           # AdamW weight decay
    warmup_ratio: float = 0.03          # share of steps spent warming up
    lr_scheduler_type: str = "cosine"   # transformers scheduler name
    num_train_epochs: float = 1.0       # passes over the mixed data (ignored when max_steps > 0)
    max_steps: int = -1                 # > 0: stop after this many optimizer steps
    max_grad_norm: float = 1.0          # gradient clipping
    precision: str = "auto"             # auto (bf16 on GPU, fp32 on CPU) | bf16 | fp16 | fp32
    device: str = "auto"                # auto | cpu | cuda; cpu sets TrainingArguments.use_cpu
    deepspeed: str | None = None        # DeepSpeed config (JSON): a path, or a file shipped in training/
    gradient_checkpointing: bool = False  # trade compute for activation memory (8B on 80 GB GPUs)
    attn_implementation: str = "sdpa"   # sdpa | eager | flash_attention_2
    save_steps: int = 10000             # checkpoint every N optimizer steps
    eval_steps: int | None = None       # evaluate every N steps; None: save_steps (released: 100 = logging_steps)
    # Padding id of padded batches: None = the tokenizer's pad token, else EOS; released: 128002 (Llama-3's
    # <|reserved_special_token_0|>). Padding is masked out, so the id never changes the loss.
    pad_token_id: int | None = None
    save_total_limit: int = 3           # checkpoints kept
    logging_steps: int = 100            # log the loss every N steps
    resume: str = "auto"                # auto: newest checkpoint in output_dir | never | PATH
    seed: int = 42                      # data mixing, shuffling, initialisation
    num_proc: int = 1                   # processes for tokenization (datasets.map)
    dataloader_num_workers: int = 0     # DataLoader workers
    report_to: str = "none"             # tensorboard | wandb | none
    harness_eval: HarnessEval | None = None  # harness tasks on each saved checkpoint (training.harness_eval)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise RecipeError(f"stage must be 'cpt' or 'sft' (or 'text': stage 0, a text-only model before "
                              f"merge-vocab) (got {self.stage!r})")
        if self.precision not in ("auto", "bf16", "fp16", "fp32"):
            raise RecipeError(f"precision must be auto, bf16, fp16 or fp32 (got {self.precision!r})")
        if self.device not in ("auto", "cpu", "cuda"):
            raise RecipeError(f"device must be auto, cpu or cuda (got {self.device!r})")
        if not self.data:
            raise RecipeError("data: name at least one source ({path: FILE.jsonl, ratio: 1.0})")
        if not 0 <= self.warmup_ratio < 1:
            raise RecipeError(f"warmup_ratio must be in [0, 1) (got {self.warmup_ratio})")
        if any(src.ratio <= 0 for src in self.data):
            raise RecipeError("data: every ratio must be > 0")
        if self.loss_mask not in LOSS_MASKS:
            raise RecipeError(f"loss_mask must be {' or '.join(LOSS_MASKS)} (got {self.loss_mask!r})")
        if self.encoding not in ENCODINGS:
            raise RecipeError(f"encoding must be {' or '.join(ENCODINGS)} (got {self.encoding!r})")
        if self.train_on_inputs and self.loss_mask == "released":
            raise RecipeError("train_on_inputs=true trains on every token, loss_mask=released masks the user "
                              "turns: set train_on_inputs=false (as released) or loss_mask=assistant")
        if self.eval_steps is not None and self.eval_size == 0:
            raise RecipeError(f"eval_steps={self.eval_steps} but eval_size=0: nothing is held out to evaluate; "
                              f"set eval_size > 0 or drop eval_steps")
        if self.pack_length is not None and not self.packing:
            raise RecipeError("pack_length is set but packing is false; drop one of the two options")
        if self.pack_length is not None and self.pack_length < self.max_length:
            raise RecipeError(f"pack_length {self.pack_length} < max_length {self.max_length}: "
                              f"an example of max_length would not fit in a row")
        if self.precision in ("bf16", "fp16") and self.device == "cpu":
            raise RecipeError(f"precision={self.precision} with device=cpu: train in fp32 on CPU")
        if self.attn_implementation == "flash_attention_2" and self.device == "cpu":
            raise RecipeError("attn_implementation=flash_attention_2 needs device=cuda")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _hint(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=3)
    return f" (did you mean {', '.join(close)}?)" if close else f"; known keys: {', '.join(known)}"


def _check_type(key: str, value: Any, annotation: Any) -> Any:
    hint = annotation
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        hint = next(a for a in options if a is not type(None))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if hint in (int, float, str, bool):
        if type(value) is not hint:
            raise RecipeError(f"{key}: expected {hint.__name__}, got {value!r} ({type(value).__name__})")
    return value


def _data(value: Any) -> tuple[DataSource, ...]:
    if not isinstance(value, list):
        raise RecipeError("data: expected a list of {path: ..., ratio: ...}")
    known = [f.name for f in fields(DataSource)]
    out = []
    for i, entry in enumerate(value):
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict):
            raise RecipeError(f"data[{i}]: expected a mapping with 'path' (and 'ratio')")
        for key in entry:
            if key not in known:
                raise RecipeError(f"data[{i}]: unknown key {key!r}{_hint(key, known)}")
        if "path" not in entry:
            raise RecipeError(f"data[{i}]: missing 'path'")
        out.append(DataSource(path=str(entry["path"]),
                              ratio=float(_check_type(f"data[{i}].ratio", entry.get("ratio", 1.0), float))))
    return tuple(out)


def read_recipe_yaml(path: str | Path, error: type[ValueError] = RecipeError) -> dict[str, Any]:
    """A recipe file's mapping (empty file: {}); unreadable YAML or a non-mapping raises ``error`` naming the path."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise error(f"{path}: a recipe is a mapping of key: value")
    return data


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``key=value`` strings; values are YAML (``max_steps=10``, ``packing=false``, ``data=[a.jsonl]``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RecipeError(f"override {item!r} is not key=value")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out


def build_recipe(raw: dict[str, Any]) -> Recipe:
    """Validate a mapping (YAML content + overrides) into a Recipe."""
    known = {f.name: f for f in fields(Recipe)}
    hints = typing.get_type_hints(Recipe)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise RecipeError(f"unknown recipe key {key!r}{_hint(key, sorted(known))}")
        if key == "data":
            values[key] = _data(value)
        elif key == "harness_eval":
            try:
                values[key] = parse_harness_eval(value)
            except HarnessEvalError as exc:
                raise RecipeError(str(exc)) from None
        else:
            values[key] = _check_type(key, value, hints[key])
    missing = [name for name, f in known.items()
               if name not in values and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise RecipeError(f"recipe is missing required key(s): {', '.join(missing)}")
    return Recipe(**values)


def _resolve_deepspeed(raw: dict[str, Any]) -> dict[str, Any]:
    """A relative DeepSpeed config that does not exist from the current directory names a shipped one."""
    ds = raw.get("deepspeed")
    if isinstance(ds, str) and not Path(ds).exists() and (TRAINING_DIR / ds).is_file():
        return {**raw, "deepspeed": str(TRAINING_DIR / ds)}
    return raw


def load_recipe(path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> Recipe:
    """Read a recipe YAML (a path, or the name of a shipped recipe), apply overrides, validate.

    Relative paths (model, data, output_dir) are relative to the current directory, like the
    command-line overrides that usually replace them."""
    path = Path(path)
    if not path.is_file():
        for candidate in (RECIPES_DIR / path.name, RECIPES_DIR / f"{path.name}.yaml"):
            if candidate.is_file():
                path = candidate
                break
        else:
            raise RecipeError(f"recipe {path} not found; shipped recipes: "
                              f"{', '.join(sorted(p.stem for p in RECIPES_DIR.glob('*.yaml')))}")
    raw = read_recipe_yaml(path)
    extra = parse_overrides(overrides) if isinstance(overrides, list) else dict(overrides or {})
    try:
        return build_recipe(_resolve_deepspeed({**raw, **extra}))
    except RecipeError as exc:
        raise RecipeError(f"{path}: {exc}") from None


def launch_command(path: str | Path) -> str | None:
    """The ``# launch: ...`` line in a recipe's header (how the recipe is meant to be started)."""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.lstrip("# ").startswith("launch:"):
            return line.split("launch:", 1)[1].strip()
    return None
