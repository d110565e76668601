"""Resolve a RunOptions into a ready task, before any model loads: names, capabilities, options, languages.

Every configuration mistake surfaces here, with a message that says what to do.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from harness.datasets.base import DatasetLoad
from harness.model import ModelConfigError
from harness.normalize import NormalizerError, get_normalizer
from harness.options import ConfigError, RunOptions, judge_hint
from harness.registry import DATASETS, MODELS, TASKS, UnknownNameError
from harness.tasks.base import Task
from harness.tasks.spec import TaskConfigError, TaskSpec


def is_task_file(name: str) -> bool:
    """``--task ./my_task.yaml``: a user's own task file, not a registered name."""
    return str(name).endswith((".yaml", ".yml"))


def load_task_spec(name: str) -> TaskSpec:
    if is_task_file(name):  # validated like the shipped YAMLs; named by its stem
        if not Path(name).is_file():
            raise TaskConfigError(f"--task {name}: no such task file; give the path of a task YAML "
                                  f"(docs/tasks.md) or a registered name (`python -m harness list tasks`)")
        return TaskSpec.from_yaml(name, user=True)
    obj = TASKS.get(name)
    if callable(obj) and not isinstance(obj, (type, Path)):
        obj = obj()
    if isinstance(obj, TaskSpec):
        return obj
    if isinstance(obj, (str, Path)):
        return TaskSpec.from_yaml(obj)
    if isinstance(obj, dict):
        return TaskSpec.from_dict(obj, source=f"entry point {name}")
    raise TaskConfigError(f"task {name!r} resolves to {type(obj).__name__}; expected a TaskSpec, YAML path or dict")


def _import(path: str, what: str) -> Any:
    module, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{what}: cannot import {path!r}: {exc}") from None


def model_factory(name: str, role: str) -> Any:
    try:
        return MODELS.get(name)
    except UnknownNameError as exc:
        raise ConfigError(f"{role}: {exc}") from None


def construct(factory: Any, name: str, args: dict[str, str], role: str) -> Any:
    try:
        return factory(name=name, **args)
    except ModelConfigError as exc:  # a judge's options are --judge-arg LANG.KEY, not the model's --model-arg
        raise ConfigError(f"{role} {name}: " + (judge_hint(str(exc), role[10:]) if role.startswith("judge for ")
                                                 else str(exc))) from None
    except TypeError as exc:  # an option the adapter's signature does not take
        raise ConfigError(f"{role} {name}: bad option(s) {sorted(args)}: {exc}") from None


def plan(options: RunOptions) -> tuple[Task, Any]:
    """The task (with its model and judges constructed, not loaded) and the dataset object."""
    try:
        spec = load_task_spec(options.task)
    except UnknownNameError as exc:
        raise ConfigError(str(exc)) from None
    except TaskConfigError as exc:
        raise ConfigError(str(exc)) from None
    task_cls = _import(spec.class_path, f"{spec.source}: field 'class'")
    try:
        get_normalizer(spec.normalizer)
    except NormalizerError as exc:
        raise ConfigError(f"{spec.source}: field 'normalizer': {exc}") from None

    factory = model_factory(options.model, "--model")
    have = set(getattr(factory, "capabilities", ()))
    missing = [need for need in spec.needs if need not in have]
    if missing:
        raise ConfigError(
            f"task {spec.task} needs a model that can {', '.join(missing)}; {options.model} can "
            f"{', '.join(sorted(have)) or 'nothing registered'}. `python -m harness list models` shows capabilities.")

    dataset_name = options.dataset or spec.dataset
    if not dataset_name:
        raise ConfigError(f"task {spec.task} has no default dataset; pass --dataset NAME")
    try:
        dataset_factory = DATASETS.get(dataset_name)
    except UnknownNameError as exc:
        raise ConfigError(str(exc)) from None
    dataset_args = {**spec.dataset_args, **options.dataset_args} if not options.dataset else dict(options.dataset_args)
    try:
        dataset = dataset_factory(**dataset_args)
    except TypeError as exc:
        raise ConfigError(f"dataset {dataset_name}: bad --dataset-arg {sorted(dataset_args)}: {exc}") from None

    task = task_cls(spec=spec, options=options)
    task.model = construct(factory, options.model, dict(options.model_args), "--model")
    try:
        task.model.prepare(set(spec.needs))
    except ModelConfigError as exc:
        raise ConfigError(f"--model {options.model} for task {spec.task}: {exc}") from None
    task.configure()
    if options.reference_scorer and not task.takes_reference_scorer:
        raise ConfigError(f"task {spec.task} has no reference scorer (it serves the S2S tasks); drop --reference-scorer")
    unknown_judge_langs = set(options.judge_args) - set(task.judge_names())
    if unknown_judge_langs:
        raise ConfigError(f"--judge-arg names language(s) {sorted(unknown_judge_langs)} that have no judge "
                          f"in task {spec.task}; judges: {task.judge_names()}")
    return task, dataset


def attach_judges(task: Task, load: DatasetLoad) -> None:
    """Construct the judges for the languages present, then let the task check languages and items."""
    langs = {item.lang for item in load.items}
    names = task.judge_names()
    if task.spec.judges or task.spec.offline_judges or task.options.judges:
        for lang in sorted(task.judge_languages(langs) & set(names)):
            factory = model_factory(names[lang], f"judge for {lang}")
            if "transcribe" not in getattr(factory, "capabilities", ()):
                raise ConfigError(f"judge {names[lang]} cannot transcribe; choose an ASR model with --judge {lang}=MODEL")
            task.judges[lang] = construct(factory, names[lang], dict(task.options.judge_args.get(lang, {})),
                                          f"judge for {lang}")
    task.check_languages(langs)
    task.check_items(load.items)


def default_run_dir(task: str, system: str, dataset: str | None, dataset_args: dict[str, str]) -> str:
    """``runs/<task>--<system>--<dataset>`` (the dataset's name= when given, else its name or the task's default
    set): the folder a run writes to when none is given, on the command line and in ``harness.evaluate``."""
    from harness.paths import default_output_dir

    name = Path(task).stem if is_task_file(task) else task  # a task file's results are named by its stem
    if not dataset:
        try:
            dataset = load_task_spec(task).dataset
        except (LookupError, ValueError):  # an unknown task: the run itself says so, with close matches
            dataset = None
    return default_output_dir(name, system, dataset_args.get("name") or dataset or "default")
