"""`docker run -v TREE:/opt/ml IMAGE train`: the training contract through the real image."""

import json
import re

from tests.image.docker import IMAGE, docker, run_image
from tests.sagemaker_tree import FAST_HYPERPARAMETERS, make_tree, open_permissions


def tree_at(tmp_path, **kwargs):
    root = make_tree(tmp_path / "ml", **kwargs)
    open_permissions(root)
    return root


def test_train_writes_bundle_and_logs_metrics(image_bundle):
    paths, result = image_bundle
    assert sorted(p.name for p in paths.model.iterdir()) == ["eval.json", "manifest.json", "model.bin"]
    manifest = json.loads((paths.model / "manifest.json").read_text())
    assert manifest["tasks"]["classification"]["metrics"]["validation_accuracy"] >= 0.9
    assert "#train_accuracy: " in result.stdout and "#validation_accuracy: " in result.stdout
    assert "\r" not in result.stdout + result.stderr
    assert not paths.failure.exists()


def test_no_command_trains_when_a_config_exists(tmp_path):
    root = tree_at(tmp_path)
    result = run_image(volumes={root: "/opt/ml"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "#validation_accuracy: " in result.stdout and (root / "model" / "model.bin").is_file()


def test_bad_hyperparameters_fail_and_leave_the_model_dir_alone(tmp_path):
    root = tree_at(tmp_path, hyperparameters={**FAST_HYPERPARAMETERS, "epochs": "ten", "colour": "blue"})
    (root / "model" / "model.bin").write_bytes(b"the previous model")
    open_permissions(root)
    result = run_image("train", volumes={root: "/opt/ml"})
    assert result.returncode != 0
    failure = (root / "output" / "failure").read_text()
    assert "epochs='ten' is not a whole number" in failure and "'colour' is not a hyperparameter" in failure
    assert "Traceback" not in failure
    assert [p.name for p in (root / "model").iterdir()] == ["model.bin"]
    assert (root / "model" / "model.bin").read_bytes() == b"the previous model"
    assert "epochs='ten'" in result.stdout  # the reason is in the log too (CloudWatch / awslogs)


def test_training_as_non_root_users(tmp_path):
    for name, user in (("named", "kindling"), ("arbitrary", "4321:4321")):
        root = tree_at(tmp_path / name)
        result = run_image("train", volumes={root: "/opt/ml"}, user=user)
        assert result.returncode == 0, f"--user {user}: {result.stdout}{result.stderr}"
        assert (root / "model" / "manifest.json").is_file()


def test_train_on_the_baked_in_sample(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    model.chmod(0o777)
    result = run_image("train", "--sample", volumes={model: "/opt/ml/model"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Number of train examples: 160" in result.stdout
    assert "#validation_accuracy: " in result.stdout and (model / "model.bin").is_file()


def test_help_and_unknown_command():
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" in run_image("help").stdout
    result = run_image("fit")
    assert result.returncode == 2 and "unknown command 'fit'" in result.stderr and "usage:" in result.stderr


def test_early_stopping_stops_and_says_why(tmp_path):
    root = tree_at(tmp_path, hyperparameters={**FAST_HYPERPARAMETERS, "early_stopping": "True", "epochs": "30",
                                              "min_epochs": "2", "patience": "2"})
    result = run_image("train", volumes={root: "/opt/ml"})
    assert result.returncode == 0, result.stdout + result.stderr
    stopped = re.search(r"early stopping after (\d+) epochs: validation accuracy has not improved for 2 epoch\(s\)",
                        result.stdout)
    assert stopped and int(stopped.group(1)) < 30
    assert "#validation_f1: " in result.stdout and (root / "model" / "eval.json").is_file()


def test_quantized_sample_model_is_5x_smaller_within_002_accuracy(tmp_path):
    model, config = tmp_path / "model", tmp_path / "hyperparameters.json"
    model.mkdir()
    model.chmod(0o777)
    sample = json.loads(docker("run", "--rm", "--entrypoint", "cat", IMAGE,
                               "/opt/kindling/sample/input/config/hyperparameters.json").stdout)
    config.write_text(json.dumps({**sample, "quantize": "true", "threads": "1", "seed": "1"}))  # deterministic
    result = run_image("train", "--sample", volumes={
        model: "/opt/ml/model", config: "/opt/kindling/sample/input/config/hyperparameters.json:ro"})
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((model / "manifest.json").read_text())["tasks"]["classification"]["metrics"]["quantization"]
    assert report["bytes_before"] / report["bytes_after"] >= 5, report
    assert abs(report["accuracy_before"] - report["accuracy_after"]) <= 0.02, report
    assert "quantized: " in result.stdout
    print("quantization:", report)
