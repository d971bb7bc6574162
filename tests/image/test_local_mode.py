"""The SageMaker Python SDK's local mode drives the image exactly as SageMaker would (docker-compose,
its own `sagemaker-local` network, port 8080 on the host): fit, deploy + predict, batch transform.

Everything stays on this machine: fake credentials, no instance metadata, the SDK's telemetry opted out
through an SDK defaults file, `logs=False` where the SDK would read CloudWatch, file:// inputs/outputs.
"""

import json
import os
import shutil

import pytest

from tests.image.docker import IMAGE
from tests.sagemaker_tree import labelled_lines

TELEMETRY_OPT_OUT = "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"


def _compose_containers() -> set[str]:
    from tests.image.docker import docker

    return set(docker("ps", "-aq", "--filter", "label=com.docker.compose.project").stdout.split())


@pytest.fixture
def local_sdk(tmp_path, monkeypatch):
    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(TELEMETRY_OPT_OUT)
    for key, value in {"SAGEMAKER_USER_CONFIG_OVERRIDE": str(config), "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true", "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
                       # Debian's docker CLI and docker-compose (the engine CI starts)
                       "PATH": "/usr/bin:" + os.environ.get("PATH", "")}.items():
        monkeypatch.setenv(key, value)
    if not shutil.which("docker-compose") and not shutil.which("docker"):
        pytest.fail("local mode needs docker-compose")
    from sagemaker.local import LocalSession

    before = _compose_containers()
    session = LocalSession()
    session.config = {"local": {"local_code": True}}
    yield session
    from tests.image.docker import docker

    for container in _compose_containers() - before:  # the SDK leaves its exited job containers behind
        docker("rm", "-f", container)


def test_fit_deploy_predict_and_batch_transform_in_local_mode(tmp_path, local_sdk):
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.estimator import Estimator
    from sagemaker.serializers import JSONSerializer

    for channel, lines in (("train", labelled_lines(300, 1)), ("validation", labelled_lines(60, 2))):
        (tmp_path / channel).mkdir()
        (tmp_path / channel / f"{channel}.txt").write_text("\n".join(lines) + "\n")
    # the SDK sends Python values as strings ("True", "0.1", "10"), as it does for SageMaker itself
    estimator = Estimator(image_uri=IMAGE, role="arn:aws:iam::123456789012:role/SageMakerRole", instance_count=1,
                          instance_type="local", sagemaker_session=local_sdk, output_path=f"file://{tmp_path / 'out'}",
                          hyperparameters={"mode": "supervised", "epochs": 10, "learning_rate": 0.1, "min_count": 1,
                                           "vector_dim": 10, "buckets": 10000, "early_stopping": False})
    estimator.fit({"train": f"file://{tmp_path / 'train'}", "validation": f"file://{tmp_path / 'validation'}"},
                  logs=False)
    assert estimator.model_data.endswith("model.tar.gz") and (tmp_path / "out" / "model.tar.gz").is_file()

    predictor = estimator.deploy(initial_instance_count=1, instance_type="local", serializer=JSONSerializer(),
                                 deserializer=JSONDeserializer())
    try:
        answer = predictor.predict({"instances": ["rocket orbit planet", "garlic oven butter"]})
    finally:
        predictor.delete_endpoint()
    assert [a["label"] for a in answer] == [["__label__space"], ["__label__cooking"]]

    (tmp_path / "batch").mkdir()
    (tmp_path / "batch" / "in.jsonl").write_text(
        "".join(json.dumps({"source": text}) + "\n" for text in ["rocket orbit planet", "garlic oven butter",
                                                                 "striker goal match"]))
    transformer = estimator.transformer(instance_count=1, instance_type="local", strategy="MultiRecord",
                                        assemble_with="Line", accept="application/jsonlines",
                                        output_path=f"file://{tmp_path / 'batch-out'}")
    transformer.transform(f"file://{tmp_path / 'batch'}", content_type="application/jsonlines", split_type="Line",
                          wait=True, logs=False)
    lines = (tmp_path / "batch-out" / "in.jsonl.out").read_text().splitlines()
    assert [json.loads(line)["label"] for line in lines] == [["__label__space"], ["__label__cooking"],
                                                             ["__label__sports"]]
