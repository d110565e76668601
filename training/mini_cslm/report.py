"""The mini-CSLM's committed board: its harness results as a leaderboard (one row per checkpoint), the paper's
two ablations as paired-bootstrap reports, and the evaluation-during-training curves, under one folder
(``board`` in the recipe, e.g. leaderboards/mini-cslm/). Rebuilt from results/ at the end of every run."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from training.mini_cslm.evals import CASCADES

log = logging.getLogger("training.mini_cslm")

# name -> (factor, label A, label B, runs of side A, runs of side B): results/<checkpoint>/<run> folders
ABLATIONS = {
    "mt_in_cpt": ("mt_in_cpt", "without MT", "with MT", ["sft-nomt/cross-zh2en"], ["sft/cross-zh2en"]),
    "chain_of_modality": ("chain", "interleaved", "full", ["sft/qa-en", "sft/long-en", "sft/latency"],
                          ["sft-full/qa-en", "sft-full/long-en", "sft-full/latency"]),
}
CURVE_STAGES = {"cpt": "cpt", "sft": "sft-interleaved"}  # curve folder name -> training output
# The board's comparison of the end-to-end models with the cascade and with the stage-0 model's text ceiling:
# checkpoint -> row name (the cascades' rows: their names in the results, evals.CASCADES)
COMPARED = {"stage0": f"{CASCADES['stage0'].label}: the text ceiling", "cascade": CASCADES["cascade"].label,
            "sft": "CSLM interleaved (sft)", "sft-full": "CSLM full chain-of-modality (sft-full)"}
QA_SETS = ("qa-en", "qa-zh", "long-en")
LATENCY_FIGURES = (("first_text_token_s", "first text token s"), ("first_audio_s", "first audio s"),
                   ("tokens_before_first_audio", "tokens before first audio"))


def target_latency(data: Path, checkpoint: Path) -> dict | None:
    """Tokens before first audio in the interleaved and full SFT targets of the same en->en dialogues, counted
    as the latency task counts the model's (up to and including the first speech chunk's last unit): the
    ratio a model that has learnt the format exactly would show, over all dialogues and over the long
    (profile) answers the latency task measures."""
    from statistics import median

    from transformers import AutoTokenizer

    from models.cslm.units import SPAN_CLOSE
    from training.mini_cslm.data import read_jsonl
    from training.world.world import PROFILE

    paths = {layout: data / f"sft-{layout}.jsonl" for layout in ("interleaved", "full")}
    if not all(p.is_file() for p in paths.values()) or not (checkpoint / "tokenizer.json").is_file():
        return None
    tok = AutoTokenizer.from_pretrained(str(checkpoint))
    kinds = {r["id"]: r.get("kind", "") for r in read_jsonl(data / "dialogues-sft.jsonl")}
    counts: dict[str, dict[str, int]] = {}
    for layout, path in paths.items():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("lang") == "en" and row.get("question_lang", "en") == "en" and SPAN_CLOSE in row["response"]:
                first = row["response"].split(SPAN_CLOSE, 1)[0]  # through the first chunk's last unit
                counts.setdefault(layout, {})[row["id"].split("-", 1)[1]] = len(
                    tok(first, add_special_tokens=False)["input_ids"])
    shared = sorted(set(counts.get("interleaved", {})) & set(counts.get("full", {})))
    if not shared:
        return None

    def ratio(ids: list[str]) -> dict:
        inter, full = (median(counts[layout][k] for k in ids) for layout in ("interleaved", "full"))
        return {"dialogues": len(ids), "interleaved_p50": inter, "full_p50": full, "ratio_p50": full / inter}

    out = {**ratio(shared), "ratio_of_p50s": "full_p50 / interleaved_p50, as the latency comparison reports p50s"}
    long = [k for k in shared if kinds.get(k) == PROFILE]
    if long:
        out["long_answers"] = ratio(long)
    return out


def run_label(folder: Path) -> str:
    """A run of the recipe on the board: its seed (mini_recipe.json), else its folder's name."""
    recipe = folder / "mini_recipe.json"
    seed = json.loads(recipe.read_text(encoding="utf-8")).get("seed") if recipe.is_file() else None
    return f"seed {seed}" if seed is not None else folder.name


def seed_runs(out: Path, others: list | tuple) -> list[Path]:
    """This run and the recipe's other runs (``board_runs``) that hold results, each once, by label."""
    found = {out.resolve(): None}
    for other in others:
        path = Path(other).resolve()
        if (path / "results").is_dir():
            found.setdefault(path, None)
    return sorted(found, key=run_label)


def build_board(out: Path, board: Path, timing: dict, targets: tuple = (), others: list | tuple = ()) -> dict:
    """Ablation reports first (the board's page lists them), then the curves, then the leaderboard itself, with
    the recipe's ``targets`` (training.mini_cslm.targets) met or missed at its top: for this run, and, when
    ``others`` (the recipe's other seeds' output folders) hold results, for each run with their spread."""
    from leaderboards.build import build
    from leaderboards.cli import main as leaderboard_cli
    from leaderboards.export import repo_root, sanitize
    from training.mini_cslm.targets import assess, markdown, markdown_runs, tally

    board.mkdir(parents=True, exist_ok=True)
    results = out / "results"
    # paths written into the board are relative to this checkout (or to the run's parent folder outside it)
    root = repo_root() if out.resolve().is_relative_to(repo_root()) else out.resolve().parent
    made = {"ablations": [], "curves": []}
    for name, (factor, label_a, label_b, side_a, side_b) in ABLATIONS.items():
        both = [(results / ra, results / rb) for ra, rb in zip(side_a, side_b)  # aligned: same task per position
                if (results / ra / "results.json").is_file() and (results / rb / "results.json").is_file()]
        if not both:  # e.g. a recipe without ablations, or eval_runs that left one side out
            log.info("ablation %s: no run on both sides; not written", name)
            shutil.rmtree(board / "ablations" / name, ignore_errors=True)  # no stale report of an older run
            continue
        a, b = [str(ra) for ra, _ in both], [str(rb) for _, rb in both]
        code = leaderboard_cli(["ablation", "--factor", factor, "--a", *a, "--b", *b, "--a-label", label_a,
                                "--b-label", label_b, "--out", str(board / "ablations" / name), "--copy-runs"])
        if code:
            raise RuntimeError(f"ablation {name}: python -m harness leaderboard ablation exited with {code}")
        made["ablations"].append(name)
    lines = []
    for name, stage in CURVE_STAGES.items():
        metrics = out / stage / "harness_eval" / "metrics.jsonl"
        if not metrics.is_file():
            continue
        dest = board / "curves" / name
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        shutil.copy2(metrics, dest / "metrics.jsonl")
        for png in sorted((metrics.parent / "curves").glob("*.png")):
            shutil.copy2(png, dest / png.name)
            lines.append(f"[{name}: {png.stem}](curves/{name}/{png.name})")
        made["curves"].append(name)
    ceiling = target_latency(out / "data", out / CURVE_STAGES["sft"])
    if ceiling:
        (board / "curves").mkdir(parents=True, exist_ok=True)
        (board / "curves" / "target_latency.json").write_text(json.dumps(ceiling, indent=2) + "\n", encoding="utf-8")
    probes = _probes(out, board)
    verdicts = assess(targets, results)
    runs = seed_runs(out, others)
    by_run = {run_label(r): assess(targets, r / "results") for r in runs}
    if targets:
        (board / "targets.json").write_text(json.dumps(by_run if len(runs) > 1 else verdicts, indent=2) + "\n",
                                            encoding="utf-8")
    else:
        (board / "targets.json").unlink(missing_ok=True)  # no stale verdicts of an older recipe
    if targets and len(runs) > 1:
        sections = ["## Targets", "", f"The recipe's `targets` in each of its {len(runs)} runs ("
                    + ", ".join(f"{label}: {tally(rows)}" for label, rows in by_run.items())
                    + "); the spread between runs is part of the result. A missed bar stays on the page with its "
                    "gap and what limits it, as measured. The tables below are this run's "
                    f"({run_label(out)}).", "", *markdown_runs(targets, by_run)]
    elif targets:
        sections = ["## Targets", "", f"{tally(verdicts)} (the recipe's `targets` on this run's held-out items; a "
                    "missed bar stays on the page with its gap and what limits it, as measured).", "",
                    *markdown(targets, verdicts)]
    else:
        sections = []
    sections += cascade_sections(results)
    sections += data_sections(out)
    minutes, summed = timing.get("seconds_all_runs", 0) / 60, timing.get("step_seconds_sum", 0) / 60
    side = f"; {summed:.0f} minutes of steps, some side by side" if summed > minutes + 0.5 else ""
    walls = []
    for r in runs if len(runs) > 1 else ():
        log_file = r / "steps.json"
        wall = json.loads(log_file.read_text(encoding="utf-8")).get("seconds_all_runs") if log_file.is_file() else None
        walls.append(f"{run_label(r)} {wall / 60:.0f} min" if wall else f"{run_label(r)} not recorded")
    side += f"; wall time per run: {', '.join(walls)}" if walls else ""
    note = (f"The mini-CSLM trained and evaluated by `make mini-cslm` (training/recipes/mini_cslm/mini_full.yaml): "
            f"{minutes:.0f} minutes of wall time on this machine, codec excluded ([timings](curves/steps.json)"
            f"{side}). Held-out sets of its synthetic world (mini-world-*), never Piper's "
            f"or BELLE's public data: not comparable with the main board's columns."
            + (f" {tally(verdicts)} ([targets.json](targets.json))." if targets else "")
            + (" Evaluation-during-training curves: " + ", ".join(lines) + "." if lines else "")
            + (_ceiling_note(ceiling) if ceiling else "")
            + (" Probes (one kind of data from a pipeline checkpoint, `python -m training mini-cslm-probe`): "
               + "; ".join(probes) + "." if probes else ""))
    (board / "curves").mkdir(parents=True, exist_ok=True)
    (board / "curves" / "steps.json").write_text(json.dumps(timing, indent=2) + "\n", encoding="utf-8")
    built = build([results], board, copy_runs=True, title="mini-CSLM board", note=note,
                  command="python -m training mini-cslm RECIPE", sections=sections)
    for path in board.rglob("*"):  # what the ablation and leaderboard commands copied, outside a checkout too
        if path.suffix in (".md", ".json", ".jsonl", ".csv", ".html"):
            text = path.read_text(encoding="utf-8")
            if sanitize(text, root) != text:
                path.write_text(sanitize(text, root), encoding="utf-8")
    made["results"] = len(built.collection.runs)
    return made


def _probes(out: Path, board: Path) -> list[str]:
    """Each finished probe (out/probes/<name>/probe.json) copied with its curves to board/probes/<name>/, and a
    line for the board's note: what it trained, from where, and its headline figures."""
    from training.mini_cslm.probe_spec import PROBE_DIR

    shutil.rmtree(board / PROBE_DIR, ignore_errors=True)  # no stale probe of an older run
    lines = []
    for path in sorted((out / PROBE_DIR).glob("*/probe.json")):
        summary = json.loads(path.read_text(encoding="utf-8"))
        spec, dest = summary["probe"], board / PROBE_DIR / path.parent.name
        dest.mkdir(parents=True)
        shutil.copy2(path, dest / "probe.json")
        for png in sorted((path.parent / "harness_eval" / "curves").glob("*.png")):
            shutil.copy2(png, dest / png.name)
        mix = ", ".join(f"{k} {v:g}" for k, v in spec["mix"].items())
        figures = [f"{data} {key} {value:.3g}" for data, metrics in summary["results"].items()
                   for key, value in metrics.items() if value is not None]
        curve = [f"{r['run']} {'/'.join(filter(None, (r.get('channel'), r['name'])))} {r['value']:.3g} at step "
                 f"{r['step']}" for r in summary["curve"]
                 if r["name"] in ("wer", "cer") or (r["name"], r.get("channel")) == ("ref_exact_match", "text")]
        lines.append(f"[{spec['name']}](probes/{spec['name']}/probe.json) from {spec['start']}, {mix}, "
                     f"{spec['max_steps']} steps: " + ", ".join(figures + curve))
    return lines


def _ceiling_note(ceiling: dict) -> str:
    def one(c: dict) -> str:
        return f"p50 {c['interleaved_p50']:g} interleaved vs {c['full_p50']:g} full, {c['ratio_p50']:.2f}x"

    long = ceiling.get("long_answers")
    return (f" Tokens before first audio in the SFT targets themselves (en->en training dialogues, counted as the "
            f"latency task counts them; the most a model that learnt the format exactly would show): all "
            f"{ceiling['dialogues']}: {one(ceiling)}"
            + (f"; the {long['dialogues']} long (profile) answers, what the latency task measures: {one(long)}"
               if long else "") + " ([target_latency.json](curves/target_latency.json)).")


def _metric(results: dict, name: str, aggregation: str | None = None, channel: str | None = None) -> dict | None:
    return next((m for m in results.get("metrics", []) if m["name"] == name and m.get("channel") == channel
                 and (aggregation is None or m["aggregation"] == aggregation)), None)


def _interval(metrics: list[dict | None]) -> str:
    """What the cells show of an interval, read from them: the promise never outruns the cells."""
    found = [m for m in metrics if m is not None and m.get("value") is not None]
    with_ci = sum(bool(m.get("ci95")) for m in found)
    if found and with_ci == len(found):
        return "[95 % bootstrap interval]"
    return ("(no interval: runs made without bootstrap resamples)" if not with_ci
            else "[95 % bootstrap interval] where its run computed one")


def _cell(m: dict | None, scale: float, digits: int) -> str:
    if m is None or m.get("value") is None:
        return "–"
    ci = m.get("ci95")
    return f"{m['value'] * scale:.{digits}f}" + (f" [{ci[0] * scale:.{digits}f}, {ci[1] * scale:.{digits}f}]" if ci else "")


def _read(results: Path, checkpoint: str, run: str) -> dict | None:
    path = results / checkpoint / run / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def cascade_sections(results: Path) -> list[str]:
    """Markdown sections setting the end-to-end models beside the cascade and the stage-0 model's own text QA on
    the same questions (its ceiling), and the cascade's latency beside the CSLM's: empty when no cascade ran."""
    if not any((results / key).is_dir() for key in CASCADES):
        return []
    out = []
    qa = {(ckpt, run): _read(results, ckpt, run) for ckpt in COMPARED for run in QA_SETS}
    sets = [run for run in QA_SETS if any(qa[(ckpt, run)] for ckpt in COMPARED)]
    if sets:
        items = {run: next(r["counts"]["samples"] for ckpt in COMPARED if (r := qa[(ckpt, run)])) for run in sets}
        head = [f"{run} ({items[run]}) {channel}" for run in sets for channel in ("text", "speech")]
        shown = [_metric(r, "ref_exact_match", "mean", ch) for r in qa.values() if r for ch in ("text", "speech")]
        out += ["## Spoken QA against the cascade and the text ceiling", "",
                f"Exact match with the reference answer, % {_interval(shown)}, on the first (n) items of each "
                "held-out set, the same for every row, scored as the `s2s_reference_qa` table scores them: the text channel, "
                "and the speech channel through the ASR judge. The stage-0 LLM reading the question's transcript is "
                "the cascade with its ASR replaced by the reference transcript: what the text model answers when it "
                "hears nothing wrong, a ceiling for the spoken figures (the CSLM starts from that model).", "",
                "| system | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
        for ckpt, label in COMPARED.items():
            found = [qa[(ckpt, run)] for run in sets]
            if not any(found):
                continue
            cells = [_cell(_metric(r, "ref_exact_match", "mean", channel) if r else None, 100, 1)
                     for r in found for channel in ("text", "speech")]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    latency = {ckpt: _read(results, ckpt, "latency") for ckpt in ("cascade", "sft", "sft-full")}
    if latency["cascade"]:
        machines = {f"{h.get('cpu', '?')}, {h.get('cpu_count', '?')} cpu" for h in (
            (r.get("latency") or {}).get("hardware") or {} for r in latency.values() if r)}
        machine = (f"the same machine ({machines.pop()})" if len(machines) == 1
                   else f"NOT the same machine ({'; '.join(sorted(machines))}): compare tokens only")
        head = [f"{label} p50" for _, label in LATENCY_FIGURES]
        shown = [_metric(r, name, "p50") for r in latency.values() if r for name, _ in LATENCY_FIGURES]
        out += ["## Latency: cascade against the CSLM", "",
                f"The `latency` task on the same held-out set (long-en: the long answers), the same items, "
                f"{machine} and warm-up; p50 "
                f"{_interval(shown)}. Both encode the question afresh in the timed request (the CSLM's speech "
                "tokenizer runs without its unit cache; the cascade runs Whisper). Where the events differ: the "
                "cascade's first text token comes after the whole question is transcribed; its first audio after the "
                "whole text answer and the whole TTS of it (Piper and espeak-ng are not streamed), and its tokens "
                "before first audio are the whole text answer (it emits no units); the CSLM's first audio is its first "
                "speech chunk through the streaming vocoder (interleaved: the first text chunk and its units; full "
                "chain-of-modality: the whole text answer and all its units).", "",
                "| system | items | " + " | ".join(head) + " |", "|---|---:|" + "---:|" * len(head)]
        for ckpt in ("cascade", "sft", "sft-full"):
            r = latency[ckpt]
            if r:
                cells = [_cell(_metric(r, name, "p50"), 1, 3 if name.endswith("_s") else 1) for name, _ in LATENCY_FIGURES]
                out.append(f"| {COMPARED[ckpt]} | {r['counts']['samples']} | " + " | ".join(cells) + " |")
        out.append("")
    return out


# Tokens per record of the stage-0 tokenizer before the fixes of 2026-12-06 (held-out text in its corpus, Chinese
# merged into whole clauses, the chat scaffold in the corpus once), measured by tokens_report on the same data files
# (the first 300 records of each; runs/mini-cslm-seed0/data): the "before" column of the data section. The same
# measurement with this tokenizer gave asr-en 93.5 (target 7.5), asr-zh 141.0 (11.1), instruct 46.6, mt 62.2.
TOKENS_BEFORE = {"asr-en": 157.7, "asr-zh": 192.8, "tts-en": 147.7, "tts-zh": 180.8, "instruct": 86.7, "mt": 113.9}
TRAINED = ("base", "cpt", "sft-interleaved", "sft-full", "cpt-nomt", "sft-nomt")


def data_sections(out: Path) -> list[str]:
    """What training read, from the data reports: the tokenizer's held-out coverage and tokens per record by kind
    (data/tokens_report.json), and per training step how many distinct records of each source it saw."""
    lines = []
    tokens = out / "data" / "tokens_report.json"
    if tokens.is_file():
        report = json.loads(tokens.read_text(encoding="utf-8"))
        cov = ", ".join(f"{lang}: {c['with_unseen_token']} of {c['heldout_strings']}"
                        for lang, c in report["heldout_coverage"].items())
        lines += ["## Data", "", f"Stage-0 tokenizer ({report['vocabulary']} tokens with the units), trained on the "
                  f"training split only, Chinese split per character: held-out strings holding a token that no "
                  f"training string has: {cov}. Tokens per record (a sample of each file; the rest is chat "
                  f"scaffold, prompt and input); before: the tokenizer of earlier runs on the same records.", "",
                  "| records | tokens per record | target tokens | other tokens | before |", "|---|---:|---:|---:|---:|"]
        for kind, k in report["per_kind"].items():
            before = TOKENS_BEFORE.get(kind, "–")
            lines.append(f"| {kind} | {k['tokens_per_record']:g} | {k['target_tokens_per_record']:g} | "
                         f"{k['other_tokens_per_record']:g} | {before} |")
        lines.append("")
    seen = []
    for stage in TRAINED:
        rep = out / stage / "data_report.json"
        if rep.is_file():
            for source, c in (json.loads(rep.read_text(encoding="utf-8")).get("seen") or {}).items():
                seen.append(f"| {stage} | {Path(source).name} | {c['records']} | {c['draws']} | {c['distinct_seen']} "
                            f"({100 * c['distinct_seen'] / max(c['records'], 1):.0f} %) |")
    if seen:
        lines += ["What each training step read: every epoch of the ratio mix is a fresh draw, so a source drawn "
                  "below its size in one epoch is seen whole over the run.", "",
                  "| step | source | records | draws | distinct records seen |", "|---|---|---:|---:|---:|", *seen, ""]
    return lines
