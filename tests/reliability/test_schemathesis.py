"""Schemathesis against the local pool's own OpenAPI document (``/openapi.json``).

Every operation gets a few generated requests, valid and invalid, with the
token; the answers must never be a 5xx and must match what the document says
(status codes, content types, response schemas). Bounded: few examples per
operation, derandomized (the same examples every run), a pool capped at four
sessions so generated identifiers cannot start dozens of kernels.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from remote_kernel.server import LocalPool, start_local_pool
from remote_kernel.server.openapi import openapi_document

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed_pool() -> Iterator[LocalPool]:
    pool = start_local_pool(
        token=secrets.token_urlsafe(24), prewarm=1, max_sessions=4, max_upload_mb=1
    )
    yield pool
    pool.stop()


#: The document the pool serves, loaded at collection time (no pool runs yet then);
#: the first test checks that ``/openapi.json`` serves exactly this.
schema = schemathesis.openapi.from_dict(openapi_document())


def test_the_pool_serves_this_document(fuzzed_pool: LocalPool) -> None:
    served = httpx.get(f"{fuzzed_pool.url}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(openapi_document()))


@schema.parametrize()
@settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@pytest.mark.timeout(60)
def test_generated_requests_get_documented_answers_and_no_server_error(
    case: schemathesis.Case, fuzzed_pool: LocalPool
) -> None:
    if case.body is not None and isinstance(case.body, dict) and "timeoutInSeconds" in case.body:
        case.body["timeoutInSeconds"] = 5  # generated code must not hold the pool for 220 s
    case.call_and_validate(
        base_url=fuzzed_pool.url,
        headers={"Authorization": f"Bearer {fuzzed_pool.token}"},
        checks=CHECKS,
        timeout=30,
    )
