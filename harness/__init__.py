"""cslm-harness: the same tasks, judges and normalizers for every speech language model.

``python -m harness`` is the command line; ``harness.evaluate`` runs one evaluation from Python. This module
stays light (``python -m harness list`` imports it and must not import torch): evaluate() imports the runner
only when it is called.
"""
from __future__ import annotations

import os
from typing import Any

__all__ = ["evaluate"]

# Options whose values are KEY=VALUE strings on the command line; evaluate() passes them as the CLI does, so a
# Python call and the same `harness run` share their stage caches (the options are hashed into the keys).
_STRING_MAPS = ("model_args", "dataset_args", "judges", "llm_judge_args")
_NESTED_MAPS = ("judge_args", "quality_judges")  # LANG or judge name -> {KEY: VALUE}


def evaluate(task: str, model: str, dataset: str | None = None, **options: Any) -> dict[str, Any] | None:
    """Run ``task`` on ``model`` (registered names: ``python -m harness list``) and return the results dict,
    the content of the ``results.json`` it also writes (None on the non-zero ranks of a data-parallel run).

    ``dataset`` defaults to the task's own. ``options`` are the fields of ``harness.options.RunOptions``, named
    as the CLI flags without dashes: ``model_args={"path": DIR}``, ``dataset_args``, ``judges={"en": MODEL}``,
    ``judge_args={"en": {KEY: VALUE}}``, ``offline_judges``, ``llm_judge``, ``llm_judge_args``,
    ``quality_judges``, ``reference_scorer``, ``limit``, ``batch_size``, ``name`` (the system's name in results
    and tables), ``output_dir`` (default ``runs/<task>--<name or model>--<dataset>``, as the CLI's),
    ``overwrite``, ``retry_failed``, ``bootstrap_resamples``, ``seed``, ``progress`` (default False here). A finished run in ``output_dir`` is resumed from its cache, as on the command line.

    Configuration mistakes raise ``harness.options.ConfigError`` (an unknown option names the known ones)
    before anything loads; a measurement that failed on some samples returns ``results["status"] ==
    "incomplete"``.
    """
    from dataclasses import fields

    from harness.options import ConfigError, RunOptions
    from harness.runner import evaluate as run

    known = {f.name for f in fields(RunOptions)} - {"task", "model", "dataset"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"harness.evaluate: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for key in _STRING_MAPS:
        if key in options:
            options[key] = {str(k): _as_cli(v) for k, v in dict(options[key]).items()}
    for key in _NESTED_MAPS:
        if key in options:
            options[key] = {str(outer): {str(k): _as_cli(v) for k, v in dict(inner or {}).items()}
                            for outer, inner in dict(options[key]).items()}
    if not options.get("output_dir"):  # the command line's default folder: runs/<task>--<name or model>--<dataset>
        from harness.plan import default_run_dir

        options["output_dir"] = default_run_dir(task, options.get("name") or model, dataset,
                                                options.get("dataset_args", {}))
    options["output_dir"] = os.fspath(options["output_dir"])
    options.setdefault("progress", False)
    return run(RunOptions(task=task, model=model, dataset=dataset, **options))


def _as_cli(value: Any) -> str:
    """A value as `--model-arg KEY=VALUE` would give it: True -> "true", Path -> its string."""
    return str(value).lower() if isinstance(value, bool) else str(value)
