"""Group registry: every ``*.yaml`` here is a task group (read with yaml, no task code); see harness/groups.py."""
from pathlib import Path

import yaml

from harness.groups import GROUPS

for _yaml in sorted(Path(__file__).parent.glob("*.yaml")):
    _head = yaml.safe_load(_yaml.read_text(encoding="utf-8")) or {}
    GROUPS.register(_head.get("group", _yaml.stem), summary=str(_head.get("description", "")).split("\n")[0])(_yaml)
