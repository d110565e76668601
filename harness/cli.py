"""Evaluate speech language models: the same tasks, judges and normalizers for every system.

Subcommands: list | run | show | publish | leaderboard (`python -m harness SUBCOMMAND --help` for each)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from harness.datasets.base import DatasetUnavailableError
from harness.manifest import ManifestError
from harness.options import ConfigError

EXIT_CONFIG = 2       # a configuration mistake: nothing ran
EXIT_INCOMPLETE = 3   # the run finished, but the measurement failed on some samples (see results.json status)


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} expects KEY=VALUE, got {value!r}")
        out[key.strip()] = val
    return out


def _judge_args(values: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, val in _pairs(values, "--judge-arg").items():
        lang, sep, name = key.partition(".")
        if not sep:
            raise ConfigError(f"--judge-arg expects LANG.KEY=VALUE (e.g. en.path=model.pt), got {key!r}")
        out.setdefault(lang, {})[name] = val
    return out


def _quality_judges(values: list[str]) -> dict[str, dict[str, str]]:
    """``--quality-judge NAME`` or ``NAME:KEY=VALUE,KEY=VALUE`` (repeatable; each name once)."""
    out: dict[str, dict[str, str]] = {}
    for value in values or []:
        name, _, rest = value.partition(":")
        name = name.strip()
        if not name:
            raise ConfigError(f"--quality-judge expects NAME or NAME:KEY=VALUE,..., got {value!r}")
        if name in out:
            raise ConfigError(f"--quality-judge {name} is given twice; put its options in one NAME:K=V,K=V")
        out[name] = _pairs([p for p in rest.split(",") if p], f"--quality-judge {name}:")
    return out


def cmd_list(args: argparse.Namespace) -> int:
    from harness.groups import GROUPS
    from harness.judges.quality import QUALITY_JUDGES
    from harness.registry import DATASETS, MODELS, TASKS, model_traits

    kinds = {"tasks": TASKS, "groups": GROUPS, "models": MODELS, "datasets": DATASETS,
             "quality_judges": QUALITY_JUDGES}
    for kind in ([args.kind] if args.kind else list(kinds)):
        print(f"{kind}:")
        for entry in kinds[kind].entries():
            print(f"  {entry.name:28s} {entry.summary}")
            if kind == "models":  # what a task's capability check compares against
                print(f"  {'':28s} {model_traits(entry)}")
    return 0




def cmd_run(args: argparse.Namespace) -> int:
    from harness.groups import group_run_dir, resolve
    from harness.options import RunOptions
    from harness.plan import default_run_dir
    from harness.runner import evaluate

    group = resolve(args.task)  # None: one task (a registered name or a task file)
    dataset_args = _pairs(args.dataset_arg, "--dataset-arg")
    default_dir = (group_run_dir(group, args.name or args.model) if group else
                   default_run_dir(args.task, args.name or args.model, args.dataset, dataset_args))
    options = RunOptions(
        task=args.task, model=args.model, model_args=_pairs(args.model_arg, "--model-arg"),
        dataset=args.dataset, dataset_args=dataset_args,
        judges=_pairs(args.judge, "--judge"), judge_args=_judge_args(args.judge_arg),
        offline_judges=args.offline_judges, llm_judge=args.llm_judge,
        llm_judge_args=_pairs(args.llm_judge_arg, "--llm-judge-arg"),
        quality_judges=_quality_judges(args.quality_judge), reference_scorer=args.reference_scorer,
        limit=args.limit, batch_size=args.batch_size,
        output_dir=args.output_dir or default_dir,
        retry_failed=args.retry_failed, bootstrap_resamples=args.bootstrap_resamples, seed=args.seed,
        progress=not args.no_progress, name=args.name, overwrite=args.overwrite)
    if args.model_path:
        if "path" in options.model_args:
            raise ConfigError("--model-path and --model-arg path=... both name the model's path; keep one")
        options = RunOptions(**{**options.to_dict(), "model_args": {**options.model_args, "path": args.model_path}})
    if group is not None:
        return _run_group(group, options)
    results = evaluate(options, argv=sys.argv)
    if results is None:  # a non-zero rank: rank 0 reports
        return 0
    from harness.report import results_table

    print(results_table([results]))
    print(f"results: {Path(options.output_dir) / 'results.json'}")
    if results["status"] != "complete":  # a script must not take an incomplete figure for a final one
        _say_incomplete(results["counts"], Path(options.output_dir) / "samples.jsonl")
        return EXIT_INCOMPLETE
    return 0


def _run_group(group, options) -> int:
    """Every member into <output_dir>/<member>/, then group.json: members' rows, the group's summary, the status."""
    from harness.groups import GROUP_FILE, run_group
    from harness.report import group_table, results_table

    record = run_group(group, options, argv=sys.argv)
    if record is None:  # a non-zero rank: rank 0 reports
        return 0
    out = Path(options.output_dir)
    results = [json.loads((out / m["results"]).read_text(encoding="utf-8")) for m in record["members"] if m["results"]]
    print(results_table(results))
    print(group_table(record))
    print(f"group: {out / GROUP_FILE}")
    unfinished = [m["label"] for m in record["members"] if m["status"] != "complete"]
    if unfinished:  # a script must not take a group with an incomplete member for a final one
        print(f"incomplete: {len(unfinished)} of {len(record['members'])} member(s) incomplete ({', '.join(unfinished)});"
              f" each one's results.json says which samples; rerun the same command (finished members are skipped), "
              f"with --retry-failed to redo the measurement's failures", file=sys.stderr)
        return EXIT_INCOMPLETE
    return 0


def _say_incomplete(counts: dict, samples: Path) -> None:
    """What is missing from the figures, and what fixes it: a retry for the measurement's failures, the manifest
    itself for its unreadable rows (listed, file:line)."""
    from harness.datasets.base import ItemProblem, bad_rows

    manifest = counts["failed_by_reason"].get("manifest", 0)
    other = counts["measurement_failed"] - manifest
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(counts["failed_by_reason"].items()))
    print(f"incomplete: the measurement failed on {counts['measurement_failed']} of {counts['samples']} sample(s) "
          f"({reasons}); they are left out of the figures ({counts['scored']} scored, {counts['system_failed']} "
          f"failed by the system)", file=sys.stderr)
    if manifest:
        rows = [json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines()] if samples.is_file() else []
        problems = [ItemProblem(r["id"], r.get("source") or r["id"], r["error"]["message"]) for r in rows
                    if (r.get("error") or {}).get("stage") == "manifest"]
        print(f"{manifest} manifest row(s) cannot be read; fix them in the manifest (a retry cannot):", file=sys.stderr)
        if problems:
            print(bad_rows(problems), file=sys.stderr)
    if other:
        print(f"Rerun with --retry-failed to redo the other {other} (judges, network, input files).", file=sys.stderr)


def cmd_show(args: argparse.Namespace) -> int:
    from harness.groups import find_groups, read_group
    from harness.report import find_results, group_table, results_table

    results = [json.loads(p.read_text(encoding="utf-8")) for p in find_results(args.paths)]
    groups = []
    for path in find_groups(args.paths):
        try:
            groups.append(read_group(path))
        except ValueError as exc:  # reported, the others still shown
            print(f"skipped: {exc}", file=sys.stderr)
    if not results and not groups:
        raise ConfigError(f"no results.json under {', '.join(args.paths)}")
    if results:
        print(results_table(results))
    for record in groups:  # a group run's folder: its summary after the members' rows
        print(group_table(record))
    return 0


RUN_EXAMPLES = """examples:
  python -m harness run --task tts_wer --model piper-en_US-joe-medium --offline-judges
  python -m harness run --task asr_wer --model whisper-base-bundled --dataset belle-eval-s2s \\
      --dataset-arg path=../shared/BELLE-eval-S2S --limit 50
  python -m harness run --task asr_wer --model dummy-asr --dataset local \\
      --dataset-arg path=my/test.tsv --dataset-arg lang=zh --output-dir runs/my-asr
  python -m harness run --task s2s_reference_qa --model precomputed --model-path outputs/sys-a --name sys-a \\
      --dataset local --dataset-arg path=qa.jsonl --dataset-arg lang=en --offline-judges
  python -m harness run --task tts_wer,tts_wer_numnorm --model piper-en_US-joe-medium --offline-judges
  python -m harness run --task uro-basic-en --model precomputed --model-arg layout=uro-bench \\
      --model-arg path=glm/eval/basic/{set} --dataset-arg path=URO-Bench-data --llm-judge openai:gpt-4o-mini

exit status: 0 complete; 2 a configuration error (nothing ran); 3 incomplete (the measurement failed on some
samples: results.json says which; --retry-failed redoes them; a group: some member is incomplete)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    p = sub.add_parser("list", help="list registered tasks, models, datasets (imports no torch)")
    p.add_argument("kind", nargs="?", choices=["tasks", "groups", "models", "datasets", "quality_judges"])
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="evaluate a model on a task", description="Evaluate a model on a task: "
                       "results.json, samples.jsonl and a resumable per-stage cache in the output folder.",
                       epilog=RUN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", required=True, help="task name (`python -m harness list tasks`), a task YAML of your "
                   "own (path/to/my_task.yaml), a group (`python -m harness list groups`: voicebench, uro-basic-en, "
                   "uro-basic-zh), or several of these as a,b: one folder per member in --output-dir, plus group.json")
    p.add_argument("--model", required=True, help="the system under test: a registered model "
                   "(`python -m harness list models` shows what each can do and its languages)")
    p.add_argument("--name", help="what results and tables call the system under test (default: the model id; "
                   "a precomputed system: its folder's name)")
    p.add_argument("--model-path", metavar="DIR", help="local checkpoint/folder for the model (same as --model-arg "
                   "path=...)")
    p.add_argument("--model-arg", action="append", metavar="KEY=VALUE", help="adapter option (repeatable)")
    p.add_argument("--dataset", help="dataset name (default: the task's; `python -m harness list datasets`)")
    p.add_argument("--dataset-arg", action="append", metavar="KEY=VALUE",
                   help="dataset option (repeatable), e.g. path=DIR; a local manifest needs lang=en|zh unless "
                        "every row has a 'lang' field")
    p.add_argument("--judge", action="append", metavar="LANG=MODEL",
                   help="ASR judge for a language, replacing the task's (repeatable), e.g. en=whisper-large-v3")
    p.add_argument("--judge-arg", action="append", metavar="LANG.KEY=VALUE",
                   help="judge option (repeatable), e.g. en.path=large-v3.pt for a local checkpoint")
    p.add_argument("--offline-judges", action="store_true", help="use the judges that run offline on CPU")
    p.add_argument("--llm-judge", metavar="SPEC", help="LLM judge of S2S tasks: openai:MODEL (OPENAI_BASE_URL, "
                   "OPENAI_API_KEY from the environment), hf:LOCAL_DIR, or none (no LLM judge, e.g. offline with "
                   "--reference-scorer; recorded in results.json) (default: the task's)")
    p.add_argument("--llm-judge-arg", action="append", metavar="KEY=VALUE",
                   help="LLM judge option: prompt, temperature, n, base_url, timeout, max_retries, concurrency, ...")
    p.add_argument("--quality-judge", action="append", metavar="NAME[:KEY=VALUE,...]",
                   help="speech-quality judge of the system's speech (repeatable): dnsmos, distillmos, utmos, sim, "
                        "sim-resemblyzer (`list quality_judges`); e.g. utmos:path=DIR, sim:reference_audio=WAV")
    p.add_argument("--reference-scorer", action="store_true",
                   help="S2S tasks: also score each answer (text channel and speech transcript) against the "
                        "dataset's reference answer (field 'reference'): exact match, contains, WER/CER")
    p.add_argument("--limit", type=int, metavar="N", help="evaluate the first N items only")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="samples per model call (default 8)")
    p.add_argument("--output-dir", metavar="DIR", help="where results, samples and the cache go (default: "
                   "runs/<task>--<name or model>--<dataset>); rerunning the same command resumes there")
    p.add_argument("--overwrite", action="store_true", help="replace a finished result of another run spec "
                   "(task, model, dataset, judges, their options, limit, seed) in the output folder")
    p.add_argument("--retry-failed", nargs="?", const="measurement", default="none",
                   choices=["measurement", "all"],
                   help="re-run cached failures: the measurement's (judges, network, unreadable input; the default "
                        "when given bare) or all, the system's too")
    p.add_argument("--bootstrap-resamples", type=int, default=1000, metavar="N",
                   help="resamples of the 95 %% confidence intervals (default 1000; 0: no intervals)")
    p.add_argument("--seed", type=int, default=0, help="seeds the bootstrap and sampling models (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("show", help="print a results table from results.json files or folders")
    p.add_argument("paths", nargs="+", help="results.json files, or folders searched for them")
    p.set_defaults(func=cmd_show)

    # Listed here for --help; main() hands them their arguments before this parser runs (they have their own).
    sub.add_parser("publish", help="publish a dataset (card + parquet shards) to the Hugging Face Hub "
                   "(`python -m harness publish --help`)", add_help=False)
    sub.add_parser("leaderboard", help="leaderboard tables, plots and ablation reports from results files "
                   "(`python -m harness leaderboard --help`)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "publish":  # the Hub publisher has its own parser
        from harness.hub.publish import main as publish_main

        return publish_main(argv[1:])
    if argv and argv[0] == "leaderboard":  # tables, plots, ablations: leaderboards/ has its own parser
        from leaderboards.cli import main as leaderboard_main

        return leaderboard_main(argv[1:])
    logging.basicConfig(level=os.environ.get("HARNESS_LOG", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, DatasetUnavailableError, ManifestError) as exc:  # the user's to fix: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
