"""Sorted runs: whatever the budget, the merged stream is the sorted, reduced table, in whole groups."""

from collections import Counter

import numpy as np
import pytest

from train.sorted_runs import RunWriter, merge, reduce, rows, save_array, spilling

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


def test_save_array_writes_np_saves_bytes(tmp_path):
    for array in (np.arange(10, dtype=np.uint64), np.zeros(0, dtype=np.int32), np.arange(12.0)[::2],
                  np.frombuffer(b"abc", dtype=np.uint8)):
        np.save(tmp_path / "numpy.npy", array)
        save_array(tmp_path / "ours.npy", array)
        assert (tmp_path / "ours.npy").read_bytes() == (tmp_path / "numpy.npy").read_bytes()


REFUSED_WRITE = """
import resource, signal, sys
import numpy as np
from train.sorted_runs import disk_full, save_array
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the kernel refuses the write (EFBIG) instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
big = np.zeros(1 << 17)
try:
    np.save(sys.argv[1] + "/numpy.npy", big)
except OSError as exc:
    print("numpy", exc.errno, disk_full(exc), exc)
try:
    save_array(sys.argv[1] + "/ours.npy", big)
except OSError as exc:
    print("ours", exc.errno, disk_full(exc), exc.filename)
"""


def test_a_refused_write_is_a_full_disk_with_or_without_numpys_errno(tmp_path):
    """A file system that takes only part of a write (here: a file size limit; a full disk alike): numpy's tofile
    says "N requested and M written" without an errno, save_array keeps the errno and names the file, and
    disk_full recognises both (a real refusal by the kernel, in a child process)."""
    import errno
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", REFUSED_WRITE, str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout + result.stderr
    assert lines[0].startswith("numpy None True ") and "requested and" in lines[0]
    assert lines[1] == f"ours {errno.EFBIG} True {tmp_path}/ours.npy"


def test_spilling_names_the_build_folder_and_leaves_other_folders_to_their_handlers(tmp_path):
    import errno

    from container.errors import KindlingError

    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "work" / "counts-00001" / "count.npy"))
    with pytest.raises(KindlingError) as caught, spilling(tmp_path / "work", "set TMPDIR elsewhere"):
        raise full
    assert caught.value.code == "write_failed" and "counts-00001/count.npy: No space left on device" in str(caught.value)
    assert f"sorted runs in {tmp_path / 'work'}: set TMPDIR elsewhere." in caught.value.hint
    with pytest.raises(KindlingError) as caught, spilling(tmp_path, "more room"):
        raise OSError("1048576 requested and 131056 written")
    assert "took only part of a write (1048576 requested and 131056 written)" in caught.value.message
    elsewhere = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "model" / "kb" / "x.npy"))
    for other in (elsewhere, OSError(errno.EACCES, "Permission denied"), OSError("something else")):
        with pytest.raises(OSError) as raised, spilling(tmp_path / "work", "more room"):
            raise other
        assert raised.value is other
