"""The staged, cached, resumable runner.

dataset -> stage 1 -> stage 2 -> ... -> summarize -> results.json + samples.jsonl

Each stage processes this rank's shard in batches, skipping samples already in its cache; a failed
sample gets a record with the stage and reason and the run goes on. Rank 0 then merges every shard's
records and writes the results (rewritten, never appended, so a rerun cannot duplicate rows).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from harness import failures, provenance
from harness.cache import StageCache
from harness.datasets.base import DatasetLoad
from harness.errors import MEASUREMENT
from harness.lock import RunLock
from harness.manifest import ManifestItem
from harness.model import ModelConfigError
from harness.options import ConfigError, RunOptions, judge_hint, spec_differences
from harness.parallel import ParallelContext, current_context
from harness.paths import check_output_dir
from harness.plan import attach_judges, plan
from harness.tasks.base import Stage, StageContext

log = logging.getLogger("harness")
# v2: failures carry their kind (system / measurement); metric rows carry coverage and a scored-only value;
# results carry "status" (complete / incomplete). v1 files (failures simply left out) are still collected.
RESULTS_SCHEMA = "cslm-harness/results/v2"
# Capabilities whose tasks read each item's audio (resynthesis may synthesize its input instead: source_tts).
LISTENS = {"transcribe", "respond"}


def _error_record(exc: BaseException, stage: Stage) -> dict[str, Any]:
    code = getattr(exc, "code", None) or type(exc).__name__
    return {"stage": stage.name, "code": str(code), "type": type(exc).__name__, "message": str(exc)[:500],
            "kind": getattr(exc, "kind", None) or stage.fails_as}


def _retry(record: dict[str, Any], stage: Stage, mode: str) -> bool:
    """Whether --retry-failed re-runs this cached record: measurement failures, or every failure with 'all'."""
    error = record["error"]
    return bool(error) and (mode == "all" or (error.get("kind") or stage.fails_as) == MEASUREMENT)


def _call(stage: Stage, batch: list[ManifestItem], upstream, ctx: StageContext) -> list[Any]:
    """Run one batch; if the whole call fails, retry item by item so one bad sample fails alone."""
    try:
        out = stage.process(batch, upstream, ctx)
        if len(out) != len(batch):
            raise RuntimeError(f"stage {stage.name} returned {len(out)} outputs for {len(batch)} samples")
        return out
    except Exception as exc:
        if len(batch) == 1:
            return [exc]
        log.warning("stage %s: batch of %d failed (%s); retrying sample by sample", stage.name, len(batch), exc)
        return [_call(stage, [item], upstream, ctx)[0] for item in batch]


def run_stage(stage: Stage, items: list[ManifestItem], upstream_records: dict[str, dict[str, dict]],
              upstream_keys: dict[str, str], options: RunOptions, par: ParallelContext,
              judges: dict[str, Any] | None = None) -> StageCache:
    out_dir = Path(options.output_dir)
    cache = StageCache(out_dir / "cache", stage.name, {**stage.depends, "upstream": upstream_keys}, par.rank)
    done = cache.load()
    mine = {item.id for item in items}
    if options.retry_failed != "none":
        cache.drop({i for i, r in done.items() if i in mine and _retry(r, stage, options.retry_failed)})
        done = cache.load()

    def ready(item: ManifestItem) -> bool:
        rec = done.get(item.id)
        if rec is not None and rec["item_hash"] == item.content_hash():
            return False
        return all(item.id in upstream_records[u] and not upstream_records[u][item.id]["error"]
                   for u in stage.upstream)

    todo = [item for item in items if ready(item)]
    if not todo:
        return cache
    for model in stage.models:
        try:  # configuration errors (missing weights, absent backend) stop the run here, before any sample
            model.ensure_loaded()
        except ModelConfigError as exc:
            raise ConfigError(_load_error(model, exc, judges or {}, options)) from None
    upstream = {u: {i: r["output"] for i, r in upstream_records[u].items() if not r["error"]}
                for u in stage.upstream}
    ctx = StageContext(output_dir=out_dir, artifact_dir=out_dir / "artifacts" / cache.dir.name)
    bar = tqdm(total=len(todo), desc=f"{stage.name}" + (f" [rank {par.rank}]" if par.world_size > 1 else ""),
               unit="sample", disable=not options.progress, leave=False)
    for start in range(0, len(todo), stage.batch_size):
        batch = todo[start:start + stage.batch_size]
        t0 = time.perf_counter()
        outputs = _call(stage, batch, upstream, ctx)
        per_item = (time.perf_counter() - t0) / len(batch)
        records = []
        for item, out in zip(batch, outputs):
            failed = isinstance(out, BaseException)
            records.append({"id": item.id, "item_hash": item.content_hash(), "seconds": round(per_item, 6),
                            "output": None if failed else out,
                            "error": _error_record(out, stage) if failed else None})
        cache.append(records)
        bar.update(len(batch))
    bar.close()
    return cache


def _load_error(model, exc: ModelConfigError, judges: dict[str, Any], options: RunOptions) -> str:
    """A model that cannot load, said in the options that configure it: a judge's are --judge-arg LANG.KEY."""
    lang = next((lang for lang, judge in judges.items() if judge is model), None)
    if lang is None:
        return f"{model.name}: {exc}"
    return f"judge for {lang} ({model.name}): {judge_hint(str(exc), lang, options.offline_judges)}"


def prepare(options: RunOptions):
    """Every check a run makes before its first sample, nothing run: (task, dataset load, items, notes). A
    group run calls it for each member first, so a mistake in any member stops the group before anything runs."""
    check_output_dir(options.output_dir)
    task, dataset = plan(options)  # names, capabilities, options: nothing loaded yet
    load: DatasetLoad = dataset.load()
    items = load.items[: options.limit] if options.limit else list(load.items)
    DatasetLoad(items=items, problems=load.problems, info=load.info).check_evaluable(
        load.info.get("name") or options.dataset or task.spec.dataset, needs_audio=bool(LISTENS & set(task.spec.needs)))
    attach_judges(task, DatasetLoad(items=items))
    try:  # e.g. precomputed outputs that hold nothing for these ids: a configuration error, not N failures
        notes = task.model.check_items(items, set(task.spec.needs)) if hasattr(task.model, "check_items") else []
    except ModelConfigError as exc:
        raise ConfigError(f"--model {options.model}: {exc}") from None
    return task, load, items, notes


def evaluate(options: RunOptions, argv: list[str] | None = None) -> dict[str, Any] | None:
    """Run one task end to end; returns the results dict on rank 0 (None on other ranks)."""
    task, load, items, notes = prepare(options)
    par = current_context()
    for note in notes if par.is_main else []:
        log.warning(note)
    with RunLock(options.output_dir, par.rank):  # one run per folder; this run's ranks share it
        refuse_replacing(task, options)
        return _evaluate(task, options, load, items, par, argv)


def effective_options(task, given: dict[str, Any]) -> dict[str, Any]:
    """The options as they ran, not as typed: the task's default dataset and its arguments, the YAML's reference
    scorer and LLM judge when the command line left them unset. What results.json records and reruns compare."""
    spec, out = task.spec, dict(given)
    if not out.get("dataset"):
        out["dataset"] = spec.dataset
        out["dataset_args"] = {**spec.dataset_args, **(out.get("dataset_args") or {})}
    yaml_scorer = task.takes_reference_scorer and spec.options.get("reference_scorer") is True
    out["reference_scorer"] = bool(out.get("reference_scorer") or yaml_scorer)
    if not out.get("llm_judge") and spec.options.get("llm_judge"):
        out["llm_judge"] = str(spec.options["llm_judge"])
    return out


def refuse_replacing(task, options: RunOptions) -> None:
    """A finished result is replaced only by a rerun of the same spec (which resumes from the cache), or with
    --overwrite."""
    path = Path(options.output_dir) / "results.json"
    if options.overwrite or not path.is_file():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))["options"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is unreadable ({type(exc).__name__}); pass --overwrite to replace it, or "
                          f"--output-dir DIR for a new folder") from None
    diffs = spec_differences(effective_options(task, old), effective_options(task, options.to_dict()))
    if diffs:
        raise ConfigError(f"{options.output_dir} holds a finished result of another run ({'; '.join(diffs)}); pass "
                          f"--overwrite to replace it, or --output-dir DIR to keep both")


def _evaluate(task, options: RunOptions, load: DatasetLoad, items: list[ManifestItem], par: ParallelContext,
              argv: list[str] | None) -> dict[str, Any] | None:
    shard = par.shard(items)

    records: dict[str, dict[str, dict]] = {}
    keys: dict[str, str] = {}
    caches: dict[str, StageCache] = {}
    stages = task.stages()
    for stage in stages:
        upstream_keys = {u: keys[u] for u in stage.upstream}
        cache = run_stage(stage, shard, records, upstream_keys, options, par, task.judges)
        caches[stage.name], keys[stage.name] = cache, cache.key
        records[stage.name] = cache.load()  # this rank's view; merged below for scoring
    par.barrier()
    if not par.is_main:
        par.barrier()
        return None
    merged = {stage.name: _with_kinds(caches[stage.name].load(), stage) for stage in stages}  # every rank's shard
    summary = task.summarize(items, merged)
    results = _results(task, options, load, items, summary, keys, argv)
    _write(Path(options.output_dir), results, summary["samples"], load)
    par.barrier()
    return results


def _with_kinds(records: dict[str, dict], stage: Stage) -> dict[str, dict]:
    """Records cached before failures had kinds get their stage's kind."""
    for rec in records.values():
        if rec["error"] and "kind" not in rec["error"]:
            rec["error"]["kind"] = stage.fails_as
    return records


def _results(task, options, load, items, summary, keys, argv) -> dict[str, Any]:
    counts = failures.counts(summary["samples"], len(load.problems))
    results = {
        "schema": RESULTS_SCHEMA,
        "task": {"name": task.spec.task, "description": task.spec.description, "source": task.spec.source,
                 **({"sha256": task.spec.sha256} if task.spec.sha256 else {}),  # which version of the YAML ran
                 "normalizer": task.spec.normalizer, "aggregation": task.spec.aggregation},
        "dataset": {**load.info, **load.fingerprint(), "evaluated": len(items), "limit": options.limit},
        "model": _model_block(task.model, options),
        "judges": {lang: judge.describe() for lang, judge in sorted(task.judges.items())},
        "normalizer": _normalizer_info(task.spec.normalizer),
        "options": effective_options(task, options.to_dict()),
        "metrics": summary["metrics"],
        "counts": counts,
        "status": "complete" if counts["complete"] else "incomplete",
        "failure_accounting": {"system": "scored at the metric's worst value (each metric row's failure_rule)",
                               "measurement": failures.MEASUREMENT_RULE},
        "stage_keys": keys,
        "provenance": provenance.collect(argv),
    }
    # Task-specific blocks (e.g. "llm_judge": judge id, prompt, temperature, n); never over a core key.
    for key, block in summary.get("info", {}).items():
        if key in results:
            raise RuntimeError(f"task {task.spec.task} returned info block {key!r}, which is a core results key")
        results[key] = block
    return results


def _model_block(model, options: RunOptions) -> dict[str, Any]:
    """The model's identity, plus the name tables call it by: --name, else the adapter's own (a precomputed
    system: its folder's name). A label only: never part of a cache key."""
    block = model.describe()
    name = options.name or getattr(model, "system_name", None)
    return {**block, "name": name} if name else block


def _normalizer_info(name: str) -> dict[str, str]:
    from harness.normalize import get_normalizer

    return get_normalizer(name).describe()


def _write(out_dir: Path, results: dict[str, Any], samples: list[dict[str, Any]], load: DatasetLoad) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = samples + [{"id": p.id, "status": "failed", "source": p.source,
                       "error": {"stage": "manifest", "code": "manifest", "message": p.reason,
                                 "kind": MEASUREMENT}}
                      for p in load.problems]
    for name, payload in (("samples.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)),
                          ("results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")):
        tmp = out_dir / f".{name}.tmp"
        tmp.write_text(payload, encoding="utf-8")
        tmp.replace(out_dir / name)  # atomic: never a half-written results file
