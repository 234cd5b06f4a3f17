"""``input()`` and ``getpass()`` in the Pyodide sandbox, over the real REST API.

A streamed execution that allows stdin sends ``input_request`` and blocks (an
``Atomics.wait`` in the Deno worker) until ``POST /executions/{id}/input``
answers; these tests drive a ``start_local_pool(sandbox=True)`` with raw httpx.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest
from pool_api import GEN2, Api

from remote_kernel.client.sse import EventParser, ServerEvent
from remote_kernel.identifiers import new_identifier
from remote_kernel.server import start_local_pool
from remote_kernel.server.runtimes.base import NO_STDIN

SSE = {"Accept": "text/event-stream"}
#: The sandbox's answer buffer (host.mjs INPUT_LIMIT).
INPUT_LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def api(sandbox_prepared) -> Iterator[Api]:
    pool = start_local_pool(token=secrets.token_urlsafe(24), prewarm=1, sandbox=True)
    client = Api(pool, token=pool.token)
    try:
        yield client
    finally:
        client.close()
        pool.stop()


@pytest.fixture
def sid(api: Api) -> Iterator[str]:
    ident = new_identifier("sandbox-stdin")
    yield ident
    api.request("DELETE", "/session", ident)


def _stream(
    api: Api, sid: str, body: dict, on_event: Callable[[ServerEvent], None]
) -> list[ServerEvent]:
    """POST a streamed execution; each event to ``on_event`` as it comes; all of them."""
    query = {"api-version": GEN2, "identifier": sid}
    seen: list[ServerEvent] = []
    with api.http.stream("POST", "/executions", params=query, json=body, headers=SSE) as response:
        assert response.status_code == 200, response.read()
        parser = EventParser()
        for chunk in response.iter_bytes():
            for event in parser.feed(chunk):
                seen.append(event)
                on_event(event)
    return seen


def _answer(api: Api, sid: str, execution_id: str, value: str) -> httpx.Response:
    return api.request("POST", f"/executions/{execution_id}/input", sid, json={"value": value})


def _stdout(events: list[ServerEvent]) -> str:
    return "".join(e.json()["text"] for e in events if e.event == "stream")


def test_input_is_asked_and_answered_over_http(api: Api, sid: str) -> None:
    code = "print('before')\nname = input('who? ')\nprint('hello', name)\n"
    body = {"code": code, "id": "sandbox-asks", "allowStdin": True}
    answers: list[int] = []

    def on_event(event: ServerEvent) -> None:
        if event.event == "input_request":
            assert event.json() == {"prompt": "who? ", "password": False}
            answers.append(_answer(api, sid, "sandbox-asks", "Ada Lovelace é").status_code)

    events = _stream(api, sid, body, on_event)
    assert answers == [204]
    assert events[-1].json()["status"] == "Succeeded", events[-1].data
    assert _stdout(events) == "before\nhello Ada Lovelace é\n"
    # The text printed before input() arrived before the request for it.
    kinds = [e.event for e in events]
    assert kinds.index("stream") < kinds.index("input_request")
    assert api.value(sid, "name") == "Ada Lovelace é"  # the answer is in the session


def test_getpass_asks_for_a_hidden_answer(api: Api, sid: str) -> None:
    code = "import getpass\nsecret = getpass.getpass('Key: ')\nprint(len(secret))\n"
    body = {"code": code, "id": "sandbox-secret", "allowStdin": True}
    requests: list[dict] = []

    def on_event(event: ServerEvent) -> None:
        if event.event == "input_request":
            requests.append(event.json())
            _answer(api, sid, "sandbox-secret", "s3cr3t")

    events = _stream(api, sid, body, on_event)
    assert requests == [{"prompt": "Key: ", "password": True}]
    assert _stdout(events) == "6\n"
    assert "s3cr3t" not in "".join(e.data for e in events)


def test_input_in_a_plain_request_fails_at_once_saying_what_it_needs(api: Api, sid: str) -> None:
    body = api.run(sid, "x = 1\ninput('who? ')", timeoutInSeconds=60)
    assert body["status"] == "Failed"
    error = body["result"]["error"]
    assert error["ename"] == "StdinNotImplementedError"
    assert error["evalue"] == NO_STDIN  # the IPython runtime's text, word for word
    assert "_rk_sandbox" not in "\n".join(error["traceback"])  # the user's line, not ours
    assert body["result"]["executionTimeInMilliseconds"] < 10_000


def test_a_stream_without_allow_stdin_fails_input_at_once(api: Api, sid: str) -> None:
    events = _stream(api, sid, {"code": "input('who? ')"}, lambda event: None)
    assert "input_request" not in [e.event for e in events]
    assert events[-1].json()["result"]["error"]["evalue"] == NO_STDIN


def test_interrupt_while_waiting_keeps_the_session_and_its_variables(api: Api, sid: str) -> None:
    api.ok(sid, "kept = 41")
    body = {"code": "name = input('who? ')", "id": "sandbox-waits", "allowStdin": True}
    cancels: list[int] = []

    def on_event(event: ServerEvent) -> None:
        if event.event == "input_request":
            response = api.request("POST", "/executions/sandbox-waits/cancel", sid)
            cancels.append(response.status_code)

    events = _stream(api, sid, body, on_event)
    assert cancels == [202]
    result = events[-1].json()["result"]
    assert result["error"]["ename"] == "KeyboardInterrupt", result
    assert api.value(sid, "kept + 1") == 42  # same interpreter: nothing was restarted
    late = _answer(api, sid, "sandbox-waits", "too late")
    assert late.status_code == 409
    # A later input() waits for its own answer, not a stale one.
    events = _stream(
        api,
        sid,
        {"code": "input('again? ')", "id": "sandbox-again", "allowStdin": True},
        lambda e: e.event == "input_request" and _answer(api, sid, "sandbox-again", "fresh"),
    )
    assert events[-1].json()["result"]["executionResult"] == "fresh"


def test_no_answer_within_the_timeout_is_a_clear_error(api: Api, sid: str) -> None:
    api.ok(sid, "kept = 'yes'")
    body = {"code": "input('never answered? ')", "timeoutInSeconds": 2, "allowStdin": True}
    events = _stream(api, sid, body, lambda event: None)
    assert "input_request" in [e.event for e in events]
    error = events[-1].json()["result"]["error"]
    assert error["ename"] == "TimeoutError" and "input()" in error["evalue"]
    assert api.value(sid, "kept") == "yes"


def test_an_answer_past_the_buffer_is_a_clear_error_in_the_cell(api: Api, sid: str) -> None:
    body = {"code": "big = input('paste: ')", "id": "sandbox-big", "allowStdin": True}
    too_long = "é" * (INPUT_LIMIT // 2 + 1)  # two UTF-8 bytes each: one char past the buffer

    def on_event(event: ServerEvent) -> None:
        if event.event == "input_request":
            assert _answer(api, sid, "sandbox-big", too_long).status_code == 204

    events = _stream(api, sid, body, on_event)
    error = events[-1].json()["result"]["error"]
    assert error["ename"] == "ValueError"
    assert f"{INPUT_LIMIT + 2:,} bytes" in error["evalue"] and f"{INPUT_LIMIT:,}" in error["evalue"]
    # A full buffer's worth still fits, and the session is fine.
    fits = "x" * INPUT_LIMIT
    events = _stream(
        api,
        sid,
        {"code": "len(input('paste: '))", "id": "sandbox-fits", "allowStdin": True},
        lambda e: e.event == "input_request" and _answer(api, sid, "sandbox-fits", fits),
    )
    assert events[-1].json()["result"]["executionResult"] == INPUT_LIMIT
