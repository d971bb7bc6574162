"""Hostile and careless clients against the real image (issue 18): more slow connections than threads,
bodies over the limit in every framing, long entity texts against the deadline, answers too large to
build. Every client is bounded in count and time and talks to 127.0.0.1 only."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from container.entity_kb import CompactKB
from tests.image.attackers import SlowClients, chunked, looping_senders, probe, raw_exchange
from tests.image.docker import docker, serving, wait_for_ping

BODY = json.dumps({"instances": ["a gripping, beautifully acted film"]})
SLOW_SECONDS = 60
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def classifier(image_bundle):
    paths, _ = image_bundle
    with serving(paths.model) as (url, container):
        wait_for_ping(url, 20, container)
        yield url, container


def _ping(url: str) -> bool:
    return requests.get(f"{url}/ping", timeout=2).status_code == 200


def _invoke(url: str) -> bool:
    return requests.post(f"{url}/invocations", data=BODY, timeout=2,
                         headers={"Content-Type": "application/json"}).status_code == 200


def _within_2s(latencies: list) -> float:
    return sum(1 for x in latencies if x is not None and x < 2.0) / len(latencies)


def six_mib_of_lines() -> bytes:
    line = b"an honest, unhurried film about a family that keeps its secrets well"
    return b"\n".join([line] * ((6 * MIB - 1000) // (len(line) + 1)))


@pytest.mark.parametrize("under_load", [False, True], ids=["idle", "8x6MiB-load"])
def test_100_slow_connections_do_not_starve_ping_or_invocations(classifier, under_load):
    url, container = classifier
    big = six_mib_of_lines()
    assert len(big) <= 6 * MIB and big.count(b"\n") < 100000  # inside the payload and instance limits
    with SlowClients(url, headers=50, bodies=50).running(SLOW_SECONDS + 20) as attack:
        senders = looping_senders(url, 8, big, "text/plain", SLOW_SECONDS + 20) if under_load else None
        counts = senders.__enter__() if senders else {}
        try:
            pings = probe(url, SLOW_SECONDS, 2.0, lambda: _ping(url))
            invocations = probe(url, 10, 2.0, lambda: _invoke(url))
        finally:
            if senders:
                senders.__exit__(None, None, None)
    print(f"slow clients ({'under load' if under_load else 'idle'}): ping within 2 s {_within_2s(pings):.0%} "
          f"of {len(pings)}, worst {max(x or 99 for x in pings):.2f} s; invocations {invocations}; "
          f"connections opened {attack.opened}, cut off {attack.cut_off}; load {counts}")
    assert _within_2s(pings) >= 0.95 and len(pings) >= 25
    assert all(x is not None and x < 2.0 for x in invocations)
    assert attack.opened >= 100
    if under_load:
        assert counts["sent"] >= 8 and counts["errors"] == 0


@pytest.mark.parametrize("content_type, body", [
    ("application/json", b'{"instances": ["' + b"a" * (7 * MIB) + b'"]}'),
    ("application/jsonlines", b'{"source": "film"}\n' * (7 * MIB // 19)),
    ("text/csv", b"film\n" * (7 * MIB // 5)),
    ("text/plain", b"a film\n" * (7 * MIB // 7)),
])
def test_a_7mb_chunked_body_is_a_413_in_every_format(classifier, content_type, body):
    url, _ = classifier
    head = (f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    answer = raw_exchange(url, head + chunked(body))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b'"request_entity_too_large"' in answer and b"6291456 bytes" in answer


def test_a_body_shorter_than_its_length_is_a_400_and_never_predicted(classifier):
    url, container = classifier
    head = (b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 1000\r\n\r\n")
    answer = raw_exchange(url, head + b"a film\n" * 10, half_close=True)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b'"incomplete_body"' in answer and b"70 of the 1000 bytes" in answer


def test_malformed_chunking_is_a_400_not_a_500(classifier):
    url, _ = classifier
    head = b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer = raw_exchange(url, head + b"zz\r\nfilm\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b'"bad_chunked_body"' in answer, answer[:300]


def _anchor_text(kb_dir, characters: int) -> str:
    """A text made only of ambiguous anchors of the KB: the most work per character for the ranker."""
    kb = CompactKB(kb_dir)
    offsets, text, probability, candidates = (kb.arrays[name] for name in (
        "anchor_text_offsets", "anchor_text", "anchor_link_probability", "candidate_offsets"))
    anchors = [text[offsets[row]:offsets[row + 1]].tobytes().decode() for row in range(len(offsets) - 1)
               if probability[row] >= 0.05 and candidates[row + 1] - candidates[row] >= 2]
    assert len(anchors) > 100
    body, index = [], 0
    while sum(len(a) + 1 for a in body) < characters:
        body.append(anchors[index % len(anchors)])
        index += 1
    return " ".join(body)[:characters]


def _cpu_ticks(container: str) -> dict[int, int]:
    """User + system CPU ticks of every process in the container (the gunicorn master and its workers)."""
    script = "for p in /proc/[0-9]*; do cat $p/stat 2>/dev/null; echo; done"
    out = docker("exec", container, "sh", "-c", script, timeout=30).stdout
    ticks = {}
    for line in out.splitlines():
        pid, _, rest = line.partition(" (")
        fields = rest.rsplit(")", 1)[-1].split()
        if pid.isdigit() and len(fields) > 13:
            ticks[int(pid)] = int(fields[11]) + int(fields[12])
    return ticks


def _cpu_seconds_used(container: str, seconds: float) -> float:
    before = _cpu_ticks(container)
    time.sleep(seconds)
    after = _cpu_ticks(container)
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys()) / 100


def test_long_entity_texts_stop_at_the_deadline_and_the_worker_goes_idle(entity_kb_fast):
    text = _anchor_text(entity_kb_fast / "kb", 99_999)
    body = json.dumps({"instances": [text] * 40})
    env = {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "60", "KINDLING_MAX_RESPONSE_MB": "1000"}
    with serving(entity_kb_fast, env=env) as (url, container):
        wait_for_ping(url, 30, container)
        started = time.monotonic()
        response = requests.post(f"{url}/invocations", data=body, timeout=120, headers={"Content-Type": "application/json"})
        seconds = time.monotonic() - started
        assert response.status_code == 503 and response.json()["error"]["code"] == "deadline_exceeded", response.text[:300]
        assert seconds < 55, seconds
        time.sleep(5)
        busy = _cpu_seconds_used(container, 2)
        print(f"40 anchor texts: 503 after {seconds:.1f} s; CPU used 5-7 s later: {busy:.2f} s in 2 s")
        assert busy < 0.3, busy
    with serving(entity_kb_fast) as (url, container):  # the default answer limit refuses it sooner
        wait_for_ping(url, 30, container)
        started = time.monotonic()
        response = requests.post(f"{url}/invocations", data=body, timeout=120, headers={"Content-Type": "application/json"})
        assert response.status_code == 413 and response.json()["error"]["code"] == "response_too_large"
        print(f"with the default KINDLING_MAX_RESPONSE_MB: 413 after {time.monotonic() - started:.1f} s")


def test_20000_words_with_1000_neighbours_each_is_refused_without_killing_a_worker(wiki_bundle):
    model, _ = wiki_bundle
    words = (model / "vocabulary.txt").read_text(encoding="utf-8").split("\n")[:-1]
    instances = (words * (20000 // len(words) + 1))[:20000]
    body = json.dumps({"instances": instances, "configuration": {"output": "neighbours", "k": 1000}})
    with serving(model, extra=["--memory", "2g"]) as (url, container):
        wait_for_ping(url, 30, container)
        response = requests.post(f"{url}/invocations", data=body, timeout=60, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, response.text[:300]
        error = response.json()["error"]
        assert error["code"] == "response_too_large" and "KINDLING_MAX_RESPONSE_MB" in error["message"]
        assert requests.get(f"{url}/ping", timeout=2).status_code == 200
        logs = docker("logs", container).stdout + docker("logs", container).stderr
        assert not re.search(r"SIGKILL|out of memory|Worker \(pid:\d+\) was", logs), logs[-2000:]
        assert docker("inspect", "-f", "{{.State.OOMKilled}}", container).stdout.strip() == "false"
