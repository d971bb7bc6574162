"""Line-based bodies for SageMaker batch transform (SplitType=Line, AssembleWith=Line): one answer per
line, in order, and a bad line fails the whole request with its line number."""

import json

import pytest

from container.settings import ServeSettings
from serve.app import create_app
from serve.predictors import load_predictors

pytestmark = pytest.mark.contract
TEXTS = ["rocket orbit planet", "butter garlic oven", "striker goal match", "", "comet, galaxy"]


@pytest.fixture(scope="module")
def client(trained_bundle):
    return create_app(load_predictors(trained_bundle), ServeSettings.from_env({"SAGEMAKER_BATCH": "true"})).test_client()


def single(client, text, **configuration):
    body = {"instances": [text], "configuration": configuration} if configuration else {"instances": [text]}
    return client.post("/invocations", json=body).json[0]


def post(client, body: str, content_type: str, **headers):
    return client.post("/invocations", data=body.encode(), headers={"Content-Type": content_type, **headers})


def test_jsonlines_in_and_out_in_order_with_per_line_k(client):
    lines = [json.dumps({"source": text, **({"k": 2} if i % 2 else {})}) for i, text in enumerate(TEXTS)]
    response = post(client, "\n".join(lines) + "\n", "application/jsonlines")
    assert response.status_code == 200 and response.mimetype == "application/jsonlines"
    answers = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(answers) == len(TEXTS)
    for i, (text, answer) in enumerate(zip(TEXTS, answers)):
        assert answer == single(client, text, **({"k": 2} if i % 2 else {}))


@pytest.mark.parametrize("content_type, body", [
    ("text/plain", "\r\n".join(TEXTS) + "\r\n"),
    ("text/csv", "\n".join(f'"{t}"' if "," in t else t for t in TEXTS)),
])
def test_text_and_csv_bodies_are_one_text_per_line(client, content_type, body):
    response = post(client, body, content_type)
    answers = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert answers == [single(client, text) for text in TEXTS]
    as_json = post(client, body, content_type, Accept="application/json")
    assert as_json.mimetype == "application/json" and as_json.json == answers


def test_json_requests_can_ask_for_jsonlines(client):
    response = client.post("/invocations", json={"instances": TEXTS[:2]}, headers={"Accept": "application/jsonlines"})
    assert response.mimetype == "application/jsonlines"
    assert [json.loads(line) for line in response.get_data(as_text=True).splitlines()] == \
        [single(client, text) for text in TEXTS[:2]]


def test_threshold_leaves_out_unlikely_labels(client):
    everything = single(client, "rocket orbit", k=3)
    confident = single(client, "rocket orbit", k=3, threshold=0.5)
    assert len(everything["label"]) == 3 and len(confident["label"]) == 1
    assert all(p >= 0.5 - 1e-5 for p in confident["prob"])


@pytest.mark.parametrize("body, words", [
    ('{"source": "a"}\n{"source": \n{"source": "c"}', "Line 2 is not a JSON object"),
    ('{"source": "a"}\n{"text": "b"}', 'Line 2 has no "source" text'),
    ('{"source": "a"}\n{"source": "b"}\n{"source": "c", "k": 0}', "Line 3: Configuration.k must be at least 1"),
    ('{"source": "a", "colour": 1}', "Line 1: Configuration has an unknown key 'colour'"),
    ("", "The request body is empty"),
])
def test_a_bad_line_fails_the_request_with_its_number(client, body, words):
    response = post(client, body, "application/jsonlines")
    assert response.status_code == 400 and words in response.json["error"]["message"]


def test_csv_with_several_columns_is_refused(client):
    response = post(client, "a,b\n", "text/csv")
    assert response.status_code == 400 and "Line 1 of the CSV body has 2 columns" in response.json["error"]["message"]


def test_csv_that_the_csv_module_cannot_read_is_a_400(client):
    response = post(client, 'a\r"b\n', "text/csv")
    assert response.status_code == 400
