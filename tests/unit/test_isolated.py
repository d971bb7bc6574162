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


# Each runs in a fresh interpreter: it installs the job's SIGTERM handler, as `python -m container train`
# does, and forks; a `timeout` bounds it even if a pool waits forever.
_WORKER_SIGNALS = """
import signal
from train.corpus import tokenizing_pool
from train.job import _raise_stopped

signal.signal(signal.SIGTERM, _raise_stopped)
signal.signal(signal.SIGINT, _raise_stopped)
with tokenizing_pool(2) as pool:
    found = [pool.submit(signal.getsignal, number).result(timeout=20) for number in (signal.SIGTERM, signal.SIGINT)]
print(found == [signal.SIG_DFL, signal.SIG_IGN], found)
"""

_WORKER_DIES = """
import os, signal, sys, tempfile
from pathlib import Path
from container.errors import KindlingError
from container.tokenizer import Tokenizer
from train.corpus import prepare_corpus


class DyingTokenizer(Tokenizer):
    def tokenize(self, text):
        if "poison" in text:  # what the out-of-memory killer does to a worker
            os.kill(os.getpid(), signal.SIGKILL)
        return super().tokenize(text)


with tempfile.TemporaryDirectory() as scratch:
    corpus = Path(scratch, "in.txt")
    corpus.write_text("plain words here\\n" * 200000 + "poison\\n" + "more words\\n" * 200000)
    try:
        prepare_corpus([corpus], Path(scratch, "out"), DyingTokenizer(), processes=2)
    except KindlingError as exc:
        print(exc.code, exc)
"""


def _run_script(script: str):
    import subprocess
    import sys
    from pathlib import Path

    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])


def test_tokenizer_workers_leave_stopping_to_the_job():
    """Regression: forked workers inherited the job's SIGTERM handler; when multiprocessing.Pool's
    terminate() signalled a worker still finishing a batch, the worker caught the Stopped exception as a
    task failure and waited for a next task, and terminate() waited for it forever (CI: `train --sample
    embeddings` hung after `prepare:` until its 600 s timeout; 2 of 102 runs here)."""
    result = _run_script(_WORKER_SIGNALS)
    assert result.returncode == 0 and result.stdout.startswith("True"), result.stdout + result.stderr[-2000:]


def test_a_tokenizer_process_that_dies_is_an_error_not_a_hang():
    """multiprocessing.Pool replaced a killed worker and waited forever for its batch."""
    result = _run_script(_WORKER_DIES)
    assert result.stdout.startswith("prepare_crashed A tokenizer process died"), result.stdout + result.stderr[-2000:]


def test_a_stop_request_is_not_an_ordinary_exception():
    """`except Exception`, in our code or a library's, must not swallow a stop request."""
    from train.isolated import Stopped

    assert issubclass(Stopped, BaseException) and not issubclass(Stopped, Exception)


def _raises(kind):
    from container.errors import KindlingError

    if kind == "memory":
        raise MemoryError("std::bad_alloc")
    raise KindlingError("a sentence", code="line_too_long", hint="a hint")


def test_a_child_memory_error_names_what_to_lower_and_kindling_errors_pass_through_whole():
    import pytest

    from container.errors import KindlingError
    from train.isolated import run_isolated

    with pytest.raises(KindlingError) as info:
        run_isolated(_raises, "memory", start_method="fork")
    assert info.value.code == "out_of_memory" and "ran out of memory (MemoryError: std::bad_alloc)" in info.value.message
    assert "Lower buckets or vector_dim" in info.value.hint
    with pytest.raises(KindlingError) as info:
        run_isolated(_raises, "sentence", start_method="fork", what="Preparing the 'train' channel")
    assert (info.value.message, info.value.code, info.value.hint) == ("a sentence", "line_too_long", "a hint")
