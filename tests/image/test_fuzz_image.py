"""Property-based fuzzing of the running image from its own OpenAPI description (schemathesis).

Valid and invalid requests are generated from the schemas the server validates with; every response
must be a documented status with a body of the documented shape, and never a 5xx. Afterwards the
container's access log proves how many requests were made and that no worker died.
"""

import re
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.image.docker import docker, serving, wait_for_ping

CASES_PER_MODE = 1100  # per operation and mode; the GET routes have no inputs, so few of theirs are distinct
MIN_REQUESTS = 2000


@pytest.fixture(scope="module")
def fuzzed_server(image_bundle):
    paths, _ = image_bundle
    with serving(paths.model) as (url, container):
        wait_for_ping(url, 10, container)
        yield url, container


@pytest.fixture(scope="module")
def api_schema(fuzzed_server):
    url, _ = fuzzed_server
    return schemathesis.openapi.from_url(f"{url}/openapi.json")


def _fuzz(operation, mode) -> None:
    @settings(max_examples=CASES_PER_MODE, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        response = case.call(timeout=10)
        assert response.status_code < 500, f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
        if mode is GenerationMode.POSITIVE:
            case.validate_response(response)  # documented status, content type and body shape
        else:
            content_type = response.headers.get("content-type", [""])[0]  # schemathesis: lower-case keys, lists
            assert content_type.startswith("application/json"), (response.status_code, response.text[:200])

    check()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_generated_requests_get_documented_answers(api_schema, mode):
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if mode is GenerationMode.NEGATIVE and not len(operation.body):
            continue  # nothing to make invalid in a GET without parameters
        _fuzz(operation, mode)


def test_the_fuzzing_was_real_and_no_worker_died(fuzzed_server):
    """Runs after the generated cases (same module, file order): count them in the access log."""
    _, container = fuzzed_server
    time.sleep(1.5)  # access lines reach the log in batches, at least once a second
    logs = docker("logs", container)
    text = logs.stdout + logs.stderr
    requests_seen = len(re.findall(r"^\S+ \S+ access (?:GET|POST) ", text, flags=re.MULTILINE))
    print(f"fuzzing: {requests_seen} requests reached the server")
    assert requests_seen >= MIN_REQUESTS, f"only {requests_seen} requests reached the server"
    assert " 500 " not in text and "WORKER TIMEOUT" not in text and "Worker exiting" not in text
    assert text.count("Booting worker") == 2, "a worker was restarted"
