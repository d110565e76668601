"""From recipe data sources to tokenized examples: read, mix by ratio, encode, cache.

Records are read line by line so a bad line becomes a counted problem naming ``file:line``. The
tokenized examples are stored as flat int32 arrays (one cache file per data/tokenizer/length setting),
so every rank of a multi-node run memory-maps what rank 0 built instead of tokenizing again.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from training.chat import ChatEncoder, RecordError


@dataclass(frozen=True)
class Problem:
    source: str   # file:line
    code: str     # counted reason: json, format, turns, empty, too_long, no_target, template, ...
    reason: str   # what is wrong


@dataclass
class Report:
    """What was kept and what was refused, by reason, with the first problems listed in full."""
    kept: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        self.refused[problem.code] += 1
        self.problems.append(problem)

    def to_dict(self, max_listed: int = 200) -> dict[str, Any]:
        return {"kept": dict(self.kept), "refused": dict(self.refused),
                "problems": [p.__dict__ for p in self.problems[:max_listed]],
                "problems_not_listed": max(0, len(self.problems) - max_listed)}


def read_records(path: str | Path, report: Report) -> list[tuple[str, dict[str, Any]]]:
    """(source, record) pairs from JSONL (one object a line) or a JSON list."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist; build it with `python -m training "
                                f"build-cpt` / `build-sft` or fix the recipe's data paths")
    text = path.read_text(encoding="utf-8")
    out: list[tuple[str, dict[str, Any]]] = []
    if path.suffix == ".json" and text.lstrip().startswith("["):
        for i, rec in enumerate(json.loads(text)):
            out.append((f"{path}:[{i}]", rec))
        return out
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            report.add(Problem(where, "json", f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(rec, dict):
            report.add(Problem(where, "format", "expected a JSON object"))
            continue
        out.append((where, rec))
    return out


def mix_counts(sizes: Sequence[int], ratios: Sequence[float], mix_size: int | None) -> list[int]:
    """How many examples each source contributes. Without ``mix_size`` the mix is the largest one in
    which no source repeats (the scarcest source, relative to its ratio, is used exactly once)."""
    shares = [r / sum(ratios) for r in ratios]
    if mix_size is None:
        mix_size = int(min(n / s for n, s in zip(sizes, shares)))
    counts = [int(math.floor(mix_size * s)) for s in shares]
    for i in sorted(range(len(counts)), key=lambda i: -(mix_size * shares[i] - counts[i])):
        if sum(counts) >= mix_size:
            break
        counts[i] += 1  # largest remainders first, so the counts sum to mix_size
    return counts


def plan_epochs(sizes: Sequence[int], counts: Sequence[int], epochs: int, seed: int) -> list[np.ndarray]:
    """Each epoch's draws, made afresh: source i gives ``counts[i]`` records per epoch, read in turn from an
    endless stream of shuffled passes over its records, so over ``epochs`` epochs every record is drawn
    floor or ceil(epochs x count / size) times: in proportion. (One subset drawn before training and looped
    over every epoch left the rest of a scarce-ratio source unseen for the whole run.) Indices are into the
    sources concatenated in order; each epoch is shuffled."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    streams = []
    for i, (n, c) in enumerate(zip(sizes, counts)):
        passes = -(-epochs * c // n) if n else 0
        streams.append(np.concatenate([offsets[i] + rng.permutation(n) for _ in range(passes)]) if passes
                       else np.zeros(0, dtype=np.int64))
    out = []
    for e in range(epochs):
        epoch = np.concatenate([st[e * c:(e + 1) * c] for st, c in zip(streams, counts)])
        out.append(epoch[rng.permutation(len(epoch))])
    return out


class TokenizedExamples:
    """Examples as flat int32 arrays; ``ex[i]`` is {'input_ids': [...], 'labels': [...]}."""

    def __init__(self, ids: np.ndarray, labels: np.ndarray, offsets: np.ndarray):
        self.ids, self.labels, self.offsets = ids, labels, offsets

    @classmethod
    def from_lists(cls, examples: list[dict[str, list[int]]]) -> "TokenizedExamples":
        lengths = np.array([len(e["input_ids"]) for e in examples], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        ids = np.fromiter((t for e in examples for t in e["input_ids"]), dtype=np.int32, count=int(offsets[-1]))
        labels = np.fromiter((t for e in examples for t in e["labels"]), dtype=np.int32, count=int(offsets[-1]))
        return cls(ids, labels, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return {"input_ids": self.ids[a:b].tolist(), "labels": self.labels[a:b].tolist()}

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, ids=self.ids, labels=self.labels, offsets=self.offsets)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "TokenizedExamples":
        z = np.load(path)
        return cls(z["ids"], z["labels"], z["offsets"])


_ENCODER: ChatEncoder | None = None


def _init_worker(encoder: ChatEncoder) -> None:
    global _ENCODER
    _ENCODER = encoder


def _encode_one(item: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, list[int]] | Problem]:
    where, rec = item
    try:
        return where, _ENCODER.encode(rec)
    except RecordError as exc:
        return where, Problem(where, exc.code, str(exc))


def encode_records(items: list[tuple[str, dict[str, Any]]], encoder: ChatEncoder, report: Report,
                   num_proc: int = 1) -> list[dict[str, list[int]]]:
    if num_proc > 1 and len(items) > 1000:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(num_proc, _init_worker, (encoder,)) as pool:
            results = pool.map(_encode_one, items, chunksize=256)
    else:
        _init_worker(encoder)
        results = [_encode_one(item) for item in items]
    examples = []
    for _where, res in results:
        if isinstance(res, Problem):
            report.add(res)
        else:
            examples.append(res)
    return examples


class PlannedExamples:
    """The training order over a pool of examples (every usable record of every source, once): the epochs of
    ``plan_epochs`` one after the other. Read it in order (the Trainer's sequential sampler): each epoch is
    already shuffled, and reading in order lets ``seen`` say exactly which records training reached."""

    def __init__(self, pool: TokenizedExamples, order: np.ndarray, epoch_starts: np.ndarray,
                 source_of: np.ndarray, sources: list[str]):
        self.pool, self.order, self.epoch_starts = pool, order, epoch_starts
        self.source_of, self.sources = source_of, sources  # pool index -> source number; source names

    @classmethod
    def from_epochs(cls, pool: TokenizedExamples, epochs: list[np.ndarray], source_of: np.ndarray,
                    sources: list[str]) -> "PlannedExamples":
        starts = np.concatenate(([0], np.cumsum([len(e) for e in epochs]))).astype(np.int64)
        return cls(pool, np.concatenate(epochs).astype(np.int64), starts, source_of, sources)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.pool[int(self.order[i])]

    def lengths(self) -> np.ndarray:
        return self.pool.lengths()[self.order]

    def epochs(self) -> list[range]:
        """Positions of each epoch (packing packs each epoch on its own, so epochs stay in order)."""
        return [range(int(a), int(b)) for a, b in zip(self.epoch_starts, self.epoch_starts[1:])]

    def seen(self, positions: Sequence[int] | np.ndarray) -> dict[str, dict[str, int]]:
        """Per source: its records, the draws at ``positions`` (the examples training read) and how many
        distinct records those were."""
        picked = self.order[np.asarray(positions, dtype=np.int64)]
        out = {}
        for i, name in enumerate(self.sources):
            mine = picked[self.source_of[picked] == i]
            out[name] = {"records": int(np.sum(self.source_of == i)), "draws": int(len(mine)),
                         "distinct_seen": int(len(np.unique(mine)))}
        return out

    def save(self, folder: Path) -> None:
        self.pool.save(folder / "pool.npz")
        tmp = folder / "plan.tmp.npz"
        np.savez(tmp, order=self.order, epoch_starts=self.epoch_starts, source_of=self.source_of,
                 sources=np.array(self.sources))
        tmp.replace(folder / "plan.npz")

    @classmethod
    def load(cls, folder: Path) -> "PlannedExamples":
        z = np.load(folder / "plan.npz")
        return cls(TokenizedExamples.load(folder / "pool.npz"), z["order"], z["epoch_starts"], z["source_of"],
                   [str(x) for x in z["sources"]])


@dataclass(frozen=True)
class Schedule:
    """How much training will read, to plan that many epochs of fresh draws."""
    rows: int | None = None          # rows the Trainer will read (max_steps x batch x accumulation x ranks)
    epochs: int = 1                  # without ``rows``: mixed epochs to plan (ceil of num_train_epochs)
    pack_length: int | None = None   # rows are packed bins of this many tokens (None: one example a row)

    def epochs_for(self, first_epoch_lengths: Sequence[int]) -> int:
        if self.rows is None:
            return self.epochs
        if self.pack_length is None:
            per_epoch = len(first_epoch_lengths)
        else:
            from training.packing import pack_bins

            per_epoch = len(pack_bins(first_epoch_lengths, self.pack_length))
        # +1 when packing: bins per epoch vary a little with the draw
        return max(1, -(-self.rows // max(1, per_epoch)) + (self.pack_length is not None))


@dataclass(frozen=True)
class MixedData:
    train: PlannedExamples
    eval: TokenizedExamples | None
    report: dict[str, Any]


def cache_key(paths: Sequence[str], parts: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for p in paths:
        st = Path(p).stat()
        h.update(f"{Path(p).resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def build_examples(sources: Sequence[tuple[str, float]], encoder: ChatEncoder, *, mix_size: int | None,
                   eval_size: int, seed: int, num_proc: int = 1, schedule: Schedule = Schedule()) -> MixedData:
    """Read every source and encode it; hold out ``eval_size`` examples (drawn from the sources by ratio, never
    trained on); then plan the training epochs, each a fresh draw by ratio (``plan_epochs``)."""
    report = Report()
    per_source: list[list[dict[str, list[int]]]] = []
    for path, _ratio in sources:
        before = sum(report.refused.values())
        examples = encode_records(read_records(path, report), encoder, report, num_proc)
        report.kept[str(path)] = len(examples)
        if not examples:
            raise ValueError(f"data source {path} has no usable example "
                             f"({sum(report.refused.values()) - before} refused; see the data report)")
        per_source.append(examples)
    ratios = [r for _, r in sources]
    rng = random.Random(seed)
    evals: list[dict[str, list[int]]] = []
    if eval_size:
        total = sum(len(e) for e in per_source)
        if eval_size >= total:
            raise ValueError(f"eval_size {eval_size} leaves nothing to train on ({total} usable examples)")
        for (path, _), examples, n in zip(sources, per_source, mix_counts([len(e) for e in per_source], ratios, eval_size)):
            if n >= len(examples):
                raise ValueError(f"eval_size {eval_size} would hold out all {len(examples)} examples of {path}; "
                                 f"lower eval_size")
            picked = set(rng.sample(range(len(examples)), n))
            evals += [examples[i] for i in sorted(picked)]
            examples[:] = [ex for i, ex in enumerate(examples) if i not in picked]
        rng.shuffle(evals)
    sizes = [len(e) for e in per_source]
    counts = mix_counts(sizes, ratios, mix_size)
    first = plan_epochs(sizes, counts, 1, seed)[0]
    pool = TokenizedExamples.from_lists([ex for examples in per_source for ex in examples])
    epochs = schedule.epochs_for(pool.lengths()[first].tolist())
    source_of = np.repeat(np.arange(len(sizes)), sizes)
    names = [str(p) for p, _ in sources]
    train = PlannedExamples.from_epochs(pool, plan_epochs(sizes, counts, epochs, seed), source_of, names)
    labelled = pool.labels != -100
    target_tokens = np.add.reduceat(labelled, pool.offsets[:-1]) if len(pool) else np.zeros(0)
    summary = {**report.to_dict(), "mix": dict(zip(names, counts)), "epochs_planned": epochs,
               "planned": train.seen(np.arange(len(train))),
               "train_examples": len(train), "eval_examples": len(evals),
               "train_tokens": int(train.lengths().sum()),
               "train_target_tokens": int(target_tokens[train.order].sum())}
    return MixedData(train, TokenizedExamples.from_lists(evals) if evals else None, summary)
