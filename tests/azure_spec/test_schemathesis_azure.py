"""Schemathesis driven by Azure's own documents (not ours) against a live local pool.

Each vendored ``DynamicSessions.json`` generates requests for every operation;
every answer is checked against what that document says (status codes,
content types, headers, response schemas) and must not be a 5xx. The test
maps what Azure's documents leave to the host: the base URL (the documents
use ``x-ms-parameterized-host``), the token (they declare AAD OAuth2), the
``api-version`` (always the document's own) and the session identifier (a
valid generated one is swapped for one fixed identifier per document, so the
fuzzing cannot start a kernel per example; invalid ones are kept, to test
the refusal).

Each operation of each document is one test: its generated cases must all
conform, none may be a 5xx, and at least one must reach the pool.
"""

from __future__ import annotations

import secrets
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from remote_kernel.identifiers import is_valid_identifier
from remote_kernel.server import LocalPool, start_local_pool

from .spec import FOLDERS, document

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: (api-version, "METHOD /path") -> failure texts / answers seen / 5xx answers.
FAILURES: dict[tuple[str, str], list[str]] = defaultdict(list)
CALLS: Counter[tuple[str, str]] = Counter()
SERVER_ERRORS: Counter[tuple[str, str]] = Counter()


#: Where a document and its own examples disagree on a status code, the pool follows the
#: examples (the real service, docs/protocol-extensions.md); the answer is then checked
#: against the response the document gives that operation: (version, label) -> (sent, documented).
EXAMPLE_STATUS = {("2025-02-02-preview", "POST /executions"): (202, 200)}


@pytest.fixture(scope="module")
def spec_pool() -> Iterator[LocalPool]:
    pool = start_local_pool(
        token=secrets.token_urlsafe(24), prewarm=1, max_sessions=4, max_upload_mb=1
    )
    yield pool
    pool.stop()


def _prepare(case: schemathesis.Case, version: str, fixed_identifier: str) -> None:
    query = case.query if case.query is not None else {}
    query["api-version"] = version
    generated = query.get("identifier")
    if generated is not None and is_valid_identifier(generated, version):
        query["identifier"] = fixed_identifier
    case.query = query
    if isinstance(case.body, dict) and "timeoutInSeconds" in case.body:
        case.body["timeoutInSeconds"] = 5  # generated code must not hold the pool for 220 s


def _run(case: schemathesis.Case, pool: LocalPool, version: str) -> None:
    key = (version, case.operation.label)
    _prepare(case, version, f"azspec-{version[:10]}")
    headers = {"Authorization": f"Bearer {pool.token}"}
    response = case.call(base_url=pool.url, headers=headers, timeout=60)
    CALLS[key] += 1
    if response.status_code >= 500:
        SERVER_ERRORS[key] += 1
    # A 204 carries no content (RFC 9110), so no Content-Type; the documents' global
    # ``produces`` would otherwise demand application/json on every DELETE.
    checks = [c for c in CHECKS if not (response.status_code == 204 and not response.content
                                        and c is content_type_conformance)]  # fmt: skip
    sent, documented = EXAMPLE_STATUS.get(key, (None, None))
    if response.status_code == sent:
        response.status_code = documented
    try:
        case.validate_response(response, checks=checks)
    except FailureGroup as exc:
        FAILURES[key].append(f"{response.status_code} {str(exc)[:600]}")


def _operations() -> list[Any]:
    return [
        pytest.param(version, f"{method.upper()} {path}", id=f"{version}:{method.upper()} {path}")
        for version in FOLDERS
        for path, ops in document(version)["paths"].items()
        for method in ops
    ]


@pytest.mark.parametrize(("version", "label"), _operations())
@pytest.mark.timeout(300)
def test_every_answer_matches_azures_document(
    version: str, label: str, spec_pool: LocalPool
) -> None:
    """Cases generated from the operation as Azure's document describes it: every answer
    conforms, none is a 5xx, and the operation was reached. (Each operation is its own
    test, so the check runs where its cases ran, with or without pytest-xdist.)"""
    method, path = label.split(" ", 1)
    operation = schemathesis.openapi.from_dict(document(version))[path][method]

    @settings(
        max_examples=6,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=operation.as_strategy())
    def fuzz(case: schemathesis.Case) -> None:
        _run(case, spec_pool, version)

    fuzz()
    key = (version, label)
    assert CALLS[key] > 0, "the fuzzing did not reach this operation"
    assert SERVER_ERRORS[key] == 0, FAILURES[key]
    assert FAILURES[key] == [], "\n".join(FAILURES[key][:3])


def test_the_stable_version_is_refused_with_a_clear_error(spec_pool: LocalPool) -> None:
    """2024-09-01 describes routes no released pool serves (README.md): a 400 naming why."""
    answer = httpx.get(
        f"{spec_pool.url}/files",
        params={"api-version": "2024-09-01", "identifier": "abcd"},
        headers={"Authorization": f"Bearer {spec_pool.token}"},
        timeout=30,
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "UnsupportedApiVersion" and "2025-10-02-preview" in error["message"]
