"""Sorted runs: whatever the budget, the merged stream is the sorted, reduced table, in whole groups."""

from collections import Counter

import numpy as np
import pytest

from train.sorted_runs import RunWriter, merge, reduce, rows

COLUMNS = ["anchor", "entity", "count"]


def random_batches(seed: int, batches: int, size: int, anchors: int = 50, entities: int = 30):
    rng = np.random.default_rng(seed)
    return [{"anchor": rng.integers(0, anchors, size, dtype=np.uint64) * np.uint64(2 ** 60 // anchors),
             "entity": rng.integers(0, entities, size).astype(np.int32), "count": rng.integers(1, 4, size)}
            for _ in range(batches)]


def merged(tmp_path, batches, budget, keys=("anchor", "entity"), total="count", merge_budget=1):
    writer = RunWriter(tmp_path, "counts", keys, total, budget)
    for batch in batches:
        writer.add(batch)
    runs = writer.finish()
    return runs, list(merge(runs, COLUMNS if total else list(keys), keys, total, merge_budget))


@pytest.mark.parametrize("budget", [1, 10_000, 1 << 30])
def test_merge_sums_equal_keys_in_key_order_for_any_budget(tmp_path, budget):
    batches = random_batches(1, 20, 3000)
    runs, out = merged(tmp_path, batches, budget)
    expected = Counter()
    for batch in batches:
        for a, e, c in zip(*(batch[k].tolist() for k in COLUMNS)):
            expected[a, e] += c
    got = [(a, e, c) for b in out for a, e, c in zip(*(b[k].tolist() for k in COLUMNS))]
    assert got == sorted((a, e, c) for (a, e), c in expected.items())
    assert (len(runs) > 1) == (budget < 1 << 30)


def test_every_group_of_the_first_key_arrives_in_one_batch(tmp_path):
    batches = random_batches(2, 12, 8000, anchors=2, entities=10**6)  # groups far larger than a merge chunk (1024 rows)
    _, out = merged(tmp_path, batches, budget=20_000)
    assert len(out) > 1
    firsts = [set(b["anchor"].tolist()) for b in out]
    assert sum(map(len, firsts)) == len(set().union(*firsts))


def test_dedupe_keeps_each_pair_once(tmp_path):
    rng = np.random.default_rng(3)
    batches = [{"entity": rng.integers(0, 40, 500).astype(np.int32), "source": rng.integers(0, 9, 500).astype(np.int32)}
               for _ in range(10)]
    writer = RunWriter(tmp_path, "inlinks", ("entity", "source"), None, budget=2000)
    for batch in batches:
        writer.add(batch)
    out = list(merge(writer.finish(), ["entity", "source"], ("entity", "source"), None, budget=1))
    got = [pair for b in out for pair in zip(b["entity"].tolist(), b["source"].tolist())]
    expected = sorted({pair for b in batches for pair in zip(b["entity"].tolist(), b["source"].tolist())})
    assert got == expected


def test_nothing_written_gives_nothing(tmp_path):
    writer = RunWriter(tmp_path, "empty", ("anchor",), None, 10)
    writer.add({"anchor": np.zeros(0, dtype=np.uint64)})
    assert writer.finish() == [] and list(merge([], ["anchor"], ("anchor",), None)) == []
    assert rows(reduce({"anchor": np.zeros(0, dtype=np.uint64)}, ("anchor",), None)) == 0
