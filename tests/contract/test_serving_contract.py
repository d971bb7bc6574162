"""The serving half of the contract through the Flask test client, on a real trained bundle."""

import json
import shutil

import fasttext
import pytest

from container.errors import KindlingError
from container.settings import ServeSettings
from serve.app import create_app
from serve.predictors import FASTTEXT_LOG_EPSILON, load_predictors

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def predictors(trained_bundle):
    return load_predictors(trained_bundle)


@pytest.fixture
def client(predictors):
    return create_app(predictors, ServeSettings.from_env({})).test_client()


def invoke(client, body, **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    headers.setdefault("Content-Type", "application/json")
    return client.post("/invocations", data=data, headers=headers)


def test_ping_reports_the_loaded_tasks(client):
    response = client.get("/ping")
    assert response.status_code == 200 and response.json == {"status": "healthy", "tasks": ["classification"]}


def test_blazingtext_request_and_response(client, trained_bundle):
    texts = ["The striker scored a late goal in the match", "Simmer the garlic in butter"]
    response = invoke(client, {"instances": texts, "configuration": {"k": 2}})
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.json
    assert [r["label"][0] for r in body] == ["__label__sports", "__label__cooking"]
    for record in body:
        assert len(record["label"]) == len(record["prob"]) == 2
        assert record["prob"] == sorted(record["prob"], reverse=True)
        assert sum(record["prob"]) <= 1 + 1e-6
    # the same numbers as fastText in-process on the same model and the same normalized text
    model = fasttext.load_model(str(trained_bundle / "model.bin"))
    labels, probs = model.predict("the striker scored a late goal in the match", k=2)
    assert body[0]["label"] == list(labels)
    assert body[0]["prob"] == pytest.approx([p - FASTTEXT_LOG_EPSILON for p in probs], abs=1e-7)


def test_default_k_is_one_and_huge_k_is_clamped(client):
    assert len(invoke(client, {"instances": ["rocket launch"]}).json[0]["label"]) == 1
    everything = invoke(client, {"instances": ["rocket launch"], "configuration": {"k": 1000000}}).json[0]
    assert len(everything["label"]) == 3 and sum(everything["prob"]) == pytest.approx(1.0, abs=1e-5)


def test_custom_attributes_are_echoed(client):
    response = invoke(client, {"instances": ["x"]}, **{"X-Amzn-SageMaker-Custom-Attributes": "trace=1"})
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "trace=1"


@pytest.mark.parametrize("body, headers, status, code", [
    (b"{oops", {}, 400, "bad_json"),
    ({"instances": []}, {}, 400, "bad_instances"),
    ({"instances": ["x"], "configuration": {"k": 0}}, {}, 400, "bad_configuration"),
    ({"instances": ["x"], "configuration": {"k": -3}}, {}, 400, "bad_configuration"),
    ({"instances": ["x"], "configuration": {"k": "2"}}, {}, 400, "bad_configuration"),
    ({"instances": ["x"], "configuration": {"k": 1.5}}, {}, 400, "bad_configuration"),
    ({"instances": ["x"], "configuration": {"k": True}}, {}, 400, "bad_configuration"),
    ({"instances": ["x"], "configuration": {"top_k": 2}}, {}, 400, "bad_configuration"),
    ({"instances": ["x"], "task": "entities"}, {}, 400, "bad_task"),
    ({"instances": ["x"]}, {"Content-Type": "application/xml"}, 415, "unsupported_media_type"),
    ({"instances": ["x"]}, {"Content-Type": "application/octet-stream"}, 415, "unsupported_media_type"),
    ({"instances": ["x"]}, {"Accept": "text/html"}, 406, "not_acceptable"),
    (json.dumps(json.dumps({"instances": ["x"]})), {}, 400, "double_encoded_json"),
])
def test_bad_requests_get_json_errors(client, body, headers, status, code):
    response = invoke(client, body, **headers)
    assert response.status_code == status and response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == code and error["message"] and "Traceback" not in response.get_data(as_text=True)


def test_unknown_routes_methods_and_oversized_bodies_are_json(predictors):
    client = create_app(predictors, ServeSettings.from_env({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"})).test_client()
    assert client.get("/nope").status_code == 404 and client.get("/nope").json["error"]["code"] == "not_found"
    assert client.get("/invocations").status_code == 405
    big = json.dumps({"instances": ["word " * 300000]})
    response = invoke(client, big)
    assert response.status_code == 413 and response.json["error"]["code"] == "request_entity_too_large"


def test_execution_parameters_follow_the_settings(predictors):
    settings = ServeSettings.from_env({"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20",
                                       "SAGEMAKER_MODEL_SERVER_WORKERS": "3"})
    body = create_app(predictors, settings).test_client().get("/execution-parameters").json
    assert body == {"MaxConcurrentTransforms": 3, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 20}


def test_a_bundle_with_several_tasks_needs_a_task_name(predictors):
    only = predictors["classification"]
    client = create_app({"classification": only, "other": only}, ServeSettings.from_env({})).test_client()
    assert invoke(client, {"instances": ["x"]}).json["error"]["code"] == "task_required"
    assert invoke(client, {"instances": ["x"], "task": "other"}).status_code == 200


def test_a_bundle_that_failed_to_load_answers_503_with_the_reason(tmp_path):
    with pytest.raises(KindlingError) as info:
        load_predictors(tmp_path)
    client = create_app(None, ServeSettings.from_env({}), load_error=info.value).test_client()
    ping = client.get("/ping")
    assert ping.status_code == 503 and "manifest.json is missing" in ping.json["error"]["message"]
    assert invoke(client, {"instances": ["x"]}).status_code == 503


def test_a_bare_fasttext_model_bin_is_served_as_is(tmp_path, trained_bundle):
    shutil.copy(trained_bundle / "model.bin", tmp_path / "model.bin")
    predictors = load_predictors(tmp_path)
    client = create_app(predictors, ServeSettings.from_env({})).test_client()
    assert invoke(client, {"instances": ["rocket orbit planet"]}).json[0]["label"] == ["__label__space"]
    assert predictors["classification"].tokenizer.scheme == "whitespace"
