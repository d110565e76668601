"""Collect results.json files: schema check, one `Run` per file, one `MetricRow` per metric.

A file that fails the check is reported (file + field) and skipped; the others are still collected.
The protocol of a metric row is everything that must match for two numbers to be comparable:
the column part (task, dataset, lang, metric, aggregation, qualifiers such as a channel) decides
where a number goes; the rest (normalizer, judge of that language, evaluated subset) decides
whether it may sit in that column unmarked.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.runner import RESULTS_SCHEMA

# Metric-row fields that are values or descriptions, not part of what a number means.
VALUE_FIELDS = frozenset({"name", "lang", "aggregation", "headline", "value", "ci95", "n", "ref_tokens",
                          "errors", "reference", "coverage", "scored_only", "failure_rule"})
# String fields of a metric row that name who or how it was scored (the LLM judge, its prompt, the
# UTMOS model, the unit or scale): compared cell by cell and flagged, like an ASR judge. Any other
# string field (e.g. "channel": "speech") is a qualifier and so a column of its own.
PROTOCOL_FIELDS = {"judge": "LLM judge", "prompt": "judge prompt", "model": "scorer", "unit": "unit"}
# Model/judge options that locate files rather than change outputs; kept out of identities.
LOCATION_OPTIONS = frozenset({"path", "device", "cache_dir", "download_root"})

REQUIRED: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("schema", str), ("task", dict), ("task.name", str), ("task.normalizer", str), ("task.aggregation", str),
    ("dataset", dict), ("dataset.name", str), ("model", dict), ("model.id", str), ("judges", dict),
    ("normalizer", dict), ("normalizer.name", str), ("normalizer.version", str), ("options", dict),
    ("metrics", list), ("counts", dict), ("counts.samples", int), ("counts.failed", int), ("provenance", dict))
METRIC_REQUIRED: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("name", str), ("lang", str), ("aggregation", str), ("value", (int, float, type(None))), ("n", int))


class SchemaError(ValueError):
    """A results file that cannot be used; names the file and the field."""

    def __init__(self, path: Path, field_name: str, problem: str = "missing field"):
        self.path, self.field = path, field_name
        super().__init__(f"{path}: {problem} {field_name!r}")


def _get(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            raise KeyError(dotted)
        data = data[part]
    return data


def check_schema(path: Path, data: Any) -> None:
    if not isinstance(data, dict):
        raise SchemaError(path, "<root>", "not a JSON object at")
    for name, kind in REQUIRED:
        try:
            value = _get(data, name)
        except KeyError:
            raise SchemaError(path, name) from None
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            raise SchemaError(path, name, "wrong type for field")
    if not data["schema"].startswith(RESULTS_SCHEMA.rsplit("/", 1)[0] + "/"):
        raise SchemaError(path, "schema", f"unknown schema {data['schema']!r} in field")
    for i, metric in enumerate(data["metrics"]):
        for name, kind in METRIC_REQUIRED:
            if not isinstance(metric, dict) or name not in metric:
                raise SchemaError(path, f"metrics[{i}].{name}")
            if not isinstance(metric[name], kind):
                raise SchemaError(path, f"metrics[{i}].{name}", "wrong type for field")


def _options_text(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(options.items()) if k not in LOCATION_OPTIONS)


def short_revision(desc: dict[str, Any]) -> str:
    """A content hash shortened to 12 hex digits (plenty to tell revisions apart in a table)."""
    rev = str(desc.get("revision") or "")
    algo, sep, digest = rev.rpartition(":")
    return f"{algo}{sep}{digest[:12]}" if len(digest) > 12 else rev


def local_checkpoint(desc: dict[str, Any]) -> str:
    """``[run/checkpoint]`` for a model loaded from a local folder (not a Hub id): the last two folder names
    tell apart checkpoints of one family that share an id and options (e.g. the mini-CSLM's cpt and sft)."""
    ckpt = desc.get("checkpoint")
    if not isinstance(ckpt, str) or not ckpt or desc.get("hub_id"):
        return ""
    parts = Path(ckpt).parts[-2:]
    return f"[{'/'.join(parts)}]"


def describe_model(desc: dict[str, Any], revision: bool = True) -> str:
    """`id@revision (k=v, ...)`: what identifies a system or a judge in a table."""
    rev = short_revision(desc)
    text = desc["id"] + local_checkpoint(desc) + (f"@{rev}" if rev and revision else "")
    opts = _options_text(desc.get("options") or {})
    return f"{text} ({opts})" if opts else text


@functools.lru_cache(maxsize=None)
def _judge_sets(task: str) -> tuple[dict[str, str] | None, dict[str, str]]:
    """(published, offline) ASR judges of a task, from its YAML in this checkout; (None, {}) when unknown."""
    from harness.plan import load_task_spec
    from harness.tasks.spec import TaskConfigError

    try:
        spec = load_task_spec(task)
    except (LookupError, TaskConfigError):  # unknown or unreadable here: the badge falls back on the run's options
        return None, {}
    return dict(spec.judges), dict(spec.offline_judges)


@dataclass(frozen=True)
class Run:
    """One results.json (and the samples.jsonl beside it)."""
    path: Path
    results: dict[str, Any] = field(compare=False, repr=False)

    @property
    def dir(self) -> Path:
        return self.path.parent

    @property
    def samples_path(self) -> Path:
        return self.dir / "samples.jsonl"

    @property
    def task(self) -> str:
        return self.results["task"]["name"]

    @property
    def dataset(self) -> str:
        return self.results["dataset"]["name"]

    @property
    def system(self) -> str:
        """The row label of the evaluated system: id and the options that shape its outputs."""
        return describe_model(self.results["model"], revision=False)

    @property
    def name(self) -> str:
        """The name the user gave the system (``harness run --name``), or "" when none was given."""
        name = self.results["model"].get("name")
        return name if isinstance(name, str) else ""

    @property
    def judging(self) -> str:
        """Which ASR judges scored this run, as a table's badge says it: "published judges" (the task's published
        set), "offline judges" (--offline-judges, or judges of the task's offline set: e.g. a task whose only
        judges run offline), "substituted judges (--judge)" (another judge), "no judge" (nothing judged)."""
        llm = (self.results.get("llm_judge") or {}).get("id")
        used = {lang: desc.get("id") for lang, desc in self.results["judges"].items() if isinstance(desc, dict)}
        if not used and llm in (None, "none"):
            return "no judge"
        options = self.results["options"]
        if options.get("offline_judges"):
            return "offline judges"
        published, offline = _judge_sets(self.task)
        if published is None:  # a task this checkout does not know: what the options say
            return "substituted judges (--judge)" if options.get("judges") else "published judges"
        if all(published.get(lang) == judge for lang, judge in used.items()) and published != offline:
            return "published judges"
        return "offline judges" if set(used.values()) <= set(offline.values()) else "substituted judges (--judge)"

    @property
    def revision(self) -> str:
        return short_revision(self.results["model"]) or "none"

    @property
    def created(self) -> str:
        return str(self.results["provenance"].get("created", ""))

    @property
    def commit(self) -> str:
        git = self.results["provenance"].get("git") or {}
        commit = (git.get("commit") or "?")[:10]
        return commit + ("+dirty" if git.get("dirty") else "")

    @property
    def failed(self) -> int:
        return self.results["counts"]["failed"]

    @property
    def incomplete(self) -> bool:
        """The measurement failed on some samples: the figures leave those samples out (results "status")."""
        return self.results.get("status") == "incomplete"

    @property
    def legacy(self) -> bool:
        """A results/v1 file: system failures were left out of its figures instead of counted against them."""
        return self.results["schema"].endswith("/v1")

    @property
    def failure_note(self) -> str:
        """What a cell says about its run's failures: counts by kind, incompleteness, legacy accounting."""
        counts = self.results["counts"]
        parts = []
        if self.legacy:
            parts.append(f"{counts['failed']} failed, excluded (v1 results)" if counts["failed"] else "v1 results")
        else:
            if counts.get("system_failed"):
                parts.append(f"{counts['system_failed']} system failures scored at worst")
            if self.incomplete:
                parts.append(f"INCOMPLETE: {counts.get('measurement_failed', 0)} not measured")
        return "; ".join(parts)

    @property
    def normalizer(self) -> str:
        norm = self.results["normalizer"]
        return f"{norm['name']} v{norm['version']}"

    def judge(self, lang: str, short: bool = False) -> str:
        desc = self.results["judges"].get(lang)
        return (desc["id"] if short else describe_model(desc)) if desc else "none"

    @property
    def subset(self) -> str:
        data = self.results["dataset"]
        evaluated = data.get("evaluated", self.results["counts"]["samples"])
        return f"{evaluated} of {data['items']} items" if data.get("items") else f"{evaluated} items"

    @property
    def options(self) -> dict[str, str]:
        opts = self.results["model"].get("options") or {}
        return {k: str(v) for k, v in sorted(opts.items()) if k not in LOCATION_OPTIONS}

    def signature(self, short: bool = False) -> tuple[tuple[str, str], ...]:
        """What splits one system into several rows: model revision, normalizer, every judge."""
        return (("revision", self.revision), ("normalizer", self.normalizer)) + tuple(
            (f"judge ({lang})", self.judge(lang, short)) for lang in sorted(self.results["judges"]))


@dataclass(frozen=True)
class ColumnKey:
    task: str
    dataset: str
    lang: str
    metric: str
    aggregation: str
    qualifiers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MetricRow:
    run: Run
    name: str
    lang: str
    aggregation: str
    value: float | None
    ci95: tuple[float, float] | None
    n: int
    headline: bool
    qualifiers: tuple[tuple[str, str], ...] = ()
    scoring: tuple[tuple[str, str], ...] = ()  # PROTOCOL_FIELDS found in the row
    coverage: str = ""                         # "scored/total" (results v2)
    scored_only: float | None = None           # the value over scored samples alone (diagnosis, not the headline)

    @property
    def column(self) -> ColumnKey:
        return ColumnKey(self.run.task, self.run.dataset, self.lang, self.name, self.aggregation, self.qualifiers)

    def protocol(self) -> dict[str, str]:
        """The parts of the protocol that a column does not fix; compared cell by cell."""
        if any(k == "model" for k, _ in self.scoring):  # its own scorer (a MOS predictor): no ASR judge, no text
            out = {"subset": self.run.subset}
        else:
            out = {"normalizer": self.run.normalizer, f"judge ({self.lang})": self.run.judge(self.lang),
                   "subset": self.run.subset}
        out.update((PROTOCOL_FIELDS[k], v) for k, v in self.scoring)
        block = self.run.results.get("llm_judge")
        if isinstance(block, dict) and any(k == "judge" for k, _ in self.scoring):
            prompt = block.get("prompt") or {}
            out["judge prompt"] = f"{prompt.get('name')} v{prompt.get('version')} sha256:{prompt.get('sha256')}"
            out["judge sampling"] = ", ".join(f"{k}={block.get(k)}" for k in ("temperature", "n", "top_p", "seed"))
            if block.get("revision"):
                out["LLM judge"] += f"@{block['revision']}"
        if self.name.endswith("_s") or self.name == "rtf":  # seconds depend on the machine
            hw = self.run.results["provenance"].get("hardware") or {}
            out["hardware"] = ", ".join(hw.get("gpus") or [str(hw.get("cpu", "?"))]) + f" ({hw.get('cpu_count')} cpu)"
        return out


def metric_rows(run: Run) -> list[MetricRow]:
    rows = []
    for m in run.results["metrics"]:
        text = {k: v for k, v in m.items() if k not in VALUE_FIELDS and isinstance(v, str)}
        quals = tuple(sorted((k, v) for k, v in text.items() if k not in PROTOCOL_FIELDS))
        scoring = tuple(sorted((k, v) for k, v in text.items() if k in PROTOCOL_FIELDS))
        ci = m.get("ci95")
        rows.append(MetricRow(run, m["name"], m["lang"], m["aggregation"],
                              None if m["value"] is None else float(m["value"]),
                              (float(ci[0]), float(ci[1])) if ci and None not in ci else None,
                              m["n"], bool(m.get("headline", True)), quals, scoring,
                              f"{m['coverage']['scored']}/{m['coverage']['total']}" if m.get("coverage") else "",
                              (m.get("scored_only") or {}).get("value")))
    return rows


@dataclass
class Collection:
    runs: list[Run]
    skipped: list[tuple[Path, str]]  # (file, reason): reported, never silently dropped
    groups: list[dict[str, Any]] = field(default_factory=list)  # group.json of group runs (harness/groups.py)

    @property
    def rows(self) -> list[MetricRow]:
        return [row for run in self.runs for row in metric_rows(run)]


def find_results(paths: list[str | Path]) -> list[Path]:
    found: dict[Path, None] = {}
    for p in map(Path, paths):
        if p.is_file():
            found[p.resolve()] = None
        elif p.is_dir():
            for f in sorted(p.rglob("results.json")):
                found[f.resolve()] = None
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return list(found)


def load_run(path: Path) -> Run:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaError(path, "<file>", f"unreadable ({exc});") from None
    check_schema(path, data)
    return Run(Path(path), data)


def collect(paths: list[str | Path]) -> Collection:
    runs, skipped = [], []
    for path in find_results(paths):
        try:
            runs.append(load_run(path))
        except SchemaError as exc:
            skipped.append((path, str(exc)))
    runs.sort(key=lambda r: (r.task, r.dataset, r.system, r.created, str(r.path)))
    return Collection(runs, skipped, collect_groups(paths, skipped))


def collect_groups(paths: list[str | Path], skipped: list[tuple[Path, str]]) -> list[dict[str, Any]]:
    """The group.json files of group runs (their members' results.json are collected as any other); an unreadable
    one is reported in ``skipped``."""
    from harness.groups import find_groups, read_group

    groups = []
    for path in find_groups([p for p in paths if Path(p).exists()]):
        try:
            groups.append(read_group(path))
        except ValueError as exc:
            skipped.append((path, str(exc)))
    return sorted(groups, key=lambda g: (g["name"], str(g["system"].get("name") or g["system"].get("id"))))


def load_samples(run: Run) -> list[dict[str, Any]]:
    if not run.samples_path.is_file():
        raise FileNotFoundError(f"{run.samples_path}: samples of {run.path} not found")
    with run.samples_path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def relpath(target: Path, start: Path) -> str:
    """A POSIX relative path, so committed pages never hold this machine's absolute paths."""
    return Path(os.path.relpath(Path(target).resolve(), Path(start).resolve())).as_posix()
