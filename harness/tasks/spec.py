"""A task is data: ``harness/tasks/<task>/<task>.yaml`` read into a frozen TaskSpec, code chosen by ``class``."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from harness.metrics import AGGREGATIONS


class TaskConfigError(ValueError):
    """A task YAML that cannot work; names the file and the field."""


@dataclass(frozen=True)
class TaskSpec:
    task: str                                   # registered name
    class_path: str                             # "module:Class" implementing the stages
    description: str = ""
    dataset: str = ""                           # default dataset (overridable with --dataset)
    dataset_args: dict[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()                 # capabilities the evaluated model must have
    normalizer: str = "asr-default"             # harness.normalize name
    aggregation: str = "corpus"                 # headline aggregation; the other one is reported too
    judges: dict[str, str] = field(default_factory=dict)          # lang -> ASR judge (published protocol)
    offline_judges: dict[str, str] = field(default_factory=dict)  # lang -> judge that runs offline here
    judge_args: dict[str, dict[str, Any]] = field(default_factory=dict)  # judge name -> its options
    audio: dict[str, Any] = field(default_factory=dict)           # harness.audio.AudioPolicy fields
    options: dict[str, Any] = field(default_factory=dict)         # task-specific settings, read by the task class
    source: str = ""                            # the YAML file this came from
    sha256: str = ""                            # of that file's bytes (provenance: which version of it ran)

    @classmethod
    def from_yaml(cls, path: str | Path, user: bool = False) -> "TaskSpec":
        """``user``: a user's own file (``--task ./my_task.yaml``): its name is the file's stem, so ``task:`` may
        be left out (and must match the stem when given)."""
        path = Path(path)
        try:
            raw = path.read_bytes()
            data = yaml.safe_load(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise TaskConfigError(f"{path}: cannot read task YAML: {exc}") from None
        if user and isinstance(data, dict):
            if data.get("task", path.stem) != path.stem:
                raise TaskConfigError(f"{path}: field 'task' is {data['task']!r}, but a task file's name is its stem "
                                      f"({path.stem!r}); drop the field or rename the file")
            data = {**data, "task": path.stem}
        return cls.from_dict(data, source=str(path), sha256=hashlib.sha256(raw).hexdigest())

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>", sha256: str = "") -> "TaskSpec":
        if not isinstance(data, dict):
            raise TaskConfigError(f"{source}: a task YAML must be a mapping")
        data = dict(data)
        if "class" in data:
            data["class_path"] = data.pop("class")
        known = {f.name for f in fields(cls)} - {"source", "sha256"}
        unknown = sorted(set(data) - known - {"class_path"})
        if unknown:
            raise TaskConfigError(f"{source}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for required in ("task", "class_path"):
            if not data.get(required):
                raise TaskConfigError(f"{source}: field {'class' if required == 'class_path' else required!r} is required")
        if data.get("aggregation", "corpus") not in AGGREGATIONS:
            raise TaskConfigError(f"{source}: aggregation {data['aggregation']!r} is not one of {AGGREGATIONS}")
        for name, value in data.items():  # a string where a list belongs would be read letter by letter
            kind = _TYPES.get(name)
            if kind is not None and value is not None and not isinstance(value, kind):
                want = {str: "a string", dict: "a mapping", list: "a list"}[kind]
                raise TaskConfigError(f"{source}: field {'class' if name == 'class_path' else name!r} must be {want}, "
                                      f"got {type(value).__name__} {value!r}"[:300])
        if not all(isinstance(n, str) for n in data.get("needs") or ()):
            raise TaskConfigError(f"{source}: field 'needs' must list capability names (transcribe, synthesize, respond)")
        data["needs"] = tuple(data.get("needs") or ())
        return cls(source=source, sha256=sha256, **data)


# The YAML type of each field (checked, so a mistake names its field instead of failing later).
_TYPES: dict[str, type] = {"task": str, "class_path": str, "description": str, "dataset": str, "normalizer": str,
                           "aggregation": str, "needs": list, "dataset_args": dict, "judges": dict,
                           "offline_judges": dict, "judge_args": dict, "audio": dict, "options": dict}
