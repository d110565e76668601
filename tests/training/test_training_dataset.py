"""The ratio mixer: every epoch a fresh draw, so over training every record of every source is seen in
proportion; held-out examples never reach training; the report says what training saw."""
import json
from collections import Counter

import numpy as np

from training.dataset import (
    PlannedExamples,
    Schedule,
    TokenizedExamples,
    build_examples,
    mix_counts,
    plan_epochs,
)
from training.packing import PackedDataset


def test_each_epoch_draws_afresh_and_every_record_is_seen_in_proportion():
    sizes, ratios = [400, 100, 100], [0.3, 0.4, 0.3]
    counts = mix_counts(sizes, ratios, None)  # largest mix without repeats: the second source sets it
    assert counts == [75, 100, 75]  # the first and last are under-drawn in any one epoch
    epochs = plan_epochs(sizes, counts, 8, seed=0)
    assert [len(e) for e in epochs] == [sum(counts)] * 8
    assert not np.array_equal(np.sort(epochs[0]), np.sort(epochs[1]))  # not one subset looped over
    draws = Counter(np.concatenate(epochs).tolist())
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    for i, (n, c) in enumerate(zip(sizes, counts)):
        mine = [draws[j] for j in range(offsets[i], offsets[i + 1])]
        lo, hi = (8 * c) // n, -(-8 * c // n)
        assert min(mine) >= lo and max(mine) <= hi and min(mine) >= 1, (i, lo, hi, min(mine), max(mine))
    # the share of each source per epoch is its ratio (as mix_counts set it)
    for e in epochs:
        per = np.searchsorted(offsets, e, side="right") - 1
        assert np.bincount(per, minlength=3).tolist() == counts


def test_the_old_fixed_subset_would_fail_this():
    """With one draw before training (the defect), 10 epochs of a cpt-like mix saw about 1 in 10 records of the
    big source; 10 fresh epochs draw 430 of it: all 400 records."""
    sizes, counts = [400, 100], mix_counts([400, 100], [0.3, 0.7], None)
    assert counts == [43, 99]
    seen = set(np.concatenate(plan_epochs(sizes, counts, 10, seed=1)).tolist())
    assert seen == set(range(500))
    one_epoch = set(plan_epochs(sizes, counts, 1, seed=1)[0].tolist())
    assert len(one_epoch & set(range(400))) == counts[0] < 400


class _Encoder:
    """Stands in for ChatEncoder at the record level: the record's tokens are its number."""

    def encode(self, rec):
        n = rec["n"]
        return {"input_ids": [n, n + 1, n + 2], "labels": [-100, n + 1, n + 2]}


def _source(path, start, count):
    path.write_text("".join(json.dumps({"n": start + i}) + "\n" for i in range(count)))
    return str(path)


def test_build_examples_holds_out_eval_and_plans_epochs_for_the_schedule(tmp_path):
    a, b = _source(tmp_path / "a.jsonl", 0, 60), _source(tmp_path / "b.jsonl", 1000, 20)
    mixed = build_examples([(a, 0.5), (b, 0.5)], _Encoder(), mix_size=None, eval_size=8, seed=0,
                           schedule=Schedule(rows=200))
    held = {mixed.eval[i]["input_ids"][0] for i in range(len(mixed.eval))}
    assert len(held) == 8 and {n >= 1000 for n in held} == {True, False}  # drawn from both sources by ratio
    trained = {mixed.train[i]["input_ids"][0] for i in range(len(mixed.train))}
    assert not held & trained  # held out of training
    assert trained == (set(range(60)) | set(range(1000, 1020))) - held  # every other record seen
    rep = mixed.report
    assert rep["mix"] == {a: 16, b: 16} and rep["epochs_planned"] == 7 and len(mixed.train) == 7 * 32 >= 200
    assert rep["planned"][a] == {"records": 56, "draws": 112, "distinct_seen": 56}
    assert rep["planned"][b] == {"records": 16, "draws": 112, "distinct_seen": 16}
    # reading only the first epoch reaches 16 of the 56 records of a
    assert mixed.train.seen(range(32))[a]["distinct_seen"] == 16
    mixed.train.save(tmp_path)
    again = PlannedExamples.load(tmp_path)
    assert again.seen(range(len(again))) == rep["planned"] and again[5] == mixed.train[5]


def test_packing_keeps_the_planned_epochs_in_order():
    pool = TokenizedExamples.from_lists([{"input_ids": [i] * (1 + i % 5), "labels": [i] * (1 + i % 5)}
                                         for i in range(40)])
    sizes, counts = [30, 10], [15, 10]
    plan = PlannedExamples.from_epochs(pool, plan_epochs(sizes, counts, 3, seed=0),
                                       np.repeat([0, 1], sizes), ["a", "b"])
    ds = PackedDataset(plan, plan.lengths().tolist(), 8, seed=0, groups=plan.epochs())
    epoch_of = np.repeat(np.arange(3), 25)
    row_epochs = [sorted({int(epoch_of[j]) for j in b}) for b in ds.bins]
    assert all(len(e) == 1 for e in row_epochs)  # no row mixes two epochs
    assert [e[0] for e in row_epochs] == sorted(e[0] for e in row_epochs)  # epochs in order
    assert sorted(ds.positions(range(len(ds)))) == list(range(75))  # every planned draw packed once
