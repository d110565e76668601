"""Task groups: several tasks, or one task over several dataset configs, in one run folder with a summary.

A group is data: ``harness/tasks/groups/<name>.yaml`` (or a user's own file that has a ``group:`` key)::

    group: uro-basic-en
    description: every basic-track English set of URO-Bench
    summary:                                           # optional: the suite's own aggregation over members
      function: harness.tasks.uro_layout:uro_summary   # called f({key: results, ...}, **args), imported lazily
      args: {channel: speech}
      show: [{Overall: final_score}]                   # what tables print: dotted paths into its output
    members:
      - {task: uro_basic, dataset: uro-bench, dataset_args: {set: Repeat}, key: Repeat}

Members sharing a ``key`` reach the summary function as a list (VoiceBench's MMSU pools its 12 domain runs).
``without: [llm_judge]`` keeps a run-wide option from a member whose task refuses it (a rule-based scorer).
``--task a,b`` is a group made on the spot (no summary); names may mix tasks, task files and groups.

A group run checks every member first (runner.prepare: a mistake anywhere stops it before anything runs), then
runs each with runner.evaluate into ``<output_dir>/<label>/`` and writes ``<output_dir>/group.json``. A member
already finished under the same spec is skipped; an incomplete member makes the group incomplete and the
others still run. Labels pass through paths.safe_name: nothing in a group file steers writes outside the folder.
"""
from __future__ import annotations

import difflib
import hashlib
import importlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from harness.options import ConfigError, RunOptions, spec_differences
from harness.paths import check_output_dir, default_output_dir, safe_name
from harness.registry import TASKS, Registry, UnknownNameError

GROUP_SCHEMA = "cslm-harness/group/v1"
GROUP_FILE = "group.json"
GROUPS = Registry("group", "harness.tasks.groups")
WITHOUT = {"llm_judge": {"llm_judge": None, "llm_judge_args": {}}, "quality_judges": {"quality_judges": {}},
           "reference_scorer": {"reference_scorer": False}}   # option -> the RunOptions fields it resets
MEMBER_FIELDS = {"task", "dataset", "dataset_args", "key", "label", "without"}
GROUP_FIELDS = {"group", "description", "summary", "members"}
SUMMARY_FIELDS = {"function", "args", "show"}


@dataclass(frozen=True)
class Member:
    task: str                                  # registered name or a task file
    label: str                                 # its folder under the group's folder (a safe name)
    dataset: str | None = None                 # None: the run's --dataset, else the task's default
    dataset_args: dict[str, str] = field(default_factory=dict)
    key: str | None = None                     # what the summary function calls it (URO set, VoiceBench subset)
    without: tuple[str, ...] = ()              # run-wide options this member does not take
    group: str = ""                            # the named group it comes from ("" when listed by --task)


@dataclass(frozen=True)
class Summary:
    group: str
    function: str                              # "module:function"
    args: dict[str, Any]
    show: tuple[tuple[str | None, str], ...]   # (label, dotted path into the function's output)


@dataclass(frozen=True)
class Group:
    name: str
    members: tuple[Member, ...]
    summaries: tuple[Summary, ...] = ()
    sources: dict[str, dict[str, str]] = field(default_factory=dict)  # group -> its file and sha256
    description: str = ""


# -- reading group files -----------------------------------------------------------------------------------------
def _need(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise ConfigError(f"{where}: {message}")


def load_group_file(path: str | Path) -> Group:
    """A group YAML, checked field by field (an error names the file and the field)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read group YAML: {exc}") from None
    _need(isinstance(data, dict), str(path), "a group YAML must be a mapping")
    unknown = sorted(set(data) - GROUP_FIELDS)
    _need(not unknown, str(path), f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(GROUP_FIELDS))}")
    name = data.get("group")
    _need(isinstance(name, str) and bool(name), str(path), "field 'group' (the group's name) is required")
    summaries = (_summary(path, name, data["summary"]),) if data.get("summary") is not None else ()
    members = data.get("members")
    _need(isinstance(members, list) and bool(members), str(path), "field 'members' must be a non-empty list")
    out = tuple(_member(path, name, i, m, needs_key=bool(summaries)) for i, m in enumerate(members))
    return Group(name, _unique(out), summaries, {name: {"path": str(path), "sha256": hashlib.sha256(raw).hexdigest()}},
                 str(data.get("description") or ""))


def _summary(path: Path, group: str, data: Any) -> Summary:
    where = f"{path}: field 'summary"
    _need(isinstance(data, dict), f"{where}'", "must be a mapping with function, args, show")
    unknown = sorted(set(data) - SUMMARY_FIELDS)
    _need(not unknown, f"{where}'", f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(SUMMARY_FIELDS))}")
    function = data.get("function")
    _need(isinstance(function, str) and ":" in function, f"{where}.function'", "must be 'module:function'")
    args = data.get("args") or {}
    _need(isinstance(args, dict), f"{where}.args'", "must be a mapping")
    show = []
    for i, entry in enumerate(data.get("show") or []):
        if isinstance(entry, dict) and len(entry) == 1:
            (label, dotted), = entry.items()
            show.append((str(label), str(dotted)))
        else:
            _need(isinstance(entry, str), f"{where}.show[{i}]'", "must be a dotted path or {Label: dotted.path}")
            show.append((None, entry))
    return Summary(group, function, dict(args), tuple(show))


def _member(path: Path, group: str, i: int, data: Any, needs_key: bool) -> Member:
    where = f"{path}: field 'members[{i}]"
    _need(isinstance(data, dict), f"{where}'", "must be a mapping with task (and dataset, dataset_args, key)")
    unknown = sorted(set(data) - MEMBER_FIELDS)
    _need(not unknown, f"{where}'", f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(MEMBER_FIELDS))}")
    task = data.get("task")
    _need(isinstance(task, str) and bool(task), f"{where}.task'", "is required (a task name)")
    dataset_args = data.get("dataset_args") or {}
    _need(isinstance(dataset_args, dict), f"{where}.dataset_args'", "must be a mapping")
    without = data.get("without") or []
    bad = [w for w in without if w not in WITHOUT] if isinstance(without, list) else [without]
    _need(not bad, f"{where}.without'", f"{bad} not among {', '.join(WITHOUT)}")
    key = data.get("key")
    _need(key is not None or not needs_key, f"{where}.key'", "is required: the summary function reads members by key")
    args = {str(k): str(v) for k, v in dataset_args.items()}
    label = data.get("label") or "--".join([task, *args.values()])  # uro_basic--Repeat, voicebench_mcq--mmsu--law
    return Member(task, safe_name(str(label)), data.get("dataset"), args, None if key is None else str(key),
                  tuple(without), group)


def _unique(members: tuple[Member, ...]) -> tuple[Member, ...]:
    seen: set[str] = set()
    for m in members:
        if m.label in seen:
            raise ConfigError(f"member {m.label!r} is listed twice; each member runs once (give it another label)")
        seen.add(m.label)
    return members


def resolve(task_arg: str) -> Group | None:
    """``--task`` as a group, or None when it names one task (a registered name or a task file): the plain run."""
    from harness.plan import is_task_file

    names = [n.strip() for n in str(task_arg).split(",")]
    if not all(names):
        raise ConfigError(f"--task {task_arg!r}: an empty name between commas; list tasks as a,b")
    parts: list[Group] = []
    for name in names:
        if is_task_file(name):
            head = _peek(name)
            parts.append(load_group_file(name) if isinstance(head, dict) and "group" in head else
                         Group(name, (Member(name, safe_name(Path(name).stem)),)))
        elif name in GROUPS:
            parts.append(load_group_file(GROUPS.get(name)))
        else:
            try:
                TASKS.find(name)
            except UnknownNameError as exc:  # the task registry's message, plus the groups close to the name
                close = difflib.get_close_matches(name, GROUPS.names(), n=3, cutoff=0.5)
                raise ConfigError(f"{exc}" + (f" Groups close to it: {', '.join(close)}." if close else "")
                                  + " `python -m harness list groups` lists the groups.") from None
            parts.append(Group(name, (Member(name, safe_name(name)),)))
    if len(parts) == 1 and not parts[0].sources and len(parts[0].members) == 1:
        return None
    members = _unique(tuple(m for g in parts for m in g.members))
    return Group("+".join(g.name if g.sources else g.members[0].label for g in parts), members,
                 tuple(s for g in parts for s in g.summaries), {k: v for g in parts for k, v in g.sources.items()},
                 "; ".join(g.description for g in parts if g.description))


def _peek(name: str) -> Any:
    try:
        return yaml.safe_load(Path(name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # the task loader says what is wrong with it, naming the file


def group_run_dir(group: Group, system: str) -> str:
    """``runs/<group>--<system>--group`` (the single-run default with the group in the task's place)."""
    return default_output_dir(group.name, system, "group")


# -- running ------------------------------------------------------------------------------------------------------
def member_options(base: RunOptions, member: Member) -> RunOptions:
    """One member's options: the run's, with the member's task, dataset and folder; ``{placeholders}`` in model
    arguments filled from the member (``path=outputs/{set}``: one precomputed folder per URO set)."""
    opts = base.to_dict()
    if member.dataset:
        if base.dataset and base.dataset != member.dataset:
            raise ConfigError(f"--dataset {base.dataset} conflicts with member {member.label} of group {member.group}, "
                              f"which reads dataset {member.dataset}; drop --dataset")
        clash = sorted(k for k in base.dataset_args if member.dataset_args.get(k, base.dataset_args[k]) !=
                       base.dataset_args[k])
        if clash:
            raise ConfigError(f"--dataset-arg {clash[0]}={base.dataset_args[clash[0]]} conflicts with member "
                              f"{member.label} of group {member.group} ({clash[0]}={member.dataset_args[clash[0]]}); "
                              f"drop it")
        opts.update(dataset=member.dataset, dataset_args={**member.dataset_args, **base.dataset_args})
    for name in member.without:
        opts.update(WITHOUT[name])
    fields = {"task": Path(member.task).stem if member.task.endswith((".yaml", ".yml")) else member.task,
              "label": member.label, "key": member.key or "", **opts["dataset_args"]}
    opts["model_args"] = {k: _fill(k, v, fields, member) for k, v in base.model_args.items()}
    opts.update(task=member.task, output_dir=str(Path(base.output_dir) / member.label))
    return RunOptions(**opts)


def _fill(key: str, value: str, fields: dict[str, str], member: Member) -> str:
    if "{" not in value:
        return value
    try:
        return value.format_map(fields)
    except (KeyError, ValueError, IndexError) as exc:
        raise ConfigError(f"--model-arg {key}={value}: cannot fill it for member {member.label} ({exc!r}); "
                          f"placeholders: {', '.join('{' + f + '}' for f in fields)}") from None


def _finished(task, opts: RunOptions, load) -> bool:
    """The member's folder holds a complete result of this very spec, data and model: nothing to redo."""
    from harness.runner import effective_options

    path = Path(opts.output_dir) / "results.json"
    if opts.overwrite or opts.retry_failed != "none" or not path.is_file():
        return False
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        model = {k: v for k, v in old["model"].items() if k != "name"}
        same_data = all(old["dataset"].get(k) == v for k, v in load.fingerprint().items())
        return (old["status"] == "complete" and same_data
                and model == json.loads(json.dumps(task.model.describe(), default=str))
                and not spec_differences(effective_options(task, old["options"]), effective_options(task, opts.to_dict())))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False  # unreadable or older: the member runs (its cache makes that cheap)


def _import(function: str, group: str) -> Callable[..., Any]:
    module, _, attr = function.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"group {group}: summary function {function!r} cannot be imported ({exc})") from None


def run_group(group: Group, options: RunOptions, argv: list[str] | None = None,
              say: Callable[[str], None] = print) -> dict[str, Any] | None:
    """Check every member, run each, write group.json; returns its content on rank 0 (None on other ranks)."""
    from harness.datasets.base import DatasetUnavailableError
    from harness.lock import RunLock
    from harness.manifest import ManifestError
    from harness.parallel import current_context
    from harness.runner import evaluate, prepare, refuse_replacing

    out = Path(options.output_dir)
    check_output_dir(out)
    if (out / "results.json").is_file():
        raise ConfigError(f"{out} holds a single run's results.json; a group writes one folder per member: "
                          f"choose another --output-dir")
    checked = []
    for member in group.members:  # every member, before anything runs
        try:
            opts = member_options(options, member)
            task, load, _items, _notes = prepare(opts)
            refuse_replacing(task, opts)
        except (ConfigError, DatasetUnavailableError, ManifestError) as exc:
            raise ConfigError(f"group {group.name}, member {member.label}: {exc}") from None
        checked.append((member, opts, _finished(task, opts, load)))
        del task, load, _items
    functions = {s.group: _import(s.function, s.group) for s in group.summaries}
    par = current_context()
    rows: dict[str, dict[str, Any]] = {m.label: {"run": "not run"} for m in group.members}
    with RunLock(out, par.rank):
        for i, (member, opts, done) in enumerate(checked, 1):
            start = time.perf_counter()
            path = Path(opts.output_dir) / "results.json"
            try:
                results = None if done else evaluate(opts, argv=argv)
            except (ConfigError, DatasetUnavailableError, ManifestError) as exc:  # found only at load time
                if par.is_main:
                    write_group(out, group, options, rows, functions, argv)
                raise ConfigError(f"group {group.name}, member {member.label}: {exc}") from None
            if not par.is_main:
                continue
            results = results or json.loads(path.read_text(encoding="utf-8"))
            rows[member.label] = {"run": "skipped: finished earlier" if done else "ran", "results": results}
            say(f"[{i}/{len(checked)}] {member.label}: {results['status']} "
                f"({rows[member.label]['run']}, {time.perf_counter() - start:.1f} s) -> {path}")
            write_group(out, group, options, rows, functions, argv)  # after each member: a stopped run shows where
    return json.loads((out / GROUP_FILE).read_text(encoding="utf-8")) if par.is_main else None


# -- group.json ---------------------------------------------------------------------------------------------------
def write_group(out: Path, group: Group, options: RunOptions, rows: dict[str, dict[str, Any]],
                functions: dict[str, Callable[..., Any]], argv: list[str] | None) -> dict[str, Any]:
    from harness import provenance

    members = []
    for m in group.members:
        row = rows[m.label]
        res = row.get("results")
        members.append({"label": m.label, "task": m.task, "group": m.group, "key": m.key, "dataset": m.dataset,
                        "dataset_args": m.dataset_args, "results": f"{m.label}/results.json" if res else None,
                        "status": res["status"] if res else "not run", "run": row["run"]})
    first = next((r["results"] for r in rows.values() if r.get("results")), None)
    record = {
        "schema": GROUP_SCHEMA, "name": group.name, "description": group.description, "task": options.task,
        "status": "complete" if all(m["status"] == "complete" for m in members) else "incomplete",
        "system": {"model": options.model, "name": options.name or (first or {}).get("model", {}).get("name"),
                   "id": (first or {}).get("model", {}).get("id", options.model)},
        "options": {k: v for k, v in options.to_dict().items() if k not in ("task", "output_dir", "progress")},
        "members": members,
        "summaries": [_summarize(s, functions[s.group], group, rows) for s in group.summaries],
        "sources": group.sources, "provenance": provenance.collect(argv)}
    tmp = out / f".{GROUP_FILE}.tmp"
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(out / GROUP_FILE)  # atomic, rewritten whole
    return record


def _summarize(s: Summary, fn: Callable[..., Any], group: Group, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    mine = [m for m in group.members if m.group == s.group]
    given: dict[str, list[dict[str, Any]]] = {}
    for m in mine:
        if rows[m.label].get("results"):
            given.setdefault(m.key, []).append(rows[m.label]["results"])
    out: dict[str, Any] = {"group": s.group, "function": s.function, "args": s.args,
                           "members": [m.label for m in mine], "measured": sum(len(v) for v in given.values()),
                           "complete": all((rows[m.label].get("results") or {}).get("status") == "complete"
                                           for m in mine)}
    try:  # a suite's function refuses what it cannot aggregate: recorded, the members' results stand
        value = fn({k: v[0] if len(v) == 1 else v for k, v in given.items()}, **s.args)
    except (ValueError, KeyError, TypeError) as exc:
        return {**out, "error": f"{type(exc).__name__}: {exc}", "table": []}
    return {**out, "value": value, "table": show_table(value, s.show)}


def _at(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def show_table(value: Any, show: tuple[tuple[str | None, str], ...]) -> list[dict[str, Any]]:
    """(name, value) rows of a summary: each ``show`` path, a list of {column|name, value} or a mapping of numbers
    spread into one row each; no ``show``: every top-level number."""
    rows: list[dict[str, Any]] = []
    for label, dotted in show or tuple((None, k) for k, v in value.items() if _number(v)):
        node = _at(value, dotted)
        if isinstance(node, list):
            rows += [{"name": str(e.get("column") or e.get("name")), "value": e.get("value")}
                     for e in node if isinstance(e, dict) and "value" in e]
        elif isinstance(node, dict):
            rows += [{"name": str(k), "value": v} for k, v in node.items() if _number(v) or v is None]
        else:
            rows.append({"name": label or dotted.rsplit(".", 1)[-1], "value": node if _number(node) else None})
    return rows


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def find_groups(paths: list[str | Path]) -> list[Path]:
    """Every group.json at or under ``paths`` (files or folders)."""
    found: dict[Path, None] = {}
    for p in map(Path, paths):
        for f in ([p] if p.is_file() and p.name == GROUP_FILE else sorted(p.rglob(GROUP_FILE)) if p.is_dir() else []):
            found[f.resolve()] = None
    return list(found)


def read_group(path: Path) -> dict[str, Any]:
    """A group.json, checked enough to print (ValueError naming the file and field otherwise)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable group file ({exc})") from None
    for key, kind in (("schema", str), ("name", str), ("members", list), ("summaries", list), ("system", dict)):
        if not isinstance(data, dict) or not isinstance(data.get(key), kind):
            raise ValueError(f"{path}: missing or wrong field {key!r}")
    if not data["schema"].startswith(GROUP_SCHEMA.rsplit("/", 1)[0] + "/"):
        raise ValueError(f"{path}: unknown schema {data['schema']!r} in field 'schema'")
    return data
