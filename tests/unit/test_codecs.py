import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MIMEAccept

from container.errors import KindlingError
from serve import api, codecs
from serve.predictors import ClassificationPredictor
from serve.schemas import first_problem


def check(body, tasks=("classification",), max_instances=100):
    data = codecs.decode_json(body if isinstance(body, bytes) else json.dumps(body).encode())
    api.check_request(data, api.request_schema(list(tasks), max_instances))
    return data


def test_blazingtext_request_passes():
    assert check({"instances": ["a", "b"], "configuration": {"k": 2}})["instances"] == ["a", "b"]
    assert check({"instances": ["a"], "task": "classification"})["task"] == "classification"


@pytest.mark.parametrize("body, status, code, words", [
    (b"", 400, "empty_body", "empty"),
    (b"{bad", 400, "bad_json", "not valid JSON"),
    (b"\xff\xfe", 400, "bad_encoding", "not UTF-8"),
    (b'{"instances": ["x"], "configuration": {"k": NaN}}', 400, "bad_json", "NaN is not valid JSON"),
    (b'{"instances": ["x"], "configuration": {"k": Infinity}}', 400, "bad_json", "Infinity is not valid JSON"),
    (b"[" * 100000 + b"]" * 100000, 400, "bad_json", "nested too deeply"),
    (b'{"instances": ["x"], "configuration": {"k": ' + b"9" * 5000 + b"}}", 400, "bad_json", "not valid JSON"),
    (json.dumps(json.dumps({"instances": ["x"]})).encode(), 400, "double_encoded_json", "JSON-encoded twice"),
    ([1, 2], 400, "bad_request", "The request body must be an object, not a list"),
    ({"instances": []}, 400, "bad_instances", "Instances must have at least 1 item"),
    ({"configuration": {}}, 400, "bad_instances", "The request body needs 'instances'"),
    ({"instance": ["x"]}, 400, "bad_instances", "needs 'instances'"),
    ({"instances": ["x"], "instance": 1}, 400, "bad_request", "unknown key 'instance' (did you mean 'instances'?)"),
    ({"instances": ["x", 3]}, 400, "bad_instances", "Instances[1] must be a string, not a whole number"),
    ({"instances": "x"}, 400, "bad_instances", "Instances must be a list, not a string"),
    ({"instances": ["x"], "configuration": [1]}, 400, "bad_configuration", "Configuration must be an object"),
    ({"instances": ["x"], "task": 5}, 400, "bad_task", "Task must be a string"),
    ({"instances": ["x"], "task": "entities"}, 400, "bad_task", "must be one of 'classification', not 'entities'"),
    ({"instances": ["x"] * 101}, 400, "too_many_instances", "has 101 items; at most 100 are allowed"),
])
def test_bad_bodies_get_a_clear_4xx(body, status, code, words):
    with pytest.raises(KindlingError) as info:
        check(body)
    assert (info.value.status, info.value.code) == (status, code) and words in info.value.message


@pytest.mark.parametrize("configuration, words", [
    ({"k": 0}, "Configuration.k must be at least 1, not 0"),
    ({"k": "2"}, "Configuration.k must be a whole number, not a string"),
    ({"k": 1.5}, "Configuration.k must be a whole number, not a number"),
    ({"k": True}, "Configuration.k must be a whole number, not true or false"),
    ({"top_k": 2}, "unknown key 'top_k'"),
])
def test_classification_configuration_is_checked_against_its_schema(configuration, words):
    with pytest.raises(KindlingError) as info:
        api.check_configuration(configuration, ClassificationPredictor.configuration_schema)
    assert info.value.code == "bad_configuration" and words in info.value.message


def test_configuration_defaults_are_filled_in():
    assert api.check_configuration({}, ClassificationPredictor.configuration_schema) == {"k": 1, "threshold": 0.0}


def test_content_type_and_accept_negotiation():
    codecs.check_content_type("application/json")
    with pytest.raises(KindlingError) as info:
        codecs.check_content_type("application/xml")
    assert info.value.status == 415
    assert codecs.choose_response_type(MIMEAccept([("*/*", 1)])) == "application/json"
    assert codecs.choose_response_type(MIMEAccept([])) == "application/json"
    with pytest.raises(KindlingError) as info:
        codecs.choose_response_type(MIMEAccept([("text/html", 1)]))
    assert info.value.status == 406


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=12), children, max_size=4), max_leaves=12)
request_like = st.fixed_dictionaries({}, optional={
    "instances": st.lists(st.text(max_size=20) | json_values, max_size=5) | json_values,
    "configuration": st.dictionaries(st.sampled_from(["k", "x"]), json_values, max_size=2) | json_values,
    "task": st.sampled_from(["classification", "other"]) | json_values,
    "extra": json_values,
}) | json_values


@settings(max_examples=1500, deadline=None)
@given(request_like)
def test_the_fast_path_accepts_only_what_the_schema_accepts(data):
    schema = api.request_schema(["classification"], 3)
    if api.is_plain_request(data, ["classification"], 3):
        assert first_problem(data, schema) is None
