"""ECS / plain-Docker S3 staging against a moto server on 127.0.0.1: channels in, model.tar.gz out, serve
from S3; failures leave nothing in S3 and say which URI."""

import io
import json
import tarfile

import pytest

from container.errors import KindlingError
from container.paths import Paths
from container.s3_staging import download_prefix, fetch_model
from serve.predictors import load_predictors
from tests.moto_server import s3_client
from tests.sagemaker_tree import FAST_HYPERPARAMETERS, labelled_lines
from train.job import run

pytestmark = pytest.mark.contract


@pytest.fixture
def aws(fake_aws):
    client = s3_client(fake_aws)
    bucket = f"kindling-{len(client.list_buckets()['Buckets'])}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


def _tree(tmp_path):
    root = tmp_path / "ml"
    (root / "model").mkdir(parents=True)
    return Paths(base=root, input=root / "input")


def test_train_from_s3_channels_uploads_model_tar_gz_and_serve_fetches_it(tmp_path, aws, monkeypatch):
    client, bucket = aws
    client.put_object(Bucket=bucket, Key="data/train/part-1.txt", Body="\n".join(labelled_lines(200, 1)) + "\n")
    client.put_object(Bucket=bucket, Key="data/train/more/part-2.txt", Body="\n".join(labelled_lines(100, 3)) + "\n")
    client.put_object(Bucket=bucket, Key="data/validation/v.txt", Body="\n".join(labelled_lines(60, 2)) + "\n")
    monkeypatch.setenv("KINDLING_CHANNEL_TRAIN", f"s3://{bucket}/data/train/")
    monkeypatch.setenv("KINDLING_CHANNEL_VALIDATION", f"s3://{bucket}/data/validation")
    monkeypatch.setenv("KINDLING_HYPERPARAMETERS", json.dumps(FAST_HYPERPARAMETERS))
    monkeypatch.setenv("KINDLING_OUTPUT_S3", f"s3://{bucket}/jobs/one")
    paths = _tree(tmp_path)
    assert run(paths) == 0, paths.failure.read_text() if paths.failure.exists() else ""
    assert (paths.channel("train") / "more" / "part-2.txt").is_file()
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="jobs/")["Contents"]}
    assert keys == {"jobs/one/model.tar.gz", "jobs/one/output.tar.gz"}
    archive = tarfile.open(fileobj=io.BytesIO(client.get_object(Bucket=bucket, Key="jobs/one/model.tar.gz")["Body"]
                                              .read()))
    assert sorted(archive.getnames()) == ["eval.json", "manifest.json", "model.bin"]

    served = tmp_path / "served"
    served.mkdir()
    monkeypatch.setenv("KINDLING_MODEL_S3", f"s3://{bucket}/jobs/one/model.tar.gz")
    directory = fetch_model(served)
    assert (directory / "manifest.json").is_file()
    predictor = load_predictors(directory)["classification"]
    assert predictor.predict(["rocket orbit planet"], {"k": 1, "threshold": 0.0}, 1e12)[0]["label"] == ["__label__space"]


def test_a_failed_job_uploads_nothing_and_says_why(tmp_path, aws, monkeypatch):
    client, bucket = aws
    client.put_object(Bucket=bucket, Key="data/train/t.txt", Body="\n".join(labelled_lines(50, 1)) + "\n")
    monkeypatch.setenv("KINDLING_CHANNEL_TRAIN", f"s3://{bucket}/data/train/")
    monkeypatch.setenv("KINDLING_HYPERPARAMETERS", json.dumps({**FAST_HYPERPARAMETERS, "epochs": "ten"}))
    monkeypatch.setenv("KINDLING_OUTPUT_S3", f"s3://{bucket}/jobs/failed")
    paths = _tree(tmp_path)
    assert run(paths) == 1
    assert "epochs='ten'" in paths.failure.read_text()
    assert client.list_objects_v2(Bucket=bucket, Prefix="jobs/").get("KeyCount") == 0


@pytest.mark.parametrize("uri, words", [
    ("s3://no-such-bucket-here/data/", "S3 refused to read s3://no-such-bucket-here/data/: NoSuchBucket"),
    ("s3://{bucket}/empty/", "Nothing under s3://{bucket}/empty/"),
    ("https://example.org/x", "is not an S3 URI"),
])
def test_bad_uris_are_named(tmp_path, aws, uri, words):
    _, bucket = aws
    with pytest.raises(KindlingError) as caught:
        download_prefix(uri.format(bucket=bucket), tmp_path)
    assert words.format(bucket=bucket) in caught.value.message


def test_keys_that_climb_out_of_the_channel_are_refused(tmp_path, aws):
    client, bucket = aws
    client.put_object(Bucket=bucket, Key="data/train/../../etc/passwd", Body=b"x")
    with pytest.raises(KindlingError) as caught:
        download_prefix(f"s3://{bucket}/data/train/", tmp_path / "channel")
    assert "not a plain path inside the bundle" in caught.value.message or ".." in caught.value.message
    assert not (tmp_path / "etc").exists()


def test_missing_credentials_are_a_sentence(tmp_path, moto_endpoint, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    with pytest.raises(KindlingError) as caught:
        download_prefix("s3://bucket/data/", tmp_path)
    assert caught.value.code == "no_credentials" and "s3://bucket/data/" in caught.value.message
