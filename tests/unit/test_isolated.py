"""The child-process training runner."""


def test_isolated_training_is_repeatable_in_one_job(tmp_path):
    """Regression: fastText reads uninitialised matrix memory; every run in a child must agree."""
    from tests.sagemaker_tree import labelled_lines
    from train.classifier import fit_and_score
    from train.isolated import run_isolated

    data = tmp_path / "train.txt"
    data.write_text("\n".join(line.lower().replace(".", " .") for line in labelled_lines(120, 7)) + "\n")
    args = {"epoch": 5, "lr": 0.1, "minCount": 1, "dim": 10, "bucket": 1000, "wordNgrams": 2, "thread": 1, "seed": 1}
    results = [run_isolated(fit_and_score, str(data), None, args, str(tmp_path / f"m{i}.bin")) for i in range(3)]
    assert len({r["train_accuracy"] for r in results}) == 1
    assert (tmp_path / "m0.bin").read_bytes() == (tmp_path / "m2.bin").read_bytes()


# Run in a fresh interpreter: it installs the job's SIGTERM handler, as `python -m container train` does.
_STOP_MID_TASK = """
import os, signal, sys, threading, time
from train.corpus import tokenizing_pool
from train.job import _raise_stopped

signal.signal(signal.SIGTERM, _raise_stopped)
pool = tokenizing_pool(1)
pool.apply_async(time.sleep, (5,))
time.sleep(0.5)  # the worker is inside its task
ending = threading.Thread(target=pool.terminate, daemon=True)
ending.start()
ending.join(20)
if ending.is_alive():
    for worker in pool._pool:  # the pool is ours: end its workers so nothing outlives the test
        os.kill(worker.pid, signal.SIGKILL)
    sys.exit("Pool.terminate() did not return within 20 s")
"""


def test_terminating_the_tokenizing_pool_mid_task_returns():
    """Regression: forked workers inherited the job's SIGTERM handler, whose Stopped exception the pool
    worker caught as a task failure; it then waited for a task that never came and `Pool.terminate()`
    waited for it forever (CI: `train --sample embeddings` hung after `prepare:` until its 600 s timeout)."""
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run([sys.executable, "-c", _STOP_MID_TASK], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_stop_request_is_not_an_ordinary_exception():
    """`except Exception`, in our code or a library's, must not swallow a stop request."""
    from train.isolated import Stopped

    assert issubclass(Stopped, BaseException) and not issubclass(Stopped, Exception)
