"""What the mini-CSLM steps read and write besides checkpoints: the world, the stage-0 tokenizer corpus, the
training data (through the builders that ``python -m training build-cpt`` / ``build-sft`` run), the tokens
report and the held-out harness manifests."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

from models.cslm.parsing import ANSWER_TAG, QUESTION_TAG
from training.world.world import PROFILE

TRAINING_DIR = Path(__file__).resolve().parents[1]
PROMPT_FILES = (TRAINING_DIR / "templates.yaml", TRAINING_DIR.parent / "models" / "cslm" / "prompts.yaml")
LANGS = ("en", "zh")


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)


# -- world --------------------------------------------------------------------------------------------
def build_world(world_recipe: str, settings: dict, folder: Path, progress: bool, text_only: bool = False) -> None:
    """The world folder from ``world_recipe`` with the mini recipe's ``world`` settings; ``text_only``: its text
    and text manifests only (what stage 0 reads), in seconds."""
    from training.world.build import build_world_folder
    from training.world.recipe import load_world_recipe

    overrides = [f"{k}={json.dumps(v)}" for k, v in settings.items()] + [f"output_dir={folder}"]
    build_world_folder(load_world_recipe(world_recipe, overrides), progress=progress, text_only=text_only)


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


# How often each scaffold segment enters the BPE corpus: the chat template's system block and role names and
# the instruction strings are in every record but would be in the corpus once, tokenized almost byte by byte
# (an English ASR record was 163 tokens for 8 target tokens).
SCAFFOLD_REPEATS = 50
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}|<sosp>|<eosp>")


def scaffold_segments() -> list[str]:
    """The text every record carries besides its content, as the tokenizer sees it (cut at special tokens and
    placeholders): the chat template's scaffold (system block, role names) and the prompt templates'
    instructions and connecting words."""
    from models.cslm.tiny import build_tokenizer

    segments = []
    for path in PROMPT_FILES:
        for text in _strings(yaml.safe_load(path.read_text(encoding="utf-8"))):
            segments += _PLACEHOLDER.split(text)
    tokenizer = build_tokenizer(n_units=0, vocab_size=300)  # only its chat template and special tokens are used
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "\0"}, {"role": "assistant", "content": "\0"}],
                                         tokenize=False, add_generation_prompt=True)
    specials = "|".join(re.escape(t) for t in tokenizer.all_special_tokens)
    segments += re.split(f"{specials}|\0", chat)
    segments += [QUESTION_TAG, ANSWER_TAG]  # before every SFT answer
    return [seg for seg in dict.fromkeys(segments) if seg]


def text_corpus(world: Path) -> list[str]:
    """Lines the stage-0 BPE tokenizer learns from: the TRAINING split's sentences and QA turns (en + zh; a
    held-out sentence never reaches the tokenizer) and the scaffold every record carries, weighted
    (``scaffold_segments`` x ``SCAFFOLD_REPEATS``), so a word or an instruction is a few tokens."""
    lines = [r["text"] for r in read_jsonl(world / "sentences.jsonl") if r["split"] == "train"]
    lines += [r[k] for r in read_jsonl(world / "qa.jsonl") if r["split"] == "train"
              for k in ("question", "answer", "context") if r.get(k)]
    lines += scaffold_segments() * SCAFFOLD_REPEATS
    return [line for line in lines if line]


def _split_texts(world: Path, split: str) -> dict[str, list[str]]:
    """The world's sentences and QA turns of one split, by language."""
    out: dict[str, list[str]] = {}
    for r in read_jsonl(world / "sentences.jsonl"):
        if (r["split"] == "train") == (split == "train"):
            out.setdefault(r["lang"], []).append(r["text"])
    for r in read_jsonl(world / "qa.jsonl"):
        if (r["split"] == "train") == (split == "train"):
            out.setdefault(r["lang"], []).extend(r[k] for k in ("question", "answer") if r.get(k))
    return out


def tokens_report(tokenizer_dir: Path, world: Path, data: Path, sample: int = 300) -> dict[str, Any]:
    """What the stage-0 tokenizer makes of the data: per language, the held-out strings holding a token that no
    training string has (the model could never have learnt to write it); per record kind (data/<kind>.jsonl),
    tokens per record, target tokens (labels) per record and the rest (chat scaffold, prompt, input)."""
    from transformers import AutoTokenizer

    from training.chat import IGNORE, ChatEncoder, RecordError

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    coverage = {}
    train, heldout = _split_texts(world, "train"), _split_texts(world, "heldout")
    for lang, texts in sorted(heldout.items()):
        known = {t for text in train.get(lang, []) for t in tokenizer(text, add_special_tokens=False).input_ids}
        unknown = [text for text in texts
                   if any(t not in known for t in tokenizer(text, add_special_tokens=False).input_ids)]
        coverage[lang] = {"heldout_strings": len(texts), "with_unseen_token": len(unknown),
                          "examples": unknown[:5]}
    encoder = ChatEncoder(tokenizer, max_length=100_000)
    kinds = {}
    for path in sorted(data.glob("*.jsonl")):
        records = [r for r in read_jsonl(path)[:sample] if "prompt" in r and "response" in r]
        encoded = []
        for r in records:
            try:
                encoded.append(encoder.encode(r))
            except RecordError:
                continue
        if encoded:
            total = sum(len(e["input_ids"]) for e in encoded)
            target = sum(sum(t != IGNORE for t in e["labels"]) for e in encoded)
            kinds[path.stem] = {"records": len(encoded), "tokens_per_record": round(total / len(encoded), 1),
                                "target_tokens_per_record": round(target / len(encoded), 1),
                                "other_tokens_per_record": round((total - target) / len(encoded), 1)}
    return {"tokenizer": str(tokenizer_dir), "vocabulary": len(tokenizer), "heldout_coverage": coverage,
            "per_kind": kinds}


# -- training data ------------------------------------------------------------------------------------
def _write(records: list[dict], report, out: Path) -> None:
    """Write a builder's records and report; a builder that kept nothing stops the pipeline, naming the file."""
    from training.cpt_data import write_jsonl

    write_jsonl(records, out, report)
    if not records:
        raise RuntimeError(f"{out}: no record built ({report.summary()}); see {out.name}.report.json")


def build_text_data(world: Path, data: Path) -> None:
    """Stage-0 and CPT text data: MT both directions, and the world's QA as instructions (en + zh)."""
    from training.cpt_data import build_instruct, build_mt
    from training.sources import table_rows
    from training.templates import Templates

    _write(*build_mt(*table_rows(world / "mt-train.jsonl"), Templates.load()), data / "mt.jsonl")
    _write(*build_instruct(*table_rows(world / "instruct-train.jsonl"), "en"), data / "instruct.jsonl")


def speech_manifest(world: Path, lang: str, out: Path) -> int:
    """Every training recording of one language: the spoken sentences, and the questions and answers of the
    same-language training dialogues (each recording once). Without the questions, a model that learnt ASR
    from statements alone turned held-out questions into statements (measured: held-out sentences transcribed
    exactly, questions not)."""
    rows, seen = [], set()
    for r in read_jsonl(world / f"asr-{lang}-train.jsonl"):
        rows.append({**r, "audio": str(world / r["audio"])})
        seen.add(rows[-1]["audio"])
    for r in read_jsonl(world / "dialogues-train.jsonl"):
        if r["question_lang"] != lang or r["answer_lang"] != lang:
            continue
        for side in ("question", "answer"):
            audio = str(world / r[f"{side}_audio"])
            if audio not in seen:
                seen.add(audio)
                rows.append({"id": f"{r['id']}-{side[0]}", "text": r[f"{side}_text"], "audio": audio, "lang": lang})
    write_jsonl(out, rows)
    return len(rows)


def build_speech_data(world: Path, data: Path, codec: str, cache: Path) -> None:
    """CPT speech data: ASR and TTS, English and Chinese, units from the codec."""
    from models.cslm.speech_tokenizer import SpeechTokenizer
    from training.cpt_data import build_speech_pairs
    from training.sources import TokenizerUnits, speech_rows
    from training.templates import Templates

    units, templates = TokenizerUnits(SpeechTokenizer(codec, cache_dir=cache)), Templates.load()
    for lang in LANGS:
        speech_manifest(world, lang, data / f"speech-{lang}-train.jsonl")
    for kind in ("asr", "tts"):
        for lang in LANGS:
            rows, problems = speech_rows(data / f"speech-{lang}-train.jsonl", lang)
            _write(*build_speech_pairs(kind, rows, problems, units, templates), data / f"{kind}-{lang}.jsonl")


def sft_dialogues(world: Path, out: Path, cross_items: int) -> int:
    """The SFT dialogues: every en->en and zh->zh pair, the first ``cross_items`` zh->en (audio paths made
    absolute so the copy can live outside the world folder)."""
    rows, cross = [], 0
    for row in read_jsonl(world / "dialogues-train.jsonl"):
        pair = (row["question_lang"], row["answer_lang"])
        if pair == ("zh", "en"):
            if 0 <= cross_items <= cross:
                continue
            cross += 1
        elif pair[0] != pair[1]:
            continue
        rows.append({**row, "question_audio": str(world / row["question_audio"]),
                     "answer_audio": str(world / row["answer_audio"])})
    write_jsonl(out, rows)
    return len(rows)


def word_times(manifest: Path, out: Path) -> dict[str, int]:
    """``--word-times`` file of build-sft: the Whisper word aligner (training.whisper_aligner, what
    ``--aligner whisper`` runs, several recordings per Whisper window) once per distinct answer recording (same bytes, same words: an English answer
    serves its en->en and zh->en dialogues, and the deterministic TTS speaks a repeated answer identically)
    instead of once per dialogue and layout. A recording it cannot align is left out
    (build-sft then refuses those rows and counts them)."""
    from harness.audio import read_audio
    from harness.cache import sha256_file
    from training.aligner import AlignmentError
    from training.chunking import is_cjk, split_words
    from training.whisper_aligner import WhisperWordAligner

    aligner, keys, todo = WhisperWordAligner(), [], {}
    dialogues = read_jsonl(manifest)
    for row in dialogues:
        words = [w for w, _, _ in split_words(row["answer_text"].strip(), row["answer_lang"])]
        key = (sha256_file(row["answer_audio"]), tuple(words))
        keys.append(key)
        todo.setdefault(key, row["answer_audio"])
    # several answers per Whisper window (align_many), English and Chinese apart
    order = sorted(todo, key=lambda k: any(is_cjk(c) for w in k[1] for c in w))
    times = aligner.align_many([(read_audio(todo[k], 16000).samples, list(k[1])) for k in order])
    done = {k: None if isinstance(t, AlignmentError) else t for k, t in zip(order, times)}
    failed = sum(t is None for t in done.values())
    rows = [{"id": row["id"], "words": [[t.word, t.start, t.end] for t in done[key]]}
            for row, key in zip(dialogues, keys) if done[key] is not None]
    write_jsonl(out, rows)
    report = {"aligner": aligner.describe(), "recordings": len(done), "failed": failed, "rows": len(rows)}
    out.with_name(out.name + ".report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def build_sft_data(world: Path, data: Path, cache: Path, codec: str, cross_items: int,
                   chunk_size: dict[str, int]) -> None:
    """Interleaved and full chain-of-modality SFT records of the training dialogues (``cross_items``: how many
    zh->en dialogues; ``chunk_size``: words (en) / characters (zh) per chunk)."""
    from models.cslm.speech_tokenizer import SpeechTokenizer
    from training.aligner import read_word_times
    from training.cpt_data import record_aligner
    from training.sft_data import SFTBuilder, SFTOptions
    from training.sources import TokenizerUnits, table_rows

    manifest = data / "dialogues-sft.jsonl"
    sft_dialogues(world, manifest, cross_items)
    word_times(manifest, data / "word-times.jsonl")
    times = read_word_times(data / "word-times.jsonl")
    units = TokenizerUnits(SpeechTokenizer(codec, cache_dir=cache))
    for layout in ("interleaved", "full"):
        opts = SFTOptions(layout=layout, chunk_size=dict(chunk_size))
        builder = SFTBuilder(units, None, times, opts, audio_dir=manifest.parent)
        out = data / f"sft-{layout}.jsonl"
        _write(*builder.build(*table_rows(manifest)), out)
        record_aligner(out, {"kind": "word-times-file", "path": str(data / "word-times.jsonl")})


def sources(data: Path, names: list[str], mix: dict | None = None) -> list[dict]:
    """Training sources: ratios from ``mix`` (kind -> share, split evenly over the kind's files, a kind being
    the file name up to its first '-' or '.'), or proportional to the sizes (every record once per epoch)."""
    kinds = {name: re.split(r"[-.]", name, maxsplit=1)[0] for name in names}
    out = []
    for name in names:
        n = len(read_jsonl(data / name))
        if n:
            share = mix[kinds[name]] / sum(k == kinds[name] for k in kinds.values()) if mix else n
            out.append({"path": str(data / name), "ratio": float(share)})
    if not out:
        raise RuntimeError(f"no training records in {', '.join(names)} under {data}")
    return out


# -- held-out harness manifests -----------------------------------------------------------------------
def eval_manifests(world: Path, out: Path) -> dict[str, int]:
    """Held-out items in the local loader's format (harness.datasets.local), audio paths absolute, in a fixed
    order (by a hash of the id) so that the first N items are a mix of the set's kinds:
    asr-<lang> (held-out spoken sentences and questions), qa-<lang> (same-language spoken QA with the
    reference answer: fact and context questions), long-<lang> (the profile questions: three-sentence
    answers, where interleaving gains most), cross-zh2en (Chinese question, English reference), tts-<lang>
    (held-out sentences, and the answers of held-out questions never spoken in training)."""
    sets: dict[str, list[dict]] = {}
    # an answer spoken in training (a held-out phrasing of a trained fact has the trained answer) is no TTS test
    trained = {r["answer_text"] for r in read_jsonl(world / "dialogues-train.jsonl")}
    for lang in LANGS:
        for r in read_jsonl(world / f"asr-{lang}-heldout.jsonl"):
            sets.setdefault(f"asr-{lang}", []).append({"id": r["id"], "text": r["text"], "lang": lang,
                                                       "audio": str(world / r["audio"])})
            sets.setdefault(f"tts-{lang}", []).append({"id": r["id"], "text": r["text"], "lang": lang})
    for r in read_jsonl(world / "dialogues-heldout.jsonl"):
        q, a = r["question_lang"], r["answer_lang"]
        item = {"id": r["id"], "text": r["question_text"], "lang": q, "audio": str(world / r["question_audio"]),
                "reference": r["answer_text"], "kind": r["kind"]}
        if q == a:
            sets.setdefault(f"{'long' if r['kind'] == PROFILE else 'qa'}-{q}", []).append(item)
            sets.setdefault(f"asr-{q}", []).append({k: item[k] for k in ("id", "text", "lang", "audio")})
            if r["answer_text"] not in trained:
                sets.setdefault(f"tts-{a}", []).append({"id": r["id"], "text": r["answer_text"], "lang": a})
        elif (q, a) == ("zh", "en"):
            sets.setdefault("cross-zh2en", []).append(item)
    for name, rows in sets.items():  # a fixed shuffle: the first N (eval_limit) mix sentences/questions, kinds
        rows.sort(key=lambda row: hashlib.sha256(row["id"].encode()).hexdigest())
        write_jsonl(out / f"{name}.jsonl", rows)
    counts = {name: len(rows) for name, rows in sorted(sets.items())}
    (out / "sets.json").write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")
    return counts
