"""ECS-style runs of the real image: no /opt/ml mounted, inputs and the model in S3 (a moto server on
127.0.0.1, reached over the host network)."""

import json

import pytest
import requests

from tests.image.docker import run_image, serving, wait_for_ping
from tests.moto_server import FAKE_AWS, moto_server, s3_client
from tests.sagemaker_tree import FAST_HYPERPARAMETERS, labelled_lines


@pytest.fixture(scope="module")
def s3():
    with moto_server() as url:
        client = s3_client(url)
        client.create_bucket(Bucket="kindling")
        client.put_object(Bucket="kindling", Key="data/train/t.txt", Body="\n".join(labelled_lines(300, 1)) + "\n")
        client.put_object(Bucket="kindling", Key="data/validation/v.txt", Body="\n".join(labelled_lines(60, 2)) + "\n")
        yield url, client


def _env(url: str, **extra) -> dict:
    return {**FAKE_AWS, "AWS_ENDPOINT_URL": url, "KINDLING_CHANNEL_TRAIN": "s3://kindling/data/train/",
            "KINDLING_CHANNEL_VALIDATION": "s3://kindling/data/validation/", **extra}


def test_train_from_s3_then_serve_the_uploaded_model(s3):
    url, client = s3
    result = run_image("train", env=_env(url, KINDLING_HYPERPARAMETERS=json.dumps(FAST_HYPERPARAMETERS),
                                         KINDLING_OUTPUT_S3="s3://kindling/jobs/ok"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "uploaded s3://kindling/jobs/ok/model.tar.gz" in result.stdout
    with serving(env={**FAKE_AWS, "AWS_ENDPOINT_URL": url, "KINDLING_MODEL_S3": "s3://kindling/jobs/ok/model.tar.gz"},
                 extra=["--read-only", "--tmpfs", "/tmp"], user="1000:1000") as (base, container):
        wait_for_ping(base, 30, container)
        response = requests.post(f"{base}/invocations", json={"instances": ["rocket orbit planet"]}, timeout=10)
        assert response.status_code == 200 and response.json()[0]["label"] == ["__label__space"]


def test_a_failing_run_leaves_no_model_in_s3(s3):
    url, client = s3
    result = run_image("train", env=_env(url, KINDLING_HYPERPARAMETERS=json.dumps({**FAST_HYPERPARAMETERS,
                                                                                    "epochs": "ten"}),
                                         KINDLING_OUTPUT_S3="s3://kindling/jobs/failed"))
    assert result.returncode == 1 and "epochs='ten'" in result.stdout
    assert client.list_objects_v2(Bucket="kindling", Prefix="jobs/failed").get("KeyCount") == 0
    missing = run_image("train", env=_env(url, KINDLING_CHANNEL_TRAIN="s3://kindling/nothing/here/",
                                          KINDLING_HYPERPARAMETERS=json.dumps(FAST_HYPERPARAMETERS)))
    assert missing.returncode == 1 and "Nothing under s3://kindling/nothing/here/" in missing.stdout
