"""Build a world folder from a recipe, step by step; every step skips what an earlier run already finished.

    1 text       sentences.jsonl, qa.jsonl, then world.json (facts, sizes, vocabulary, the recipe's data fields)
    2 speech     speech/en/<id>.wav (Piper), speech/zh/<id>.wav (espeak-ng); QA: <id>-q.wav, <id>-a.wav
    3 manifests  mt-<split>.jsonl (id, en, zh) and instruct-<split>.jsonl (prompt, response) for build-cpt;
                 asr-<lang>-<split>.jsonl (id, text, audio, lang) and dialogues-<split>.jsonl (spoken QA,
                 same-language and cross-lingual, in the build-sft dialogue format); rewritten from what exists
                 (never appended)

A rerun with a recipe whose text or voice settings differ from the folder's world.json is refused, naming
the keys: the folder's files would otherwise mix two worlds.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from training.world.recipe import WorldRecipe, WorldRecipeError
from training.world.speech import speak_chinese, speak_english
from training.world.world import PROFILE, build_world, qa_rows, sentence_rows, vocabulary

WORLD_JSON, SENTENCES, QA = "world.json", "sentences.jsonl", "qa.jsonl"
TEXT_REPORT = "text-report.json"  # written by the text-only build (run_text), last


class WorldBuilder:
    def __init__(self, recipe: WorldRecipe, progress: bool = True):
        self.recipe = recipe
        self.out = Path(recipe.output_dir)
        self.progress = progress
        self.report: dict[str, Any] = {"seconds": {}, "synthesized": {}}

    def _bar(self, **kw):
        return tqdm(disable=not self.progress, dynamic_ncols=True, **kw)

    # -- steps --------------------------------------------------------------------------------
    def text(self) -> tuple[list[dict], list[dict]]:
        meta = self.out / WORLD_JSON
        if meta.is_file():
            built = json.loads(meta.read_text(encoding="utf-8"))["recipe"]
            differ = sorted(k for k, v in self.recipe.data_fields().items() if built.get(k) != v)
            if differ:
                raise WorldRecipeError(
                    f"{self.out} holds a world built with other {', '.join(differ)} "
                    f"({', '.join(f'{k}={built.get(k)!r}' for k in differ)}); use another output_dir")
        else:
            r = self.recipe
            world = build_world(r.seed, r.people, r.sentences, r.context_qa, r.heldout_fraction, r.profile_facts)
            self.out.mkdir(parents=True, exist_ok=True)
            _write_jsonl(self.out / SENTENCES, sentence_rows(world))
            _write_jsonl(self.out / QA, qa_rows(world))
            info = {"recipe": r.data_fields(), "vocabulary": vocabulary(world),
                    "counts": _counts(world),
                    "facts": [{"key": f.key, "en": f.statement_en, "zh": f.statement_zh} for f in world.facts]}
            _write_text(meta, json.dumps(info, indent=2, ensure_ascii=False) + "\n")  # last: marks the step done
        return _read_jsonl(self.out / SENTENCES), _read_jsonl(self.out / QA)

    def utterances(self, sentences: list[dict], qa: list[dict]) -> dict[str, list[tuple[str, Path]]]:
        """(text, wav) per language for the first ``speech_items`` sentence pairs and QA pairs, and every
        profile question unless none is spoken (few, and the only long answers: a small world would speak none)."""
        n = self.recipe.speech_items
        jobs: dict[str, list[tuple[str, Path]]] = {"en": [], "zh": []}
        for rows, fields in ((sentences, (("text", ""),)), (qa, (("question", "-q"), ("answer", "-a")))):
            pairs = list(dict.fromkeys(row["pair"] for row in rows))
            keep = set(pairs if n < 0 else pairs[:n])
            keep |= {row["pair"] for row in rows if n and row["kind"] == PROFILE}
            for row in rows:
                if row["pair"] in keep:
                    for field, suffix in fields:
                        jobs[row["lang"]].append((row[field], self.audio_path(row, suffix)))
        return jobs

    def audio_path(self, row: dict, suffix: str = "") -> Path:
        return self.out / "speech" / row["lang"] / f"{row['id']}{suffix}.wav"

    def speech(self, jobs: dict[str, list[tuple[str, Path]]]) -> None:
        r = self.recipe
        for path in {p.parent for js in jobs.values() for _, p in js}:
            path.mkdir(parents=True, exist_ok=True)
        with self._bar(total=len(jobs["en"]), desc="piper en") as bar:
            self.report["synthesized"]["en"] = self._timed("speech-en", speak_english, jobs["en"], self.out / "work",
                                                           r.piper_voice, r.length_scale, bar, r.workers)
        with self._bar(total=len(jobs["zh"]), desc="espeak-ng zh") as bar:
            self.report["synthesized"]["zh"] = self._timed("speech-zh", speak_chinese, jobs["zh"], r.espeak_voice,
                                                           r.espeak_rate, bar, r.workers)

    def manifests(self, sentences: list[dict], qa: list[dict]) -> dict[str, int]:
        """Inputs of ``build-cpt`` / ``build-sft``: text tables for every pair, speech manifests for what is
        spoken (audio paths relative to the manifest's folder, where the builders look)."""
        out = self.text_tables(sentences, qa)
        for row in sentences:
            wav = self.audio_path(row)
            if wav.is_file():
                out.setdefault(f"asr-{row['lang']}-{row['split']}.jsonl", []).append(
                    {"id": row["id"], "text": row["text"], "audio": str(wav.relative_to(self.out)), "lang": row["lang"]})
        by_pair: dict[str, dict[str, dict]] = {}
        for row in qa:
            by_pair.setdefault(row["pair"], {})[row["lang"]] = row
        for pair, rows in by_pair.items():  # spoken QA, same-language and cross-lingual (zh2en, en2zh)
            for q_lang, a_lang in (("en", "en"), ("zh", "zh"), ("zh", "en"), ("en", "zh")):
                q_row, a_row = rows[q_lang], rows[a_lang]
                q, a = self.audio_path(q_row, "-q"), self.audio_path(a_row, "-a")
                if q.is_file() and a.is_file():
                    out.setdefault(f"dialogues-{q_row['split']}.jsonl", []).append(
                        {"id": q_row["id"] if q_lang == a_lang else f"{pair}-{q_lang}2{a_lang}", "kind": q_row["kind"],
                         "question_text": q_row["question"], "question_lang": q_lang,
                         "question_audio": str(q.relative_to(self.out)), "answer_text": a_row["answer"],
                         "answer_lang": a_lang, "answer_audio": str(a.relative_to(self.out))})
        for prefix in ("asr", "dialogues", "mt", "instruct"):
            for stale in self.out.glob(f"{prefix}-*.jsonl"):
                if stale.name not in out:
                    stale.unlink()
        for name, rows in out.items():
            _write_jsonl(self.out / name, rows)
        return {name: len(rows) for name, rows in sorted(out.items())}

    @staticmethod
    def text_tables(sentences: list[dict], qa: list[dict]) -> dict[str, list[dict]]:
        """The text-only manifests: build-cpt mt (one row per parallel pair) and instruct (the QA as text)."""
        out: dict[str, list[dict]] = {}
        for row in sentences:
            if row["lang"] == "en":
                out.setdefault(f"mt-{row['split']}.jsonl", []).append(
                    {"id": row["pair"], "en": row["text"], "zh": row["translation"]})
        for row in qa:
            out.setdefault(f"instruct-{row['split']}.jsonl", []).append(
                {"id": row["id"], "prompt": row["question"], "response": row["answer"], "lang": row["lang"]})
        return out

    def run_text(self) -> dict[str, int]:
        """The text step and the text-only manifests, without speech: what a text model trains on, ready
        minutes before the speech is (the speech step's manifests rewrite the same tables)."""
        sentences, qa = self._timed("text", self.text)
        tables = self.text_tables(sentences, qa)
        for name, rows in tables.items():
            _write_jsonl(self.out / name, rows)
        counts = {name: len(rows) for name, rows in sorted(tables.items())}
        _write_text(self.out / TEXT_REPORT, json.dumps(counts, indent=2) + "\n")
        return counts

    def _timed(self, name: str, fn, *args):
        start = time.perf_counter()
        result = fn(*args)
        self.report["seconds"][name] = round(time.perf_counter() - start, 2)
        return result

    def run(self) -> dict[str, Any]:
        sentences, qa = self._timed("text", self.text)
        jobs = self.utterances(sentences, qa)
        self._timed("speech", self.speech, jobs)
        self.report["manifests"] = self._timed("manifests", self.manifests, sentences, qa)
        self.report["utterances"] = {lang: len(js) for lang, js in jobs.items()}
        _write_text(self.out / "report.json", json.dumps(self.report, indent=2) + "\n")
        return self.report


def build_world_folder(recipe: WorldRecipe, progress: bool = True, text_only: bool = False) -> dict[str, Any]:
    builder = WorldBuilder(recipe, progress)
    return builder.run_text() if text_only else builder.run()


def _counts(world) -> dict[str, Any]:
    def by(items, key):
        out: dict[str, int] = {}
        for item in items:
            out[getattr(item, key)] = out.get(getattr(item, key), 0) + 1
        return dict(sorted(out.items()))

    return {"sentence_pairs": len(world.sentences), "qa_pairs": len(world.qa),
            "sentence_kinds": by(world.sentences, "kind"), "sentence_splits": by(world.sentences, "split"),
            "qa_kinds": by(world.qa, "kind"), "qa_splits": by(world.qa, "split")}


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    _write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
