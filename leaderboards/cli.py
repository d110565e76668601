"""``python -m harness leaderboard build|ablation`` (dispatched from harness/cli.py).

    build RUNS... --out DIR [--copy-runs]          tables (Markdown, CSV, HTML) and plots
    ablation --factor NAME --a RUN [RUN...] --b RUN [RUN...] --out DIR
    ablation --factor NAME=VALUE:RUN --factor NAME=VALUE:RUN --out DIR
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def cmd_build(args: argparse.Namespace) -> int:
    from leaderboards.build import build
    from leaderboards.export import repo_root, sanitize

    # The command that rebuilds these files (the page's own title and note left out).
    words = (["build", *args.runs, "--out", args.out] + (["--copy-runs"] if args.copy_runs else [])
             + (["--published", args.published] if args.published != "all" else []))
    command = sanitize("python -m harness leaderboard " + shlex.join(words), repo_root())
    built = build(args.runs, args.out, copy_runs=args.copy_runs, title=args.title, command=command,
                  note=args.note, with_plots=not args.no_plots, published=args.published)
    for _, reason in built.collection.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    if not built.collection.runs:
        print(f"error: no usable results.json under {', '.join(args.runs)}", file=sys.stderr)
        return 1
    print(f"{len(built.collection.runs)} results files, {len(built.tables)} tables, "
          f"{len(built.collection.skipped)} skipped")
    for name, path in built.files.items():
        print(f"  {name}: {path}")
    return 1 if args.strict and built.collection.skipped else 0


def _sides(args: argparse.Namespace):
    from leaderboards.ablation import load_side, parse_side

    if len(args.factor) == 2:
        specs = [parse_side(f) for f in args.factor]
        if specs[0][0] != specs[1][0]:
            raise ValueError(f"both --factor must name the same factor, got {specs[0][0]} and {specs[1][0]}")
        if args.a or args.b:
            raise ValueError("give the runs either as --factor NAME=VALUE:RUN twice or as --a/--b, not both")
        return specs[0][0], load_side(specs[0][1], specs[0][2]), load_side(specs[1][1], specs[1][2])
    if len(args.factor) != 1 or not (args.a and args.b):
        raise ValueError("name the factor once with --a RUN --b RUN, or twice as --factor NAME=VALUE:RUN")
    name = args.factor[0]
    return name, load_side(args.a_label or "", args.a), load_side(args.b_label or "", args.b)


def cmd_ablation(args: argparse.Namespace) -> int:
    from leaderboards.ablation import compare, p_expression, write_report
    from leaderboards.export import export_runs

    factor, a, b = _sides(args)
    if args.copy_runs:  # committed reports link to copies, not to the ignored runs/ folder
        from leaderboards.ablation import load_side

        out = Path(args.out) / "results"
        export_runs(a.runs, out / "a")
        export_runs(b.runs, out / "b")
        a, b = load_side(a.label, out / "a"), load_side(b.label, out / "b")
    report = compare(factor, a, b, resamples=args.resamples, seed=args.seed)
    files = write_report(report, args.out)
    if report["multiple_comparisons"]:
        print(report["multiple_comparisons"])
    for pair in report["pairs"]:
        for w in pair["warnings"]:
            print(f"warning ({pair['task']}): {w}", file=sys.stderr)
        for c in pair["comparisons"]:
            print(f"{pair['task']} {c['label']}: delta {c['delta']:+.6f} [{c['ci95'][0]:+.6f}, "
                  f"{c['ci95'][1]:+.6f}] {p_expression(c['p_text'])} n={c['n']} -> {c['verdict']}")
    for name, path in files.items():
        print(f"  {name}: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness leaderboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="tables, plots and an HTML page from results.json files or folders")
    p.add_argument("runs", nargs="+", help="results.json files or folders searched recursively")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--copy-runs", action="store_true",
                   help="copy results.json + samples.jsonl into OUT/results/ (paths made relative) and link to those")
    p.add_argument("--title", default="Leaderboard")
    p.add_argument("--note", default="", help="a sentence put first on the page (e.g. how to regenerate it)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--strict", action="store_true", help="exit 1 when a results file was skipped")
    p.add_argument("--published", default="all", metavar="all | none | SYSTEM,...",
                   help="rows copied from a benchmark's own table (leaderboards/published/<group>.yaml: VoiceBench's "
                        "README), shown in their own table under that group's summary; default: all")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("ablation", help="paired comparison of two runs (or folders) differing in one factor")
    p.add_argument("--factor", action="append", required=True, metavar="NAME | NAME=VALUE:RUN")
    p.add_argument("--a", nargs="+", help="run(s) (results.json or folders) of the baseline side: one per "
                   "(task, dataset), e.g. a QA run and a latency run")
    p.add_argument("--b", nargs="+", help="run(s) of the other side")
    p.add_argument("--a-label", help="the factor's value on side A (default: read from the differing option)")
    p.add_argument("--b-label", help="the factor's value on side B")
    p.add_argument("--out", required=True)
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--copy-runs", action="store_true", help="copy both runs into OUT/results/{a,b}/")
    p.set_defaults(func=cmd_ablation)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
