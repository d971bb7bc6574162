"""`docker run IMAGE serve` on the host network: real HTTP on 127.0.0.1."""

import json
import re
import time

import fasttext
import pytest
import requests

from container.tokenizer import Tokenizer
from serve.predictors import FASTTEXT_LOG_EPSILON
from tests.image.docker import docker, serving, wait_for_ping
from tests.sagemaker_tree import labelled_lines


@pytest.fixture(scope="module")
def server(image_bundle):
    paths, _ = image_bundle
    with serving(paths.model) as (url, container):
        seconds = wait_for_ping(url, 10, container)
        yield url, seconds, paths, container


def invoke(url, body, **headers):
    headers.setdefault("Content-Type", "application/json")
    return requests.post(f"{url}/invocations", json=body if isinstance(body, dict) else None,
                         data=None if isinstance(body, dict) else body, headers=headers, timeout=10)


def test_ping_answers_within_10_seconds(server):
    url, seconds, _, _ = server
    assert seconds < 10
    assert requests.get(f"{url}/ping", timeout=2).json()["tasks"] == ["classification"]


def test_top_k_labels_sorted_and_summing_to_at_most_one(server):
    url, _, _, _ = server
    response = invoke(url, {"instances": ["rocket orbit planet", "butter garlic oven"], "configuration": {"k": 3}})
    assert response.status_code == 200
    for record in response.json():
        assert len(record["label"]) == 3 and record["prob"] == sorted(record["prob"], reverse=True)
        assert sum(record["prob"]) <= 1 + 1e-6


def test_prediction_for_a_training_sentence_matches_in_process_fasttext(server):
    url, _, paths, _ = server
    sentence = labelled_lines(300, 1)[0].split(" ", 1)[1]  # the text of the first training line
    served = invoke(url, {"instances": [sentence], "configuration": {"k": 2}}).json()[0]
    model = fasttext.load_model(str(paths.model / "model.bin"))
    labels, probs = model.predict(Tokenizer().normalize(sentence), k=2)
    assert served["label"] == list(labels)
    assert served["prob"] == pytest.approx([p - FASTTEXT_LOG_EPSILON for p in probs], abs=1e-7)


@pytest.mark.parametrize("body, headers, status", [
    (b"{not json", {}, 400), ({"instances": []}, {}, 400), ({"instances": ["x"], "configuration": {"k": 0}}, {}, 400),
    ({"instances": ["x"]}, {"Content-Type": "application/xml"}, 415), ({"instances": ["x"]}, {"Accept": "text/html"}, 406),
])
def test_errors_are_json_over_real_http(server, body, headers, status):
    url, _, _, _ = server
    response = invoke(url, body, **headers)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json") and response.json()["error"]["message"]


def test_no_command_without_a_config_serves_as_non_root_users(image_bundle):
    paths, _ = image_bundle
    for user in ("kindling", "4321:4321"):
        with serving(paths.model, command=(), user=user) as (url, container):
            wait_for_ping(url, 10, container)
            assert invoke(url, {"instances": ["comet galaxy"]}).json()[0]["label"] == ["__label__space"]


def test_a_missing_bundle_keeps_the_server_up_with_503(tmp_path):
    tmp_path.chmod(0o755)
    with serving(tmp_path) as (url, container):
        deadline, response = time.monotonic() + 10, None
        while response is None and time.monotonic() < deadline:
            try:
                response = requests.get(f"{url}/ping", timeout=1)
            except requests.RequestException:
                time.sleep(0.1)
        assert response is not None and response.status_code == 503 and "manifest.json is missing" in response.json()["error"]["message"]


def test_one_access_line_per_request_and_a_startup_line(server):
    url, _, _, container = server
    response = requests.post(f"{url}/invocations", json={"instances": ["a", "b", "c"]}, timeout=5)
    assert response.status_code == 200 and response.headers["X-Instance-Count"] == "3"
    time.sleep(1.5)  # access lines are flushed at least once a second
    logs = docker("logs", container)
    text = logs.stdout + logs.stderr
    assert re.search(r"access POST /invocations 200 \d+B [\d.]+ms instances=3", text)
    assert re.search(r"loaded bundle \S+ in [\d.]+ s: tasks classification; port \d+, 2 gthread workers x 4 threads", text)


def test_a_batch_transform_request_of_10000_json_lines(server):
    """SageMaker batch transform (MULTI_RECORD, SplitType=Line): 10,000 lines in, 10,000 lines out, in order."""
    url, _, _, _ = server
    texts = [line.split(" ", 1)[1] for line in labelled_lines(10000, 11)]
    body = "".join(json.dumps({"source": text}) + "\n" for text in texts)
    response = requests.post(f"{url}/invocations", data=body.encode(), timeout=60,
                             headers={"Content-Type": "application/jsonlines", "Accept": "application/jsonlines"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/jsonlines")
    answers = [json.loads(line) for line in response.text.splitlines()]
    assert len(answers) == 10000
    batched = invoke(url, {"instances": texts}).json()
    assert answers == batched
    for index in range(0, 10000, 250):  # and single-record requests agree with their lines
        assert invoke(url, {"instances": [texts[index]]}).json()[0] == answers[index]
