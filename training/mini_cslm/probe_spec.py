"""What a probe is (the recipe's ``probes`` block, parsed and checked), apart from how it runs
(``training.mini_cslm.probe``), so that the recipe reads probes without importing the runner."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from training.mini_cslm import data as D
from training.mini_cslm.evals import CSLM_CHECKPOINTS
from training.recipe import RecipeError

CPT_KINDS = ("asr", "tts", "mt", "instruct")  # the kinds of CPT data (data/<kind>[-<lang>].jsonl)
PROBE_DIR = "probes"
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
SETS = re.compile(r"(asr|tts|qa|long)-(en|zh)")
TASKS = {"asr": "asr_wer", "tts": "tts_wer", "qa": "s2s_reference_qa", "long": "s2s_reference_qa"}
SOURCES = {"asr": ["asr-en.jsonl", "asr-zh.jsonl"], "tts": ["tts-en.jsonl", "tts-zh.jsonl"], "mt": ["mt.jsonl"],
           "instruct": ["instruct.jsonl"]}


@dataclass(frozen=True)
class Probe:
    name: str
    start: str                    # a CSLM checkpoint of the pipeline (evals.CSLM_CHECKPOINTS key: merged, cpt, ...)
    mix: dict                     # CPT kind -> share
    max_steps: int
    save_steps: int = 100000      # curve points (with ``curves``); none by default
    curves: tuple[str, ...] = ()  # held-out sets on each saved checkpoint (asr-<lang>, qa-<lang>)
    evals: tuple[str, ...] = ()   # held-out sets on the final model (asr, tts, qa, long - <lang>)
    langs: tuple[str, ...] = D.LANGS  # which languages' speech sources to train on

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start": self.start, "mix": self.mix, "max_steps": self.max_steps,
                "save_steps": self.save_steps, "curves": list(self.curves), "evals": list(self.evals),
                "langs": list(self.langs)}


def parse_probes(block: dict, where: str) -> dict[str, Probe]:
    """The recipe's ``probes`` block -> Probe per name; a mistake fails naming the probe and key."""
    out = {}
    for name, spec in block.items():
        at = f"{where}: probes.{name}"
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise RecipeError(f"{at}: a probe name is lower-case letters, digits and '-' (it names a folder)")
        if not isinstance(spec, dict):
            raise RecipeError(f"{at} must be a mapping (start, mix, max_steps, ...)")
        unknown = sorted(set(spec) - {"start", "mix", "max_steps", "save_steps", "curves", "evals", "langs"})
        if unknown:
            raise RecipeError(f"{at}: unknown key(s) {', '.join(unknown)}")
        if spec.get("start") not in CSLM_CHECKPOINTS:
            raise RecipeError(f"{at}.start must be one of {', '.join(CSLM_CHECKPOINTS)}, got {spec.get('start')!r}")
        mix = spec.get("mix")
        if not isinstance(mix, dict) or not mix or any(k not in CPT_KINDS for k in mix) or any(
                isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0 for v in mix.values()):
            raise RecipeError(f"{at}.mix must map kinds among {', '.join(CPT_KINDS)} to shares > 0, got {mix!r}")
        for key in ("max_steps", "save_steps"):
            if key in spec and (not isinstance(spec[key], int) or isinstance(spec[key], bool) or spec[key] < 1):
                raise RecipeError(f"{at}.{key} must be an integer >= 1")
        if "max_steps" not in spec:
            raise RecipeError(f"{at}.max_steps is required")
        lists = {}
        for key, pattern in (("curves", re.compile(r"(asr|qa)-(en|zh)")), ("evals", SETS), ("langs", re.compile("en|zh"))):
            value = spec.get(key, [] if key != "langs" else list(D.LANGS))
            if not isinstance(value, list) or not all(isinstance(v, str) and pattern.fullmatch(v) for v in value):
                raise RecipeError(f"{at}.{key} must be a list of {pattern.pattern}, got {value!r}")
            lists[key] = tuple(value)
        if not lists["evals"] and not lists["curves"]:
            raise RecipeError(f"{at}: nothing measured: give evals (held-out sets) or curves")
        out[name] = Probe(name, spec["start"], dict(mix), spec["max_steps"], spec.get("save_steps", 100000),
                          lists["curves"], lists["evals"], lists["langs"])
    return out


def sources_of(probe: Probe) -> list[str]:
    return [n for kind in probe.mix for n in SOURCES[kind]
            if kind not in ("asr", "tts") or n.split("-")[1].split(".")[0] in probe.langs]
