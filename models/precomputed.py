"""Another system's outputs, served to any task by manifest id: closed or heavy systems, same judges.

``--model precomputed --model-arg path=DIR`` reads ``DIR/responses.jsonl``, one JSON object per line:
``{"id": "0", "text": "...", "audio": "wav/0.wav", "units": [..], "events": {..}}`` -- ``text`` is the text
channel (or the transcript, for ASR tasks), ``audio`` a wav relative to DIR (default ``wav/<id>.wav``),
``units`` / ``events`` optional. It serves ``respond`` (text + wav + units + events), ``transcribe`` (the
text) and ``synthesize`` (the wav), looking each sample up by its manifest id (``wants = {"id"}``). A
sample with no output fails alone with code ``precomputed_missing``.

Example, GLM-4-Voice (``--model-arg layout=glm-4-voice``). THUDM/GLM-4-Voice itself ships a Gradio demo
(web_demo.py) over a token-streaming model server, not a batch script: generated ids at or above the id of
``<|audio_0|>`` are speech tokens (12.5 per second) that its flow-matching + HiFT decoder turns into
22,050 Hz audio, the other ids are the text channel, and the system prompt asks for interleaved output
("13 text token followed by 26 audio tokens"; temperature 0.2, top_p 0.8, max_new_tokens 2000 in the
demo). Batch scripts built on that code (e.g. batch_infer_glm4voice.py in cwx-worst-one/GLM-4-Voice-test)
write ``text_output.jsonl`` lines ``{"utt": <wav stem>, "output": <text channel>}`` and
``audio_output/<utt>_answer.wav``; that is what this layout reads. We could not confirm an official batch
layout; other layouts take ``manifest=``, ``id_key=``, ``text_key=``, ``audio_key=``, ``audio_pattern=``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from harness.audio import Audio, AudioPolicy, read_audio
from harness.model import RESPOND, SYNTHESIZE, TRANSCRIBE, Model, ModelConfigError, unknown_options
from harness.response import Response

LAYOUTS: dict[str, dict[str, Any]] = {
    "default": {"manifest": "responses.jsonl", "id_key": "id", "text_key": "text", "audio_key": "audio",
                "audio_pattern": "wav/{id}.wav"},
    "glm-4-voice": {"manifest": "text_output.jsonl", "id_key": "utt", "text_key": "output", "audio_key": "",
                    "audio_pattern": "audio_output/{id}_answer.wav"},
}
# Outputs are read as they are: no length limit (a precomputed answer may be long), the usual checks otherwise.
OUTPUT_POLICY = AudioPolicy(max_seconds=None)


class PrecomputedMissing(LookupError):
    code = "precomputed_missing"


class Precomputed(Model):
    """Serves transcribe / synthesize / respond from a folder of another system's outputs, by sample id."""
    capabilities = frozenset({TRANSCRIBE, SYNTHESIZE, RESPOND})
    wants = frozenset({"id"})

    def __init__(self, name: str = "precomputed", path: str | None = None, layout: str = "default", **options: Any):
        unknown_options(name, options, set(LAYOUTS["default"]))
        if not path:
            raise ModelConfigError(f"model {name}: pass the outputs folder with --model-arg path=DIR")
        if layout not in LAYOUTS:
            raise ModelConfigError(f"model {name}: layout={layout!r}; known: {', '.join(LAYOUTS)}")
        self.root = Path(path).expanduser()
        self.layout = {**LAYOUTS[layout], **options}
        self.manifest = self.root / self.layout["manifest"]
        if not self.manifest.is_file():
            raise ModelConfigError(f"model {name}: {self.manifest} does not exist; the folder needs "
                                   f"{self.layout['manifest']} (one JSON object per line) and the wavs")
        super().__init__(name, path=str(self.root), layout=layout, **options)
        self._revision = self._fingerprint()
        self._rows: dict[str, dict[str, Any]] | None = None
        self._problems: dict[str, str] = {}

    def _fingerprint(self) -> str:
        """The outputs' identity for cache keys: the manifest's bytes and every wav's name and size."""
        digest = hashlib.sha256(self.manifest.read_bytes())
        for wav in sorted(self.root.rglob("*.wav")):
            digest.update(f"{wav.relative_to(self.root)}\0{wav.stat().st_size}\0".encode())
        return "sha256:" + digest.hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "revision": self._revision}

    def load(self) -> None:
        rows: dict[str, dict[str, Any]] = {}
        id_key = self.layout["id_key"]
        for lineno, raw in enumerate(self.manifest.read_bytes().splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
                item_id = str(row[id_key])
            except (ValueError, KeyError, TypeError):
                self._problems[f"{self.manifest.name}:{lineno}"] = "not a JSON object with " + repr(id_key)
                continue
            if item_id in rows or item_id in self._problems:
                self._problems[item_id] = f"id {item_id!r} appears twice in {self.manifest.name} (line {lineno})"
                rows.pop(item_id, None)
                continue
            rows[item_id] = row
        self._rows = rows

    def _row(self, item_id: str | None) -> dict[str, Any]:
        self.ensure_loaded()
        if item_id is None:
            raise ModelConfigError(f"model {self.name} serves outputs by sample id; the task gave none")
        if item_id in self._problems:
            raise PrecomputedMissing(f"{self.manifest}: {self._problems[item_id]}")
        if item_id not in self._rows:
            raise PrecomputedMissing(f"{self.manifest} has no output for sample {item_id!r}")
        return self._rows[item_id]

    def _audio(self, item_id: str, row: dict[str, Any]) -> Audio | None:
        rel = row.get(self.layout["audio_key"]) if self.layout["audio_key"] else None
        path = self.root / (rel or self.layout["audio_pattern"].format(id=item_id))
        if not path.exists() and not rel:
            return None  # a text-only output; the task decides whether that is a failure
        return read_audio(path, None, OUTPUT_POLICY)

    def _text(self, row: dict[str, Any]) -> str:
        return str(row.get(self.layout["text_key"]) or "")

    # -- capabilities --------------------------------------------------------------------------
    def transcribe(self, audios: list[np.ndarray], lang: str, ids: list[str] | None = None) -> list[str]:
        return [self._text(self._row(i)) for i in self._ids(ids, len(audios))]

    def synthesize(self, texts: list[str], lang: str, ids: list[str] | None = None) -> list[Audio]:
        out = []
        for item_id in self._ids(ids, len(texts)):
            audio = self._audio(item_id, self._row(item_id))
            if audio is None:
                raise PrecomputedMissing(f"no wav for sample {item_id!r} under {self.root}")
            out.append(audio)
        return out

    def respond(self, audio: Any, instruction: str | None = None, out_lang: str = "en",
                item_id: str | None = None) -> Response:
        row = self._row(item_id)
        units = [int(u) for u in row.get("units") or []]
        return Response(text=self._text(row), units=units, audio=self._audio(item_id, row),
                        events=dict(row.get("events") or {}), malformed=row.get("malformed"))

    def _ids(self, ids: list[str] | None, n: int) -> list[str]:
        if ids is None or len(ids) != n:
            raise ModelConfigError(f"model {self.name} serves outputs by sample id; the task passed "
                                   f"{'no ids' if ids is None else f'{len(ids)} ids for {n} inputs'}")
        return ids
