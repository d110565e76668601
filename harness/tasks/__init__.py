"""Task registry: every ``<task>/<task>.yaml`` under this folder is a task (read with yaml, no model code);
``groups/*.yaml`` are task groups (harness/groups.py)."""
from pathlib import Path

import yaml

from harness.registry import TASKS

for _yaml in sorted(Path(__file__).parent.glob("*/*.yaml")):
    if _yaml.parent.name == "groups":  # task groups (harness/groups.py), not tasks
        continue
    _head = yaml.safe_load(_yaml.read_text(encoding="utf-8")) or {}
    TASKS.register(_head.get("task", _yaml.stem), summary=str(_head.get("description", "")).split("\n")[0])(_yaml)
