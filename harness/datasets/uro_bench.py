"""URO-Bench (Ruiqi-Yan/URO-Bench) from its released data layout, one set at a time.

The data is published on the Hub only as zip archives (Honggao/URO-Bench: URO-Bench-data.zip, all 40 sets;
URO-Bench-mini.zip), so it is read from the unzipped folder: ``{root}/{basic|pro}/{Set}/test.jsonl``, audio
paths relative to that file's folder (as examples/example-test/inference_for_eval.py joins them).

``--dataset uro-bench --dataset-arg path=DIR --dataset-arg set=Repeat`` (or ``$URO_BENCH_DIR``); DIR may also be
the folder the zip was unpacked into (holding one folder with ``basic/`` and ``pro/``).

Items (harness.manifest.ManifestItem):
- ``id``: URO's own key, the row's position in test.jsonl zero-padded to 4 digits (``str(i).zfill(4)``), so
  outputs written by URO's inference scripts (precomputed ``layout=uro-bench``) match by id; multi-round sets
  use the record's ``id`` (URO names their output folders by it);
- ``text``: ``source_text`` (the question as the judge sees it), ``audio``: ``source_wav``;
- ``custom``: ``uro_set``, ``mode``, ``category``, ``track``, ``reference`` (URO's gt_text: ``target_text``, a
  list joined with " / ", else ``source_text``), the set-specific fields URO reads (``style``, ``emotion``,
  ``requirement``), and for multi-round records ``turns``: [{round, audio, text, reference}] in round order.
"""
from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.datasets.base import DatasetLoad, DatasetUnavailableError, ItemProblem
from harness.manifest import ManifestItem
from harness.options import ConfigError

URO_ENV = "URO_BENCH_DIR"
URO_COMMIT = "9e74bc04114b6aac3ebc4fe54633777b21136684"  # the code (and data version) these tables follow
EXTRA_FIELDS = ("style", "emotion", "requirement")    # GenStyle, GenEmotion / UnderEmotion, Multilingual


@dataclass(frozen=True)
class UroSet:
    name: str
    track: str       # basic | pro
    lang: str        # en | zh (Multilingual: ASR run as en)
    rows: int        # rows in the data version pinned by URO_COMMIT (scripts/config.sh)
    mode: str        # mark.py --mode
    category: str    # understanding | reasoning | oral (evaluate.py)

    @property
    def result_file(self) -> str:
        """The file URO's mark.py writes and evaluate.py reads the set's score from."""
        if self.mode == "wer":
            return f"result_repeat_{'cer' if self.lang == 'zh' else 'wer'}.jsonl"
        return f"result_{self.mode.replace('-', '_')}.jsonl"

    @property
    def multi_round(self) -> bool:
        return self.mode in ("multi", "sa")


def _sets(rows: str) -> dict[str, UroSet]:
    out = {}
    for line in rows.strip().splitlines():
        name, track, lang, n, mode, category = line.split()
        out[name] = UroSet(name, track, lang, int(n), mode, category)
    return out


# In evaluate.py's order (conclude(): name, result file, track, language, category); counts and modes from
# scripts/config.sh, both at URO_COMMIT.
SETS = _sets("""
Repeat basic en 252 wer understanding
Summary basic en 118 semi-open understanding
GaokaoEval basic en 303 qa understanding
StoralEval basic en 201 semi-open reasoning
TruthfulEval basic en 470 semi-open reasoning
Gsm8kEval basic en 582 qa reasoning
MLC basic en 177 qa reasoning
AlpacaEval basic en 199 open oral
CommonEval basic en 200 open oral
WildchatEval basic en 349 open oral
Repeat-zh basic zh 127 wer understanding
LCSTS-zh basic zh 119 semi-open understanding
HSK5-zh basic zh 100 qa understanding
SQuAD-zh basic zh 153 qa reasoning
APE-zh basic zh 190 qa reasoning
MLC-zh basic zh 145 qa reasoning
OpenbookQA-zh basic zh 189 qa reasoning
AlpacaEval-zh basic zh 147 open oral
Claude-zh basic zh 222 open oral
Wildchat-zh basic zh 299 open oral
UnderEmotion-en pro en 137 ue understanding
CodeSwitching-en pro en 70 semi-open understanding
Safety-en pro en 25 sf understanding
ClothoEval-en pro en 265 qa understanding
MuChoEval-en pro en 311 qa understanding
MLCpro-en pro en 91 qa reasoning
MtBenchEval-en pro en 190 multi reasoning
SpeakerAware-en pro en 55 sa reasoning
SRT-en pro en 43 srt oral
GenEmotion-en pro en 54 ge oral
GenStyle-en pro en 44 gs oral
Multilingual pro en 1108 ml oral
UnderEmotion-zh pro zh 79 ue understanding
CodeSwitching-zh pro zh 70 semi-open understanding
Safety-zh pro zh 25 sf understanding
MLCpro-zh pro zh 64 qa reasoning
SpeakerAware-zh pro zh 49 sa reasoning
SRT-zh pro zh 25 srt oral
GenEmotion-zh pro zh 43 ge oral
GenStyle-zh pro zh 39 gs oral
""")
BASIC_SETS = tuple(name for name, s in SETS.items() if s.track == "basic")


def uro_set(name: str) -> UroSet:
    """The set called ``name`` (URO's spelling), or a one-line error naming close matches."""
    if name in SETS:
        return SETS[name]
    close = difflib.get_close_matches(str(name), list(SETS), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"unknown URO-Bench set {name!r}.{hint} Sets (URO's names): {', '.join(SETS)}")


def gt_text(record: dict[str, Any]) -> str:
    """URO's reference for a record (inference_for_eval.py's gt_text): target_text, a list joined with " / ",
    else source_text."""
    target = record.get("target_text", record.get("source_text"))
    if isinstance(target, list):
        return " / ".join(str(t) for t in target)
    return str(target)


def find_root(path: str | Path) -> Path:
    """The folder holding basic/ and pro/: ``path`` itself, or the one folder the zip unpacked into."""
    root = Path(path).expanduser()
    if (root / "basic").is_dir() or (root / "pro").is_dir():
        return root
    inner = [d for d in sorted(root.glob("*")) if (d / "basic").is_dir() or (d / "pro").is_dir()]
    if len(inner) == 1:
        return inner[0]
    raise DatasetUnavailableError(
        f"{root} holds no URO-Bench data (no basic/ or pro/ folder{', several candidates' if inner else ''}); "
        f"download URO-Bench-data.zip from the Hub dataset Honggao/URO-Bench, unzip it, and pass "
        f"--dataset-arg path=DIR (or set {URO_ENV}=DIR)")


def read_uro_set(root: str | Path, name: str) -> DatasetLoad:
    """One URO-Bench set from the released layout; a bad row is an ItemProblem naming file, line and field."""
    spec = uro_set(name)
    path = find_root(root) / spec.track / spec.name / "test.jsonl"
    if not path.is_file():
        raise DatasetUnavailableError(f"{path} does not exist; URO-Bench's layout is DIR/{spec.track}/{spec.name}/"
                                      f"test.jsonl (unzip URO-Bench-data.zip into DIR)")
    items: list[ManifestItem] = []
    problems: list[ItemProblem] = []
    seen: dict[str, int] = {}
    lines = path.read_bytes().splitlines()
    for position, raw in enumerate(lines):
        where = f"{path}:{position + 1}"
        key = str(position).zfill(4)
        try:
            record = json.loads(raw.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError(f"expected a JSON object, got {type(record).__name__}")
            item = (_multi_item if spec.multi_round else _single_item)(record, key, spec, path.parent)
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(ItemProblem(id=key if not spec.multi_round else where, source=where, reason=str(exc)))
            continue
        if item.id in seen:
            problems.append(ItemProblem(id=f"{item.id}@{position + 1}", source=where, reason=(
                f"duplicate id {item.id!r} (first at line {seen[item.id]}); ids must be unique")))
            continue
        seen[item.id] = position + 1
        items.append(item)
    info = {"name": f"uro-bench-{spec.name}", "source": str(path), "uro_set": spec.name, "track": spec.track,
            "lang": spec.lang, "mode": spec.mode, "category": spec.category, "rows": len(lines),
            "items": len(items), "problems": len(problems), "rows_expected": spec.rows,
            "uro_commit": URO_COMMIT}
    if len(lines) != spec.rows:  # the miniset, an older data version (before d28151a), or a cut file
        info["rows_note"] = (f"{len(lines)} rows, while URO-Bench at {URO_COMMIT[:7]} lists {spec.rows} for "
                             f"{spec.name}: the miniset, or another data version")
    return DatasetLoad(items=items, problems=problems, info=info)


def _text_field(record: dict[str, Any], field: str, where: str = "") -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        got = "missing" if value is None else f"{type(value).__name__} {value!r}"[:80]
        raise ValueError(f"field {where}{field!r} is {got}; URO-Bench rows need a non-empty string there")
    return value


def _common(record: dict[str, Any], spec: UroSet) -> dict[str, Any]:
    custom = {"uro_set": spec.name, "mode": spec.mode, "category": spec.category, "track": spec.track}
    custom.update({k: record[k] for k in EXTRA_FIELDS if k in record})
    return custom


def _single_item(record: dict[str, Any], key: str, spec: UroSet, folder: Path) -> ManifestItem:
    audio = _text_field(record, "source_wav")
    text = _text_field(record, "source_text")
    if "target_text" in record and not isinstance(record["target_text"], (str, list, int, float)):
        raise ValueError(f"field 'target_text' is a {type(record['target_text']).__name__}; expected a string "
                         f"or a list of strings")
    custom = {**_common(record, spec), "reference": gt_text(record)}
    if "id" in record:
        custom["source_id"] = record["id"]
    return ManifestItem(id=key, audio=str(folder / audio), text=text, lang=spec.lang, custom=custom)


def _multi_item(record: dict[str, Any], key: str, spec: UroSet, folder: Path) -> ManifestItem:
    """A multi-round record {id, num_round, dialogue: [{round, source_wav, source_text, target_text}]}."""
    if record.get("id") is None:
        raise ValueError("field 'id' is missing; multi-round records are keyed by their id")
    dialogue = record.get("dialogue")
    if not isinstance(dialogue, list) or not dialogue:
        raise ValueError("field 'dialogue' is missing or empty; expected a list of rounds")
    turns = []
    for i, turn in enumerate(dialogue):
        if not isinstance(turn, dict):
            raise ValueError(f"dialogue[{i}] is not an object")
        wav = _text_field(turn, "source_wav", f"dialogue[{i}].")
        turns.append({"round": turn.get("round", i), "audio": str(folder / wav), "source_wav": wav,
                      "text": _text_field(turn, "source_text", f"dialogue[{i}]."), "reference": gt_text(turn)})
    turns.sort(key=lambda t: t["round"])
    if [t["round"] for t in turns] != list(range(len(turns))):  # URO's ASR step reads chat_0..chat_{n-1}.wav
        raise ValueError(f"rounds {[t['round'] for t in turns]} are not numbered 0..{len(turns) - 1}")
    custom = {**_common(record, spec), "turns": turns, "num_round": len(turns), "reference": turns[-1]["reference"]}
    return ManifestItem(id=str(record["id"]), audio=turns[0]["audio"], text=turns[0]["text"], lang=spec.lang,
                        custom=custom)


class UroBench:
    """URO-Bench, one set (``set=`` URO's name, e.g. Repeat, AlpacaEval-zh) from the unzipped release."""

    def __init__(self, set: str | None = None, path: str | None = None):  # noqa: A002 (URO's word)
        if not set:
            raise ConfigError(f"dataset uro-bench needs the set: --dataset-arg set=NAME, one of {', '.join(SETS)}")
        self.spec = uro_set(set)
        self.path = path or os.environ.get(URO_ENV)
        self.name = f"uro-bench-{self.spec.name}"

    def load(self) -> DatasetLoad:
        if not self.path:
            raise DatasetUnavailableError(
                f"uro-bench needs the unzipped data: download URO-Bench-data.zip (Hub dataset Honggao/URO-Bench), "
                f"unzip it, then pass --dataset-arg path=DIR or set {URO_ENV}=DIR")
        return read_uro_set(self.path, self.spec.name)
