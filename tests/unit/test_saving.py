"""fastText's save ignores write errors; save_checked does not (issue 18: a full /opt/ml/model kept a
truncated model.bin). A file-size limit (RLIMIT_FSIZE: writes past it fail with EFBIG) stands in for a
full disk, in a child process so the test run itself is not limited."""


from container.errors import KindlingError


def _save_under_a_size_limit(directory: str) -> dict:
    import resource
    import signal
    from pathlib import Path

    from tests.sagemaker_tree import labelled_lines
    from train.isolated import zero_filled_allocations
    from train.saving import save_checked

    zero_filled_allocations()
    import fasttext

    data = Path(directory) / "t.txt"
    data.write_text("\n".join(line.lower() for line in labelled_lines(300, 1)) + "\n")
    model = fasttext.train_supervised(str(data), dim=10, bucket=100_000, wordNgrams=2, lr=0.1, thread=1, verbose=0)
    full = save_checked(model.save_model, Path(directory) / "full.bin")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.RLIM_INFINITY))
    model.save_model(str(Path(directory) / "plain.bin"))  # what fastText does on its own: no error
    try:
        save_checked(model.save_model, Path(directory) / "checked.bin")
        checked = "saved"
    except KindlingError as exc:
        checked = exc.message
    return {"full": full, "plain": (Path(directory) / "plain.bin").stat().st_size, "checked": checked}


def test_a_failed_model_write_is_an_error_naming_the_path(tmp_path):
    from train.isolated import run_isolated

    result = run_isolated(_save_under_a_size_limit, str(tmp_path), start_method="fork")
    assert result["full"] > 4_000_000  # 100,000 buckets x 10 dims x 4 bytes
    assert result["plain"] == 1 << 20, "fastText's own save is expected to truncate silently"
    assert result["checked"].startswith(f"Cannot write {tmp_path / 'checked.bin'}: File too large (")
    assert "MB free of" in result["checked"]
