"""Evaluation during training: harness tasks on every saved checkpoint, their curves in the training output.

A recipe's ``harness_eval`` block names the runs (task, dataset, a small held-out ``limit``) and the CSLM adapter
options they share (speech tokenizer, vocoder, max_new_tokens...). After each checkpoint is saved, rank 0
evaluates it with ``harness.runner.evaluate`` -- the same stages, cache, provenance and failure accounting as
``python -m harness run`` -- then the final model once training ends. Written into the training output:

    harness_eval/step-000020/<run>/      each evaluation's own results.json, samples.jsonl and cache
    harness_eval/metrics.jsonl           one line per (step, run, headline metric): value, ci95, coverage, status
    harness_eval/curves/<run>.png        each run's headline metrics over the steps
and each line also goes into the Trainer's log history (``harness/<run>/<metric>_<lang>``).

Evaluation runs in the training process, on its device, with a second copy of the weights: fine for the
small models this is meant for (a Llama-3.1-8B CPT on GPUs should evaluate its checkpoints from a separate
``python -m harness run`` instead). A resumed training skips evaluations already in metrics.jsonl.

    harness_eval:
      model_args: {speech_tokenizer: runs/codec-full, vocoder: "codec:runs/codec-full", max_new_tokens: 96}
      runs:
        - {task: asr_wer, dataset: local, dataset_args: {path: runs/world/asr-heldout.jsonl}, limit: 20}
        - {name: qa-en, task: s2s_reference_qa, dataset: local, dataset_args: {path: ...}, limit: 20}
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

EVAL_DIR = "harness_eval"
METRICS_FILE = "metrics.jsonl"


class HarnessEvalError(ValueError):
    """A harness_eval block that cannot work; the message names the key."""


@dataclass(frozen=True)
class EvalRun:
    task: str                                             # registered harness task
    name: str = ""                                        # folder / curve name ("" : the task's name)
    dataset: str | None = None                            # None: the task's default dataset
    dataset_args: dict[str, str] = field(default_factory=dict)
    limit: int | None = None                              # the held-out subset: the first N items
    model_args: dict[str, str] = field(default_factory=dict)  # added to harness_eval.model_args for this run
    options: dict[str, Any] = field(default_factory=dict)     # further RunOptions fields (llm_judge, judges, ...)

    @property
    def label(self) -> str:
        return self.name or self.task


@dataclass(frozen=True)
class HarnessEval:
    runs: tuple[EvalRun, ...]
    model: str = "cslm"                                   # the harness model that loads a checkpoint folder
    model_args: dict[str, str] = field(default_factory=dict)
    offline_judges: bool = True                           # the tasks' offline judge set (no downloads)
    final: bool = True                                    # also evaluate the final model after training
    batch_size: int = 8
    bootstrap_resamples: int = 1000


def parse_harness_eval(value: Any) -> HarnessEval | None:
    """The recipe's ``harness_eval`` mapping -> HarnessEval (None stays None); mistakes name the key."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HarnessEvalError("harness_eval: expected a mapping with 'runs' (a list of {task, dataset, ...})")
    top = {f.name for f in fields(HarnessEval)}
    unknown = sorted(set(value) - top)
    if unknown:
        raise HarnessEvalError(f"harness_eval: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(top))}")
    runs = value.get("runs")
    if not isinstance(runs, list) or not runs:
        raise HarnessEvalError("harness_eval.runs: name at least one run ({task: asr_wer, dataset: ..., limit: 20})")
    known = {f.name for f in fields(EvalRun)}
    parsed = []
    for i, entry in enumerate(runs):
        if not isinstance(entry, dict) or "task" not in entry:
            raise HarnessEvalError(f"harness_eval.runs[{i}]: expected a mapping with 'task'")
        bad = sorted(set(entry) - known)
        if bad:
            raise HarnessEvalError(f"harness_eval.runs[{i}]: unknown key(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
        for key in ("dataset_args", "model_args", "options"):
            if not isinstance(entry.get(key, {}), dict):
                raise HarnessEvalError(f"harness_eval.runs[{i}].{key}: expected a mapping")
        parsed.append(EvalRun(**{**entry, "dataset_args": _strings(entry.get("dataset_args", {})),
                                 "model_args": _strings(entry.get("model_args", {}))}))
    labels = [r.label for r in parsed]
    if len(set(labels)) != len(labels):
        raise HarnessEvalError(f"harness_eval.runs: two runs share a name ({', '.join(labels)}); give each a 'name'")
    rest = {k: v for k, v in value.items() if k != "runs"}
    if not isinstance(rest.get("model_args", {}), dict):
        raise HarnessEvalError("harness_eval.model_args: expected a mapping")
    return HarnessEval(runs=tuple(parsed), **{**rest, "model_args": _strings(rest.get("model_args", {}))})


def _strings(mapping: dict) -> dict[str, str]:
    """--model-arg style values: strings (YAML's true/64 become 'true'/'64')."""
    return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in mapping.items()}


class CheckpointEvaluator:
    """Runs the harness_eval runs on one model folder at one step; appends to metrics.jsonl; redraws curves."""

    def __init__(self, spec: HarnessEval, output_dir: str | Path, seed: int = 0):
        self.spec, self.root, self.seed = spec, Path(output_dir) / EVAL_DIR, seed
        self.metrics_path = self.root / METRICS_FILE

    def done(self) -> set[tuple[int, str]]:
        return {(row["step"], row["run"]) for row in self.rows()}

    def evaluate(self, model_dir: str | Path, step: int, label: str = "checkpoint") -> list[dict[str, Any]]:
        from harness.options import RunOptions
        from harness.paths import safe_name
        from harness.runner import evaluate

        done, rows = self.done(), []
        for run in self.spec.runs:
            if (step, run.label) in done:
                continue
            out = self.root / f"step-{step:06d}" / safe_name(run.label)
            options = RunOptions(task=run.task, model=self.spec.model,
                                 model_args={**self.spec.model_args, **run.model_args, "path": str(model_dir)},
                                 dataset=run.dataset, dataset_args=dict(run.dataset_args), limit=run.limit,
                                 offline_judges=self.spec.offline_judges, batch_size=self.spec.batch_size,
                                 bootstrap_resamples=self.spec.bootstrap_resamples, seed=self.seed,
                                 output_dir=str(out), progress=False, **run.options)
            results = evaluate(options)
            rows += [{"step": step, "run": run.label, "task": run.task, "model": label, "name": m["name"],
                      "lang": m["lang"], "aggregation": m["aggregation"], "channel": m.get("channel"),
                      "value": m["value"], "ci95": m.get("ci95"), "n": m["n"], "coverage": m.get("coverage"),
                      "status": results["status"], "results": str(out / "results.json")}
                     for m in results["metrics"] if m.get("headline", True)]
        if rows:
            self.root.mkdir(parents=True, exist_ok=True)
            with open(self.metrics_path, "a", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
            self.plot()
        return rows

    def rows(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines()]

    def plot(self) -> list[Path]:
        """One PNG per run: each headline metric (per language / channel) against the step."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from harness.paths import safe_name

        by_run: dict[str, dict[str, list[tuple[int, float]]]] = {}
        for r in self.rows():
            if r["value"] is None:
                continue
            key = " ".join(x for x in (r["name"], r["lang"], r.get("channel") or "", r["aggregation"]) if x)
            by_run.setdefault(r["run"], {}).setdefault(key, []).append((r["step"], r["value"]))
        folder = self.root / "curves"
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for run, series in by_run.items():
            fig, ax = plt.subplots(figsize=(6, 3.5))
            for key, points in sorted(series.items()):
                points.sort()
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=key)
            ax.set_xlabel("optimizer step")
            ax.set_title(f"{run} (harness, held-out subset)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
            fig.tight_layout()
            path = folder / f"{safe_name(run)}.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            paths.append(path)
        return paths


def make_callback(spec: HarnessEval, output_dir: str, seed: int, prepare_checkpoint):
    """A transformers TrainerCallback that evaluates each saved checkpoint (rank 0); ``prepare_checkpoint(dir)``
    writes what the harness needs beside the weights (the decoding defaults) first."""
    from transformers import TrainerCallback

    evaluator = CheckpointEvaluator(spec, output_dir, seed)

    class HarnessEvalCallback(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            prepare_checkpoint(folder)
            for row in evaluator.evaluate(folder, state.global_step):
                state.log_history.append({"step": state.global_step, _log_key(row): row["value"]})

    callback = HarnessEvalCallback()
    callback.evaluator = evaluator
    return callback


def _log_key(row: dict[str, Any]) -> str:
    parts = [row["name"], row["lang"]] + ([row["channel"]] if row.get("channel") else [])
    return f"harness/{row['run']}/" + "_".join(parts)
