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
