"""MLflow tracking against a local file store: a run with its parameters, metrics and bundle files."""

import pytest

from container.paths import Paths
from tests.sagemaker_tree import FAST_HYPERPARAMETERS, make_tree
from train.job import run

pytestmark = pytest.mark.contract


def test_a_training_run_appears_in_mlflow_with_parameters_and_metrics(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    store = f"file://{tmp_path / 'mlruns'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks file stores to opt in
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "kindling-tests")
    root = make_tree(tmp_path / "ml", {**FAST_HYPERPARAMETERS, "early_stopping": "true", "min_epochs": "2",
                                       "epochs": "4", "patience": "1"})
    assert run(Paths(base=root, input=root / "input")) == 0
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("kindling-tests")
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.status == "FINISHED"
    assert found.data.params["mode"] == "supervised" and found.data.params["epochs"] == "4"
    assert 0.9 <= found.data.metrics["validation_accuracy"] <= 1.0 and "train_accuracy" in found.data.metrics
    history = client.get_metric_history(found.info.run_id, "candidate_validation_accuracy")
    assert [m.step for m in history][:2] == [2, 3]  # one value per early-stopping candidate
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"eval.json", "manifest.json"} <= artifacts


def test_a_failed_run_is_marked_failed(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    store = f"file://{tmp_path / 'mlruns'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    root = make_tree(tmp_path / "ml", {**FAST_HYPERPARAMETERS, "learning_rate": "1e30"})
    assert run(Paths(base=root, input=root / "input")) == 1
    client = MlflowClient(store)
    (found,) = client.search_runs([client.get_experiment_by_name("kindling").experiment_id])
    assert found.info.status == "FAILED"


def test_an_unusable_tracking_store_never_costs_the_model(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"file://{tmp_path / 'mlruns'}")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # MLflow 3 refuses a file store then
    root = make_tree(tmp_path / "ml")
    assert run(Paths(base=root, input=root / "input")) == 0
    assert "MLflow: tracking is off for this job" in caplog.text
