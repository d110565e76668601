"""Copy runs' results.json + samples.jsonl next to a committed page, without this machine's paths.

Committed pages must link to samples that exist in the repository (runs/ is ignored by git), and
must not carry absolute paths: every occurrence of the repository root (and of its parent, e.g. a
shared data folder beside the checkout) is rewritten relative to the repository root.
"""
from __future__ import annotations

import json
from pathlib import Path

from harness.paths import safe_name
from leaderboards.collect import Run


def repo_root(start: Path | None = None) -> Path:
    """The folder holding pyproject.toml above ``start`` (default: this package's checkout)."""
    here = Path(start or Path(__file__)).resolve()
    for folder in [here, *here.parents]:
        if (folder / "pyproject.toml").is_file():
            return folder
    return Path.cwd().resolve()


def sanitize(text: str, root: Path) -> str:
    """Absolute paths under root (or its parent) become relative to root; JSON-escaped forms too."""
    for prefix, repl in ((f"{root}/", ""), (f"{root.parent}/", "../"), (str(root), ".")):
        text = text.replace(prefix, repl)
    return text


def export_runs(runs: list[Run], dest: Path, root: Path | None = None) -> list[Path]:
    """Copy each run into dest/<run folder name>/ (sanitized); returns the new results.json paths.

    dest is emptied first so that a rebuild never leaves stale runs behind; the runs may be dest's own copies.
    """
    root = root or repo_root()
    dest = Path(dest)
    # read every sample file before dest is emptied: the runs may be dest's own copies (a page rebuilt in place)
    samples = {id(run): run.samples_path.read_text(encoding="utf-8") if run.samples_path.is_file() else None
               for run in runs}
    if dest.exists():
        for old in sorted(dest.glob("*/*"), reverse=True):
            if old.name in ("results.json", "samples.jsonl"):
                old.unlink()
        for folder in dest.iterdir():
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    out, used = [], set()
    # runs laid out as <group>/<run> (the mini-CSLM's results/<checkpoint>/<task>) share run names: those are
    # named <group>--<run>, so a copy says which checkpoint it belongs to
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.dir.name] = counts.get(run.dir.name, 0) + 1
    for run in runs:
        shared = counts[run.dir.name] > 1 and run.dir.parent.name
        name = safe_name(f"{run.dir.parent.name}--{run.dir.name}" if shared else run.dir.name)
        base, k = name, 2
        while name in used:
            name, k = f"{base}-{k}", k + 1
        used.add(name)
        folder = dest / name
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(run.results, indent=2, ensure_ascii=False) + "\n"
        (folder / "results.json").write_text(sanitize(text, root), encoding="utf-8")
        if samples[id(run)] is not None:
            (folder / "samples.jsonl").write_text(sanitize(samples[id(run)], root), encoding="utf-8")
        out.append(folder / "results.json")
    return out
