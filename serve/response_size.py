"""Answers are bounded before they are computed: each predictor estimates its answer's size in bytes from
the request (instances x k x dimension, ...), and a request over KINDLING_MAX_RESPONSE_MB is refused.

Without it, 99,000 words asked for their vectors (a 6.2 MB request) built a 218 MB answer and 1.3 GB of
memory, and 20,000 words with k=1000 neighbours, a 1.26 MB request inside every other limit, got the
worker killed for memory: the client saw a dropped connection, not a status. Estimates err on the large
side (JSON_NUMBER_BYTES is the longest float32 after tolist() and json.dumps). Entity answers depend on
what is found in the text, so the entity predictor adds up its answer as it goes instead (the deadline
bounds its computing) and stops at the same limit.
"""

from __future__ import annotations

from container.errors import KindlingError

JSON_NUMBER_BYTES = 23  # '-1.2345678407464176e-05,'
RECORD_BYTES = 40  # braces, keys and quotes of one result


def too_large(estimate: int, limit: int, what: str = "would be") -> KindlingError:
    return KindlingError(
        f"The answer {what} about {estimate / 1048576:.1f} MB, over the limit of {limit / 1048576:.0f} MB "
        "(KINDLING_MAX_RESPONSE_MB).", code="response_too_large", status=413,
        hint="Send fewer instances, or ask for fewer results each (k); batch transform and asynchronous "
             "endpoints can raise KINDLING_MAX_RESPONSE_MB.")


def check_response_size(estimate: int, limit: int) -> None:
    if estimate > limit:
        raise too_large(estimate, limit)
