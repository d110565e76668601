"""VoiceBench (MatthewCYM/VoiceBench, dataset hlt-lab/voicebench): its six evaluators as library code, and tasks.

Each scorer follows the original's rules at commit ``UPSTREAM_COMMIT`` (facts: ../shared/benchmarks/
voicebench_uro_facts.md, part A); protocol lists (MCQ templates, BBH rules, refusal strings, the QA judge prompt,
subsets, leaderboard columns) are data files under ``data/`` naming their source file and commit.

- ``mcq``: openbookqa, mmsu      - ``bbh``: bbh              - ``harm``: advbench
- ``ifeval``: ifeval (Google's checks through lm-eval's maintained copy)
- ``qa``: sd-qa (PEDANT from qa-metrics 0.2.17 + the LLM judge's yes/no majority)
- ``open``: alpacaeval(_full), commoneval, wildvoice (the existing ``voicebench-open`` judge prompt, n=3 mean)
- ``summary``: the leaderboard's Overall (``voicebench_summary``) and its column order (``LEADERBOARD_COLUMNS``)
Tasks: harness/tasks/voicebench/voicebench_<evaluator>.yaml, all served by ``task.VoiceBenchTask``.
"""
from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

UPSTREAM = "github.com/MatthewCYM/VoiceBench"
UPSTREAM_COMMIT = "533815410e3f4d602bd15a1de7105aea4acd828c"


@cache
def data_file(name: str) -> dict[str, Any]:
    """One of the protocol data files (``data/<name>``), parsed (JSON or YAML)."""
    text = (resources.files("harness.tasks.voicebench") / "data" / name).read_text(encoding="utf-8")
    if name.endswith(".json"):
        return json.loads(text)
    import yaml

    return yaml.safe_load(text)
