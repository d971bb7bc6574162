import logging
import os

from train.progress import line_progress


def test_carriage_return_progress_becomes_log_lines(caplog):
    with caplog.at_level(logging.INFO, logger="fasttext"):
        with line_progress(interval=3600):
            os.write(2, b"Read 0M words\nNumber of labels: 2\n")
            os.write(2, b"\rProgress:  10.0% lr: 0.1\rProgress:  50.0% lr: 0.05\rProgress: 100.0% lr: 0.0\n")
    messages = [r.getMessage() for r in caplog.records if r.name == "fasttext"]
    assert messages[:2] == ["Read 0M words", "Number of labels: 2"]
    # the first progress line is shown at once, the middle ones are throttled, the last always
    assert messages[2:] == ["Progress: 10.0% lr: 0.1", "Progress: 100.0% lr: 0.0"]
    assert all("\r" not in m for m in messages)

