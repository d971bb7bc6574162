import json

import pytest
from werkzeug.datastructures import MIMEAccept

from container.errors import KindlingError
from serve import codecs


def decode(body):
    return codecs.decode_json_request(body if isinstance(body, bytes) else json.dumps(body).encode())


def test_blazingtext_request_decodes():
    request = decode({"instances": ["a", "b"], "configuration": {"k": 2}})
    assert request.instances == ["a", "b"] and request.configuration == {"k": 2} and request.task is None


@pytest.mark.parametrize("body, code, words", [
    (b"", "empty_body", "empty"),
    (b"{bad", "bad_json", "not valid JSON"),
    (b"\xff\xfe", "bad_encoding", "not UTF-8"),
    (json.dumps(json.dumps({"instances": ["x"]})).encode(), "double_encoded_json", "JSON-encoded twice"),
    ([1, 2], "bad_request", "not an object"),
    ({"instances": []}, "bad_instances", "non-empty list"),
    ({"instance": ["x"]}, "bad_request", "did you mean 'instances'"),
    ({"instances": ["x", 3]}, "bad_instances", "instances[1] is a int"),
    ({"instances": "x"}, "bad_instances", "non-empty list"),
    ({"instances": ["x"], "configuration": [1]}, "bad_configuration", "must be an object"),
    ({"instances": ["x"], "task": 5}, "bad_task", "must be a string"),
])
def test_bad_bodies_get_a_clear_400(body, code, words):
    with pytest.raises(KindlingError) as info:
        decode(body)
    assert info.value.code == code and info.value.status == 400 and words in info.value.message


def test_content_type_and_accept_negotiation():
    codecs.check_content_type("application/json")
    with pytest.raises(KindlingError) as info:
        codecs.check_content_type("text/csv")
    assert info.value.status == 415
    assert codecs.choose_response_type(MIMEAccept([("*/*", 1)])) == "application/json"
    assert codecs.choose_response_type(MIMEAccept([])) == "application/json"
    with pytest.raises(KindlingError) as info:
        codecs.choose_response_type(MIMEAccept([("text/html", 1)]))
    assert info.value.status == 406
