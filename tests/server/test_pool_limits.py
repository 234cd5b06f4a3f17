"""A second pool with tight limits and no token: cooldown, max sessions, upload size."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pool_api import Api, error_code

from remote_kernel.identifiers import new_identifier
from remote_kernel.server import LocalPool, start_local_pool

COOLDOWN = 1.5


@pytest.fixture(scope="module")
def tight_pool() -> Iterator[LocalPool]:
    pool = start_local_pool(cooldown=COOLDOWN, max_sessions=2, max_upload_mb=1, prewarm=0)
    try:
        yield pool
    finally:
        pool.stop()


@pytest.fixture(scope="module")
def tight(tight_pool: LocalPool) -> Iterator[Api]:
    client = Api(tight_pool)  # no Authorization header at all
    yield client
    client.close()


def test_no_token_needed_without_one(tight: Api) -> None:
    response = tight.request("GET", "/listSessions")
    assert response.status_code == 200 and response.json() == {"sessions": []}


def test_idle_session_expires_with_its_files(tight: Api) -> None:
    sid = new_identifier("cool")
    tight.run(sid, "state = 1\nopen('f.txt', 'w').write('x')")
    assert tight.request("GET", "/session", sid).status_code == 200
    deadline = time.monotonic() + COOLDOWN * 4
    while tight.request("GET", "/session", sid).status_code == 200:
        assert time.monotonic() < deadline, "the session never expired"
        time.sleep(0.1)
    fresh = tight.run(sid, "import os\n('state' in globals(), os.listdir('.'))")["result"]
    assert fresh["sessionCreated"] is True and fresh["executionResult"] == [False, []]
    tight.request("DELETE", "/session", sid)


def test_a_running_session_is_not_reaped(tight: Api) -> None:
    sid = new_identifier("busy")
    body = tight.run(sid, f"import time\ntime.sleep({COOLDOWN * 2})\nalive = 1")
    assert body["status"] == "Succeeded" and body["result"]["sessionCreated"] is True
    after = tight.run(sid, "alive")["result"]
    assert after["sessionCreated"] is False and after["executionResult"] == 1
    tight.request("DELETE", "/session", sid)


@pytest.fixture
def full_pool() -> Iterator[Api]:
    """Two sessions at most and a long cooldown: with ``tight``'s 1.5 s, the first session
    could expire while a loaded machine starts the second, and the pool never be full."""
    pool = start_local_pool(cooldown=300, max_sessions=2, max_upload_mb=1, prewarm=0)
    client = Api(pool)
    try:
        yield client
    finally:
        client.close()
        pool.stop()


def test_max_sessions(full_pool: Api) -> None:
    tight = full_pool
    first, second, third = (new_identifier("max") for _ in range(3))
    tight.run(first, "1")
    tight.run(second, "1")
    full = tight.request("POST", "/executions", third, json={"code": "1"})
    assert full.status_code == 404 and error_code(full) == "SessionPoolFull"
    assert "--max-sessions 2" in full.json()["error"]["message"]
    files = tight.request("GET", "/files", third)  # any call naming a new session
    assert files.status_code == 404
    assert tight.request("DELETE", "/session", first).status_code == 204
    assert tight.run(third, "'in'")["result"]["executionResult"] == "in"
    for sid in (second, third):
        tight.request("DELETE", "/session", sid)


def test_upload_past_the_limit_is_413_and_leaves_nothing(tight: Api) -> None:
    sid = new_identifier("big")
    too_big = tight.request(
        "POST", "/files", sid, files={"file": ("big.bin", b"\0" * (1024 * 1024 + 1))}
    )
    assert too_big.status_code == 413 and error_code(too_big) == "PayloadTooLarge"
    listing = tight.request("GET", "/files", sid).json()["value"]
    assert listing == []
    assert tight.value(sid, "import os\nos.listdir('.')") == []  # no temp file left
    fits = tight.request("POST", "/files", sid, files={"file": ("ok.bin", b"\1" * 1024 * 1024)})
    assert fits.status_code == 200 and fits.json()["sizeInBytes"] == 1024 * 1024
    tight.request("DELETE", "/session", sid)
