"""Another system's outputs, served to any task by manifest id: closed or heavy systems, same judges.

``--model precomputed --model-arg path=DIR`` reads ``DIR/responses.jsonl``, one JSON object per line:
``{"id": "0", "text": "...", "audio": "wav/0.wav", "units": [..], "events": {..}}`` -- ``text`` is the text
channel (or the transcript, for ASR tasks), ``audio`` a wav relative to DIR (default ``wav/<id>.wav``),
``units`` / ``events`` optional. It serves ``respond`` (text + wav + units + events), ``transcribe`` (the
text) and ``synthesize`` (the wav), looking each sample up by its manifest id (``wants = {"id"}``). A sample
with no output (or two) fails alone as a failure of the system under test, code ``missing_output``, naming
the file and the key it looked for. A text-only output (no wav) reaches ``respond`` without audio; the task
decides what that costs.

Layouts (``--model-arg layout=NAME``) that published benchmarks' inference scripts write:

- ``uro-bench``: URO-Bench (Ruiqi-Yan/URO-Bench), examples/GLM-4-Voice-test/inference_for_eval.py, and its
  siblings for other systems, write ``pred_text.jsonl`` lines ``{"0000": text}`` (also question_text.jsonl
  and gt_text.jsonl) and ``audio/0000.wav`` (22,050 Hz), keyed by ``str(step).zfill(4)``: the row's
  position in the test set it read, zero-padded to at least 4 digits.
- ``voicebench``: VoiceBench (MatthewCYM/VoiceBench) main.py writes
  ``{model}-{data}-{split}-{modality}.jsonl``: one line per dataset row, in the dataset's row order, holding
  the row's fields (all but ``audio``) plus ``"response"`` (text only; its "audio" modality means spoken
  input). Name the file with ``manifest=``.
- ``glm-4-voice``: THUDM/GLM-4-Voice itself ships a Gradio demo (web_demo.py) over a token-streaming model
  server, not a batch script. This layout reads what batch_infer_glm4voice.py in cwx-worst-one/GLM-4-Voice-test
  writes: ``text_output.jsonl`` lines ``{"utt": <wav stem>, "output": <text channel>}`` and
  ``audio_output/<utt>_answer.wav``. Beware: in its first version (commit f83a1a5) its audio mode writes no
  rows: ``wav, sr = vocode(...)`` unpacks the 1-D waveform tensor and ``except Exception: pass`` swallows the
  error, so every answer that has speech tokens is dropped (only speechless answers get a row). ff76e3e fixed
  the unpacking, but any sample that raises is still skipped, and a speechless answer gets its text row and no
  wav. Samples it dropped fail here as ``missing_output``.

Multi-turn outputs (one answer per round of a dialogue, served to multi-turn tasks round by round):
``turns`` / ``turn`` rows in our layout, URO-Bench's output_with_text.jsonl; see models.precomputed_turns.

The two index-keyed layouts (uro-bench, voicebench) need each sample's position in the manifest the other
system read. ``order=FILE`` gives it: our sample ids in that order (one per line, or a .jsonl / .tsv manifest
with an ``id`` field); without it, the sample ids must be the row positions themselves (BELLE-eval-S2S: ids
0-249 in test.tsv order; Hub sets without an id column). An id that cannot be placed fails that sample as a
measurement failure (``unplaced_id``). Other layouts: ``manifest=``, ``id_key=``, ``text_key=``,
``audio_key=``, ``audio_pattern=`` (``{id}``, ``{key}``).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from harness.audio import Audio, AudioPolicy, read_audio
from harness.errors import MeasurementFailure, SystemFailure
from harness.model import RESPOND, SYNTHESIZE, TRANSCRIBE, Model, ModelConfigError, unknown_options
from harness.response import Response
from models import precomputed_turns as turns

BY_ID = ("id", "dialogue")  # rows that name their sample (a dialogue: URO's multi-round line, by its "id")
# ``rows``: how a line names its sample -- "id" (the ``id_key`` field), "keyed" (a one-entry object
# {key: text}, the key being the zero-padded row position), "line" (the line's position in the file).
LAYOUTS: dict[str, dict[str, Any]] = {
    "default": {"manifest": "responses.jsonl", "id_key": "id", "text_key": "text", "audio_key": "audio",
                "audio_pattern": "wav/{id}.wav", "rows": "id"},
    "glm-4-voice": {"manifest": "text_output.jsonl", "id_key": "utt", "text_key": "output", "audio_key": "",
                    "audio_pattern": "audio_output/{id}_answer.wav", "rows": "id"},
    "uro-bench": {"manifest": "pred_text.jsonl", "id_key": "", "text_key": "", "audio_key": "",
                  "audio_pattern": "audio/{key}.wav", "rows": "keyed", "width": 4},
    "voicebench": {"manifest": "", "id_key": "", "text_key": "response", "audio_key": "", "audio_pattern": "",
                   "rows": "line"},
    # multi-turn (models.precomputed_turns): URO-Bench's inference_multi.py layout, one line per dialogue
    "uro-bench-multi": {"manifest": "output_with_text.jsonl", "id_key": "id", "text_key": "text", "audio_key": "",
                        "audio_pattern": "", "turn_audio_pattern": "{id}/chat_{round}.wav", "rows": "dialogue"},
}
TURN_AUDIO = "wav/{id}/chat_{round}.wav"  # a round's wav in our layout unless its row names one
OPTIONS = {"manifest", "id_key", "text_key", "audio_key", "audio_pattern", "order"}
# Outputs are read as they are: no length limit (a precomputed answer may be long), the usual checks otherwise.
OUTPUT_POLICY = AudioPolicy(max_seconds=None)
MISSING = "missing_output"


def read_order(path: Path) -> dict[str, int]:
    """Sample id -> row position from ``path``: one id per line, or a .jsonl / .tsv manifest with ``id``."""
    if not path.is_file():
        raise ModelConfigError(f"order={path}: no such file (our sample ids, in the order the other system read them)")
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".tsv":
        ids = [row.get("id") for row in csv.DictReader(io.StringIO("\n".join(lines)), delimiter="\t")]
    elif path.suffix == ".jsonl":
        try:
            ids = [json.loads(line).get("id") for line in lines]
        except (ValueError, AttributeError) as exc:
            raise ModelConfigError(f"order={path}: not one JSON object per line ({exc})") from None
    else:
        ids = [line.strip() for line in lines]
    order: dict[str, int] = {}
    for position, item_id in enumerate(ids):
        if item_id is None or not str(item_id).strip():
            raise ModelConfigError(f"order={path}: row {position} has no id; every row must name its sample")
        if str(item_id) in order:
            raise ModelConfigError(f"order={path}: id {item_id!r} appears twice (rows {order[str(item_id)]} "
                                   f"and {position})")
        order[str(item_id)] = position
    return order


class Precomputed(Model):
    """Serves transcribe / synthesize / respond from a folder of another system's outputs, by sample id."""
    capabilities = frozenset({TRANSCRIBE, SYNTHESIZE, RESPOND})
    wants = frozenset({"id", "history"})  # history: a multi-turn item is served round by round

    def __init__(self, name: str = "precomputed", path: str | None = None, layout: str = "default", **options: Any):
        unknown_options(name, options, OPTIONS)
        if not path:
            raise ModelConfigError(f"model {name}: pass the outputs folder with --model-arg path=DIR")
        if layout not in LAYOUTS:
            raise ModelConfigError(f"model {name}: layout={layout!r}; known: {', '.join(LAYOUTS)}")
        self.root = Path(path).expanduser()
        if (layout == "uro-bench" and "manifest" not in options and not (self.root / "pred_text.jsonl").exists()
                and (self.root / LAYOUTS["uro-bench-multi"]["manifest"]).is_file()):
            layout = "uro-bench-multi"  # URO's multi-round sets write output_with_text.jsonl instead
        self.layout = {**LAYOUTS[layout], **options}
        if not self.layout["manifest"]:
            raise ModelConfigError(f"model {name}: layout={layout} needs the output file: --model-arg "
                                   f"manifest=FILE (VoiceBench: <model>-<data>-<split>-<modality>.jsonl)")
        self.manifest = self.root / self.layout["manifest"]
        if not self.manifest.is_file():
            raise ModelConfigError(f"model {name}: {self.manifest} does not exist; the folder needs "
                                   f"{self.layout['manifest']} (one JSON object per line) and the wavs")
        order = self.layout.get("order")
        if order and self.layout["rows"] in BY_ID:
            raise ModelConfigError(f"model {name}: order= places samples by row position; layout={layout} "
                                   f"finds them by id")
        self.order_file = Path(order).expanduser() if order else None
        self._order = read_order(self.order_file) if self.order_file else None
        super().__init__(name, path=str(self.root), layout=layout, **options)
        self._revision = self._fingerprint()
        self._rows: dict[str, dict[str, Any]] | None = None
        self._problems: dict[str, str] = {}

    def _fingerprint(self) -> str:
        """The outputs' identity for cache keys: the manifest's (and order file's) bytes, every wav's name and
        size."""
        digest = hashlib.sha256(self.manifest.read_bytes())
        if self.order_file is not None:
            digest.update(b"\0order\0" + self.order_file.read_bytes())
        for wav in sorted(self.root.rglob("*.wav")):
            digest.update(f"{wav.relative_to(self.root)}\0{wav.stat().st_size}\0".encode())
        return "sha256:" + digest.hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "revision": self._revision}

    @property
    def system_name(self) -> str:
        """What results and tables call these outputs unless ``--name`` says otherwise: the folder's name."""
        return self.root.resolve().name or str(self.root)

    # -- before any sample runs: do the outputs belong to this dataset and task? ------------------------
    def check_items(self, items: list[Any], needs: set[str]) -> list[str]:
        self.ensure_loaded()
        found: list[tuple[Any, str]] = []
        missing: list[str] = []
        for item in items:
            try:
                key = self._key(item.id)
            except MeasurementFailure:
                missing.append(item.id)
                continue
            if key in self._rows or key in self._problems:
                found.append((item, key))
            else:
                missing.append(item.id)
        if not found:
            raise ModelConfigError(self._no_match([item.id for item in items]))
        if SYNTHESIZE in needs:
            self._check_speech(found)
        if not missing:
            return []
        first = ", ".join(repr(i) for i in missing[:5]) + (", ..." if len(missing) > 5 else "")
        return [f"{self.name}: {len(missing)} of {len(items)} sample(s) have no output in {self.manifest} (first: "
                f"{first}); they count as the system's failures ({MISSING})"]

    def _no_match(self, ids: list[str]) -> str:
        keys = list(self._rows)
        if not keys:
            return f"{self.manifest} holds no readable output; nothing to evaluate"
        wanted = {self._key_or_id(i): i for i in ids}
        looked_up = "" if self.layout["rows"] in BY_ID else f" (looked up as keys {_few(list(wanted))})"
        by_norm = {_loose(k): k for k in keys}
        near = [(i, by_norm[_loose(w)]) for w, i in wanted.items() if _loose(w) in by_norm]
        hint = (f"; near miss: sample {near[0][0]!r} vs output key {near[0][1]!r} ({_why(near[0][0], near[0][1])})"
                if near else "")
        return (f"none of the {len(ids)} sample(s) has an output in {self.manifest}: the "
                f"dataset's ids are {_few(ids)}{looked_up}, the outputs' keys {_few(keys)}{hint}. Were these outputs "
                f"made from this dataset? Make the keys match the ids (or pass --model-arg order=FILE / layout=)")

    def _key_or_id(self, item_id: str) -> str:
        try:
            return self._key(item_id)
        except MeasurementFailure:
            return item_id

    def _check_speech(self, found: list[tuple[Any, str]]) -> None:
        """Synthesis is scored on each item's text spoken: outputs with no wav at all, or whose every text is
        some other text (spoken answers to questions), cannot be that."""
        rows = [(item, key, self._rows[key]) for item, key in found if key in self._rows]
        paths = [self._wav_path(item.id, key, row) for item, key, row in rows]
        if rows and not any(path is not None and path.is_file() for path in paths):
            example = next((str(p) for p in paths if p is not None), "this layout writes text only")
            raise ModelConfigError(f"{self.root} holds no wav for any of the {len(rows)} matching "
                                   f"sample(s) (e.g. {example}); the task scores speech synthesized from each item's "
                                   f"text, and these outputs have none")
        texts = [(item, self._text(row)) for item, _, row in rows]
        if texts and all(text for _, text in texts) and not any(_loose_text(t) == _loose_text(i.text) for i, t in texts):
            item, text = texts[0]
            raise ModelConfigError(f"no output's text in {self.manifest} is its item's text (e.g. "
                                   f"sample {item.id!r}: input {item.text[:40]!r}, output {text[:40]!r}); the task "
                                   f"scores speech of each item's text, and these look like answers to other inputs "
                                   f"(a spoken-conversation system's outputs)")

    # -- reading the outputs ---------------------------------------------------------------------
    def _parse(self, position: int, raw: bytes) -> tuple[str, dict[str, Any]]:
        """(key, row) of one line; ValueError/KeyError/TypeError when the line is not what the layout writes."""
        kind = self.layout["rows"]
        row = json.loads(raw)
        if not isinstance(row, dict):
            raise TypeError("not a JSON object")
        if kind == "line":
            return str(position), row
        if kind == "keyed":
            if len(row) != 1:
                raise ValueError("not a one-entry object {key: text}")
            [(key, text)] = row.items()
            return str(key), {"text": text}
        if kind == "dialogue":
            return turns.uro_dialogue(row)
        return turns.round_key(row, self.layout["id_key"]), row

    def load(self) -> None:
        rows: dict[str, dict[str, Any]] = {}
        name = self.manifest.name
        for position, raw in enumerate(self.manifest.read_bytes().splitlines()):
            if not raw.strip() and self.layout["rows"] != "line":
                continue
            try:
                key, row = self._parse(position, raw)
            except (ValueError, KeyError, TypeError) as exc:
                where = str(position) if self.layout["rows"] == "line" else f"{name}:{position + 1}"
                self._problems[where] = f"line {position + 1} is unreadable ({type(exc).__name__}: {exc})"
                continue
            if key in rows or key in self._problems:
                self._problems[key] = f"key {key!r} appears twice (again at line {position + 1})"
                rows.pop(key, None)
                continue
            rows[key] = row
        if self._order is not None and self.layout["rows"] not in BY_ID:
            extra = sorted(set(rows) - {self._key(i) for i in self._order})
            if extra:
                raise ModelConfigError(f"model {self.name}: {self.manifest} has outputs for positions the order "
                                       f"file {self.order_file} does not reach (e.g. key {extra[0]!r}); they were "
                                       f"not made from the same manifest")
        self._rows = turns.group_rounds(rows, self._problems)

    def _key(self, item_id: str) -> str:
        """The key the other system wrote for this sample."""
        kind = self.layout["rows"]
        if kind in BY_ID:
            return item_id
        if self._order is not None:
            if item_id not in self._order:
                raise MeasurementFailure("unplaced_id", f"sample {item_id!r} is not in the order file "
                                                        f"{self.order_file}; its output cannot be found")
            position = self._order[item_id]
        elif item_id.isascii() and item_id.isdigit():
            position = int(item_id)
        else:
            raise MeasurementFailure("unplaced_id", f"sample id {item_id!r} is not a row position; pass "
                                                    f"--model-arg order=FILE (the ids in the order "
                                                    f"{self.manifest.name} was written)")
        return str(position).zfill(self.layout.get("width", 0))

    def _row(self, item_id: str | None) -> tuple[str, dict[str, Any]]:
        self.ensure_loaded()
        if item_id is None:
            raise ModelConfigError(f"model {self.name} serves outputs by sample id; the task gave none")
        key = self._key(item_id)
        if key in self._problems:
            raise SystemFailure(MISSING, f"{self.manifest}: sample {item_id!r} (key {key!r}): {self._problems[key]}")
        if key not in self._rows:
            raise SystemFailure(MISSING, f"{self.manifest} has no output for sample {item_id!r} (key {key!r})")
        return key, self._rows[key]

    def _wav_path(self, item_id: str, key: str, row: dict[str, Any], rnd: int | None = None) -> Path | None:
        rel = row.get(self.layout["audio_key"]) if self.layout["audio_key"] else None
        pattern = self.layout["audio_pattern"] if rnd is None else self.layout.get("turn_audio_pattern", TURN_AUDIO)
        if not rel and not pattern:
            return None
        return self.root / (rel or pattern.format(id=item_id, key=key, round=rnd))

    def _audio(self, item_id: str, key: str, row: dict[str, Any], rnd: int | None = None
               ) -> tuple[Audio | None, Path | None]:
        path = self._wav_path(item_id, key, row, rnd)
        if path is None:
            return None, None
        rel = row.get(self.layout["audio_key"]) if self.layout["audio_key"] else None
        if not path.exists() and not rel:
            return None, path  # a text-only output; the task decides whether that is a failure
        return read_audio(path, None, OUTPUT_POLICY), path

    def _text(self, row: dict[str, Any]) -> str:
        return str(row.get(self.layout["text_key"] or "text") or "")

    # -- capabilities --------------------------------------------------------------------------
    def transcribe(self, audios: list[np.ndarray], lang: str, ids: list[str] | None = None) -> list[str]:
        return [self._text(self._row(i)[1]) for i in self._ids(ids, len(audios))]

    def synthesize(self, texts: list[str], lang: str, ids: list[str] | None = None) -> list[Audio]:
        out = []
        for item_id in self._ids(ids, len(texts)):
            key, row = self._row(item_id)
            audio, path = self._audio(item_id, key, row)
            if audio is None:
                raise SystemFailure(MISSING, f"no wav for sample {item_id!r} (key {key!r}): "
                                             f"{path or 'this layout writes text only'}")
            out.append(audio)
        return out

    def respond(self, audio: Any, instruction: str | None = None, out_lang: str = "en",
                item_id: str | None = None, history: list | None = None) -> Response:
        """One answer; with ``history`` (a multi-turn task) the answer of round ``len(history)`` of the dialogue.
        The earlier rounds were answered when these outputs were made: the history is not read."""
        key, row = self._row(item_id)
        rnd = None
        if "turns" in row or history is not None:
            if "turns" not in row or history is None:
                raise SystemFailure(MISSING, f"{self.manifest}: sample {item_id!r} (key {key!r}) holds "
                                             + ("one answer, not one per round (a multi-turn set needs 'turns' or "
                                                "'turn' rows)" if history is not None else
                                                "a dialogue (one answer per round), and this task asks one answer"))
            rnd = len(history)
            row = row["turns"][rnd] if rnd < len(row["turns"]) else None
            if row is None:
                raise SystemFailure(MISSING, f"{self.manifest} has no answer for round {rnd} of dialogue {item_id!r}")
        units = [int(u) for u in row.get("units") or []]
        return Response(text=self._text(row), units=units, audio=self._audio(item_id, key, row, rnd)[0],
                        events=dict(row.get("events") or {}), malformed=row.get("malformed"))

    def _ids(self, ids: list[str] | None, n: int) -> list[str]:
        if ids is None or len(ids) != n:
            raise ModelConfigError(f"model {self.name} serves outputs by sample id; the task passed "
                                   f"{'no ids' if ids is None else f'{len(ids)} ids for {n} inputs'}")
        return ids


def _few(values: list[str], n: int = 3) -> str:
    return ", ".join(repr(v) for v in values[:n]) + (", ..." if len(values) > n else "")


def _loose(key: str) -> str:
    """A key with what often differs between two systems' ids dropped: a file extension, case, zero padding."""
    key = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", str(key)).lower()
    return str(int(key)) if key.isascii() and key.isdigit() else key


def _why(item_id: str, key: str) -> str:
    if item_id.lower() == key.lower():
        return "case"
    if re.sub(r"\.[A-Za-z0-9]{1,5}$", "", key) == item_id or re.sub(r"\.[A-Za-z0-9]{1,5}$", "", item_id) == key:
        return "a file extension"
    return "zero padding" if item_id.isdigit() and key.isdigit() else "extension, case or zero padding"


def _loose_text(text: str) -> str:
    return re.sub(r"[\W_]+", "", str(text)).lower()
