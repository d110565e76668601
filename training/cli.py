"""``python -m training``: merge-vocab, build-cpt, build-sft, train, build-codec.

    python -m training merge-vocab --base meta-llama/Llama-3.1-8B-Instruct --out ckpt/llama31-cslm-merged
    python -m training build-cpt asr --manifest asr_zh.tsv --lang zh --speech-tokenizer speech_tokenizer_v1.onnx --out data/asr_zh.jsonl
    python -m training build-cpt mt --manifest zh_en.tsv --out data/mt.jsonl
    python -m training build-sft --manifest dialogues.jsonl --units units.jsonl --aligner facebook/wav2vec2-base-960h --out data/sft.jsonl
    python -m training build-sft --manifest runs/world-tiny/dialogues-train.jsonl --units units.jsonl --aligner whisper --out data/sft.jsonl
    python -m training train training/recipes/tiny_cpu_cpt.yaml max_steps=20 output_dir=runs/cpt
    python -m training build-codec training/recipes/codec/codec_tiny.yaml output_dir=runs/codec-tiny
    python -m training build-world training/recipes/world/world_tiny.yaml output_dir=runs/world-tiny
    python -m training mini-cslm training/recipes/mini_cslm/mini_full.yaml output_dir=runs/mini-cslm
    python -m training mini-cslm-probe training/recipes/mini_cslm/mini_full.yaml asr-only tts-only
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from models.cslm.units import DEFAULT_UNITS, UNIT_FORMATS


def _units_source(args):
    from training.sources import TokenizerUnits, UnitsFile

    if args.units and args.speech_tokenizer:
        raise SystemExit("--units and --speech-tokenizer conflict: units come from a file OR the tokenizer")
    if args.units:
        return UnitsFile(args.units)
    if args.speech_tokenizer:
        from models.cslm.speech_tokenizer import SpeechTokenizer

        return TokenizerUnits(SpeechTokenizer(args.speech_tokenizer, cache_dir=_units_cache(args)))
    raise SystemExit("speech data needs units: --units FILE or --speech-tokenizer speech_tokenizer_v1.onnx")


def _units_cache(args) -> str | None:
    """The speech-tokenizer cache: --units-cache, or (with --workers > 1, where it is how shards merge) the
    default cache folder."""
    if args.units_cache or args.workers <= 1:
        return args.units_cache
    from models.cslm.speech_tokenizer import default_cache_dir

    return str(default_cache_dir())


def _pretokenize(args, items) -> None:
    """--workers N: fill the tokenizer cache from N processes before the (single-process) builder reads it."""
    if args.workers <= 1 or not args.speech_tokenizer:
        return
    from training.tokenize_pool import TokenizerSpec, pretokenize

    stats = pretokenize([item for item in items if item is not None],
                        TokenizerSpec(args.speech_tokenizer, _units_cache(args)), args.workers)
    print(f"speech tokenizer, {args.workers} workers: {stats}")


def _rows(args, speech: bool):
    from training.sources import hub_rows, speech_rows, table_rows

    if bool(args.manifest) == bool(args.hub):
        raise SystemExit("give exactly one input: --manifest FILE or --hub DATASET")
    if speech and not args.lang:
        raise SystemExit("--lang is required for speech data (en, zh)")
    if args.hub:
        return hub_rows(args.hub, split=args.split, lang=args.lang or "en", text_column=args.text_column,
                        audio_column=args.audio_column if speech else None, id_column=args.id_column)
    if speech:
        return speech_rows(args.manifest, args.lang, args.audio_dir)
    return table_rows(args.manifest)


def cmd_build_cpt(args) -> int:
    from training.cpt_data import BuildOptions, build_instruct, build_mt, build_speech_pairs, write_jsonl
    from training.templates import Templates

    opts = BuildOptions(unit_format=args.unit_format, max_units=args.max_units, max_chars=args.max_chars)
    templates = Templates.load(args.templates)
    rows, problems = _rows(args, speech=args.kind in ("asr", "tts"))
    if args.kind in ("asr", "tts"):
        _pretokenize(args, [row.item for row in rows])
        records, report = build_speech_pairs(args.kind, rows, problems, _units_source(args), templates, opts)
    elif args.kind == "mt":
        dirs = {"both": (("zh", "en"), ("en", "zh")), "zh-en": (("zh", "en"),), "en-zh": (("en", "zh"),)}
        records, report = build_mt(rows, problems, templates, dirs[args.directions], opts)
    else:
        records, report = build_instruct(rows, problems, args.lang or "en", opts)
    write_jsonl(records, args.out, report)
    _print_report(report)
    return 0 if records else 1


def cmd_build_sft(args) -> int:
    from training.aligner import read_word_times
    from training.cpt_data import record_aligner, write_jsonl
    from training.sft_data import SFTBuilder, SFTOptions
    from training.sources import table_rows

    sizes = dict(SFTOptions().chunk_size)
    for item in args.chunk_size or []:
        lang, _, n = item.rpartition("=")
        sizes[lang or "en"] = int(n)
    opts = SFTOptions(layout=args.layout, chunk_size=sizes, unit_format=args.unit_format,
                      with_question_text=not args.no_question_text, max_units=args.max_units)
    aligner, aligner_info = _aligner(args.aligner)
    times = read_word_times(args.word_times) if args.word_times else None
    builder = SFTBuilder(_units_source(args), aligner, times, opts, audio_dir=Path(args.manifest).parent)
    rows, problems = table_rows(args.manifest)
    _pretokenize(args, builder.utterances(rows))
    records, report = builder.build(rows, problems)
    write_jsonl(records, args.out, report)
    record_aligner(args.out, aligner_info if aligner else {"kind": "word-times-file", "path": args.word_times})
    _print_report(report)
    return 0 if records else 1


def _aligner(spec: str | None):
    """--aligner: ``whisper[:MODEL | :en=MODEL,zh=MODEL]`` (faster-whisper word timestamps) or a transformers
    CTC model (folder or Hub id). Returns (align function or None, what to record in the report)."""
    if not spec:
        return None, None
    if spec == "whisper" or spec.startswith("whisper:"):
        from training.whisper_aligner import WhisperWordAligner, parse_models

        try:
            aligner = WhisperWordAligner(parse_models(spec))
        except ValueError as exc:
            raise SystemExit(f"--aligner: {exc}") from None
        return aligner.align, aligner.describe()
    from training.aligner import CTCEmissionModel

    return CTCEmissionModel(spec).align, {"kind": "ctc", "model": spec}


def cmd_merge_vocab(args) -> int:
    from training.vocab import DEFAULT_EXTRA_TOKENS, merge_vocab

    extra = tuple(args.extra_token) if args.extra_token is not None else DEFAULT_EXTRA_TOKENS
    info = merge_vocab(args.base, args.out, n_units=args.n_units, unit_format=args.unit_format,
                       extra_tokens=extra, pad_to_multiple_of=args.pad_to_multiple_of, seed=args.seed,
                       init=args.init, centroids=args.centroids)
    print(json.dumps(info, indent=2, ensure_ascii=False))
    return 0


def cmd_tiny_base(args) -> int:
    from training.tiny_base import build_tiny_base

    corpus = Path(args.corpus).read_text(encoding="utf-8").splitlines() if args.corpus else None
    print(build_tiny_base(args.out, corpus, hidden=args.hidden, layers=args.layers))
    return 0


def cmd_train(args) -> int:
    from training.recipe import load_recipe
    from training.trainer import train

    recipe = load_recipe(args.recipe, args.overrides)
    summary = train(recipe)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("log_history", "data_report")},
                     indent=2, default=str))
    return 0


def _print_report(report) -> None:
    print(report.summary())
    for p in report.problems[:20]:
        print(f"  {p.source}: {p.code}: {p.reason}")
    if len(report.problems) > 20:
        print(f"  ... {len(report.problems) - 20} more in the .report.json next to the output")


def _speech_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--units", help="units file: JSONL {id, units} or TSV id<TAB>units")
    p.add_argument("--speech-tokenizer", help="CosyVoice speech_tokenizer_v1.onnx: units from the audio")
    p.add_argument("--units-cache", help="cache folder for speech-tokenizer outputs")
    p.add_argument("--workers", type=int, default=1, help="speech-tokenizer processes (GPU k mod n each when "
                   "present); shards merge through the cache, so outputs are identical for any N")
    p.add_argument("--unit-format", default="angle", choices=sorted(UNIT_FORMATS))


def cmd_build_codec(args) -> int:
    from training.codec.build import build_codec
    from training.codec.recipe import CodecRecipeError, load_codec_recipe

    try:
        recipe = load_codec_recipe(args.recipe, args.overrides)
    except CodecRecipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    build_codec(recipe, progress=not args.no_progress)
    return 0


def cmd_build_world(args) -> int:
    from training.world.build import build_world_folder
    from training.world.recipe import WorldRecipeError, load_world_recipe

    try:
        recipe = load_world_recipe(args.recipe, args.overrides)
        report = build_world_folder(recipe, progress=not args.no_progress)
    except WorldRecipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    return 0


def cmd_mini_cslm(args) -> int:
    from training.mini_cslm.pipeline import run_pipeline
    from training.mini_cslm.recipe import load_mini_recipe

    summary = run_pipeline(load_mini_recipe(args.recipe, args.overrides), progress=not args.no_progress)
    print(json.dumps(summary, indent=2))
    if summary["failed"]:  # recorded in steps.json with their reasons; a rerun retries only those
        print(f"error: {len(summary['failed'])} step(s) failed: {', '.join(summary['failed'])} "
              f"(reasons in {summary['output_dir']}/steps.json; rerun the same command to retry them)", file=sys.stderr)
        return 1
    return 0


def cmd_mini_cslm_probe(args) -> int:
    from training.mini_cslm.probe import run_probes
    from training.mini_cslm.recipe import load_mini_recipe

    summaries = run_probes(load_mini_recipe(args.recipe, args.overrides), args.names, progress=not args.no_progress)
    print(json.dumps({name: s["results"] for name, s in summaries.items()}, indent=2))
    missing = [f"{name}/{data}" for name, s in summaries.items() for data in s["probe"]["evals"]
               if data not in s["results"]]
    if missing:
        print(f"error: evaluation(s) failed: {', '.join(missing)} (reasons in <output_dir>/probes/steps.json; "
              f"rerun the same command to retry them)", file=sys.stderr)
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m training", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("merge-vocab", help="add unit tokens and span markers to a text LLM")
    p.add_argument("--base", required=True, help="text model folder or Hub id (Llama-3.1-8B-Instruct)")
    p.add_argument("--out", required=True)
    p.add_argument("--n-units", type=int, default=DEFAULT_UNITS)
    p.add_argument("--unit-format", default="angle", choices=sorted(UNIT_FORMATS))
    p.add_argument("--extra-token", action="append", default=None,
                   help="added tokens besides units and <sosp>/<eosp>, repeatable (default: [question] and "
                        "[answer], the SFT tags the released sft.py adds)")
    p.add_argument("--init", default="normal", choices=["normal", "mean", "centroids"],
                   help="new rows: N(mean, cov) of the old rows (default), transformers' mean_resizing, or the "
                        "unit rows from the speech tokenizer's k-means centroids (--centroids)")
    p.add_argument("--centroids", default=None, help="with --init centroids: a .npy of n_units x dim centroids")
    p.add_argument("--pad-to-multiple-of", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_merge_vocab)

    p = sub.add_parser("build-cpt", help="ASR / TTS / MT / instruction records for continued pre-training")
    p.add_argument("kind", choices=["asr", "tts", "mt", "instruct"])
    p.add_argument("--manifest", help="local manifest (TSV/JSONL); speech: harness format id, text[, audio]")
    p.add_argument("--hub", help="Hub dataset id (or a local folder datasets can load)")
    p.add_argument("--split", default="train")
    p.add_argument("--text-column", default="text")
    p.add_argument("--audio-column", default="audio")
    p.add_argument("--id-column", default="id")
    p.add_argument("--lang", help="language of a speech or instruction source (en, zh)")
    p.add_argument("--audio-dir", help="audio folder of a speech manifest (default: next to it)")
    p.add_argument("--directions", default="both", choices=["both", "zh-en", "en-zh"], help="MT directions")
    p.add_argument("--templates", help="templates YAML (default: training/templates.yaml)")
    p.add_argument("--max-units", type=int, default=750)
    p.add_argument("--max-chars", type=int, default=2000)
    p.add_argument("--out", required=True, help="output JSONL (a .report.json is written next to it)")
    _speech_args(p)
    p.set_defaults(func=cmd_build_cpt)

    p = sub.add_parser("build-sft", help="interleaved chain-of-modality records from spoken dialogues")
    p.add_argument("--manifest", required=True, help="JSONL dialogues (question_text/_lang/_audio, answer_...)")
    p.add_argument("--aligner", help="word times from: a transformers CTC model (folder or Hub id), or `whisper` "
                   "(faster-whisper word timestamps; default models whisper-tiny.en-bundled / whisper-base-bundled; "
                   "whisper:MODEL or whisper:en=MODEL,zh=MODEL to choose)")
    p.add_argument("--word-times", help="JSONL {id, words: [[word, start, end], ...]} instead of --aligner")
    p.add_argument("--layout", default="interleaved", choices=["interleaved", "full"])
    p.add_argument("--chunk-size", action="append", metavar="LANG=N",
                   help="words per chunk (zh: characters); default en=7 zh=12")
    p.add_argument("--no-question-text", action="store_true", help="leave TQ out of the response")
    p.add_argument("--max-units", type=int, default=2048)
    p.add_argument("--out", required=True)
    _speech_args(p)
    p.set_defaults(func=cmd_build_sft)

    p = sub.add_parser("tiny-base", help="a tiny random text-only Llama + BPE tokenizer (laptop runs, tests)")
    p.add_argument("out")
    p.add_argument("--corpus", help="text file whose lines train the BPE tokenizer")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.set_defaults(func=cmd_tiny_base)

    p = sub.add_parser("train", help="CPT or SFT from a YAML recipe")
    p.add_argument("recipe", help="recipe YAML (or the name of a shipped one: tiny_cpu_cpt, cpt_llama31_8b, ...)")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("build-codec", help="speech tokenizer (k-means) + unit vocoder from a YAML recipe")
    p.add_argument("recipe", help="recipe YAML (training/recipes/codec/codec_full.yaml, codec_tiny.yaml)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. output_dir=DIR vocoder.steps=100")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    p.set_defaults(func=cmd_build_codec)

    p = sub.add_parser("build-world", help="seeded bilingual world: parallel text, QA, Piper + espeak-ng speech")
    p.add_argument("recipe", help="recipe YAML (training/recipes/world/world_full.yaml, world_tiny.yaml)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. output_dir=DIR seed=1 speech_items=0")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    p.set_defaults(func=cmd_build_world)

    p = sub.add_parser("mini-cslm", help="the whole mini-CSLM pipeline (world -> text model -> CPT -> SFT -> "
                       "harness), resumable: every step is skipped when its output exists")
    p.add_argument("recipe", help="recipe YAML (training/recipes/mini_cslm/mini_full.yaml, mini_ci.yaml)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. output_dir=DIR cpt.max_steps=50")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    p.set_defaults(func=cmd_mini_cslm)

    p = sub.add_parser("mini-cslm-probe", help="a recipe's probes: more of one kind of data from a pipeline "
                       "checkpoint, measured by the harness (after mini-cslm; resumable)")
    p.add_argument("recipe", help="the mini-cslm recipe YAML whose run and probes block to use")
    p.add_argument("names", nargs="+", metavar="NAME", help="probe names (the recipe's probes block)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="key=value",
                   help="recipe override, repeatable (e.g. --set output_dir=DIR)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    p.set_defaults(func=cmd_mini_cslm_probe)
    return ap


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if "--output-dir" in [a.split("=")[0] for a in (sys.argv[1:] if argv is None else argv)]:  # the harness's
        parser().error("give the recipe override output_dir=DIR (mini-cslm-probe: --set output_dir=DIR), not --output-dir")
    args = parser().parse_args(argv)
    from training.recipe import RecipeError

    try:
        return args.func(args)
    except RecipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
