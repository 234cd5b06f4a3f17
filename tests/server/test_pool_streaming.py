"""The streaming extension of ``POST /executions`` over real HTTP: live, ordered, resumable.

Liveness is proven by a handshake, not by timing: the cell prints ``line 1`` and
then waits for a marker file that the test creates only once it has read
``line 1`` off the stream. Without live output the cell gives up after a
generous wait and prints ``not live``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
from pool_api import GEN2, Api

from remote_kernel.client.sse import EventParser, ServerEvent
from remote_kernel.server.outputs import OutputEvent
from remote_kernel.server.streaming import EventLog, sse_stream

SSE = {"Accept": "text/event-stream"}


def waits_for(marker: Path, before: str = "line 1", after: str = "line 2") -> str:
    """A cell that prints ``before``, waits (at most 60 s) for ``marker``, prints ``after``."""
    return (
        "import os, time\n"
        f"print({before!r}, flush=True)\n"
        "deadline = time.time() + 60\n"
        f"while not os.path.exists({str(marker)!r}) and time.time() < deadline:\n"
        "    time.sleep(0.02)\n"
        f"print({after!r} if os.path.exists({str(marker)!r}) else 'not live')\n"
    )


def events_of(response: httpx.Response) -> Iterator[ServerEvent]:
    parser = EventParser()
    for chunk in response.iter_bytes():
        yield from parser.feed(chunk)


def shown_kinds(events: list[ServerEvent]) -> list[str]:
    """Event kinds with consecutive stream chunks of one name as one, as front-ends
    show them: one ``print`` may come as two chunks (ipykernel's flush timer)."""
    kinds: list[str] = []
    last_stream: str | None = None
    for event in events:
        name = event.json().get("name") if event.event == "stream" else None
        if name is None or name != last_stream:
            kinds.append(event.event)
        last_stream = name
    return kinds


def stream_text(events: list[ServerEvent]) -> str:
    return "".join(e.json()["text"] for e in events if e.event == "stream")


def test_output_arrives_while_the_cell_runs(api: Api, sid: str, tmp_path: Path) -> None:
    marker = tmp_path / "go"
    seen: list[ServerEvent] = []
    body = {"code": waits_for(marker)}
    with api.http.stream("POST", "/executions", params=_q(sid), json=body, headers=SSE) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in events_of(response):
            seen.append(event)
            if event.event == "stream" and "line 1" in event.json()["text"]:
                marker.touch()
    text = stream_text(seen)
    assert "line 1\n" in text and "line 2\n" in text and "not live" not in text
    assert seen[-1].event == "result"
    ids = [e.id for e in seen]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_the_result_event_is_the_plain_answer_byte_for_byte(api: Api, sid: str) -> None:
    with api.http.stream(
        "POST", "/executions", params=_q(sid), json={"code": "print('hi')\n6 * 7"}, headers=SSE
    ) as response:
        events = list(events_of(response))
    final = events[-1]
    assert final.event == "result"
    execution_id = final.json()["id"]
    plain = api.request("GET", f"/executions/{execution_id}", sid)
    assert plain.headers["content-type"] == "application/json"
    assert final.data.encode() == plain.content
    assert final.json()["result"]["executionResult"] == 42
    assert shown_kinds(events[:-1]) == ["session", "stream", "execute_result"]
    assert events[0].json() == {"sessionCreated": True}


def test_only_a_stream_that_created_its_session_begins_with_the_session_event(
    api: Api, sid: str
) -> None:
    """So a client can say "your variables are gone" before the output, not after it."""
    kinds = []
    for _ in range(2):
        with api.http.stream(
            "POST", "/executions", params=_q(sid), json={"code": "print(1)"}, headers=SSE
        ) as response:
            kinds.append(shown_kinds(list(events_of(response))))
    assert kinds == [["session", "stream", "result"], ["stream", "result"]]


def test_every_answer_names_the_features(api: Api, sid: str) -> None:
    plain = api.request("POST", "/executions", sid, json={"code": "1"})
    assert plain.headers["content-type"] == "application/json"
    for response in (plain, api.request("GET", "/openapi.json")):
        features = {f.strip() for f in response.headers["x-remote-kernel-features"].split(",")}
        assert features == {"stream", "stdin", "cancel"}


def test_display_updates_and_clears_stream_in_order(api: Api, sid: str) -> None:
    code = (
        "from IPython.display import display, clear_output\n"
        "h = display('a', display_id=True)\n"
        "h.update('b')\n"
        "print('x')\n"
        "clear_output(wait=True)\n"
        "print('y')\n"
    )
    with api.http.stream(
        "POST", "/executions", params=_q(sid), json={"code": code}, headers=SSE
    ) as response:
        events = list(events_of(response))
    assert events.pop(0).json() == {"sessionCreated": True}  # this request created it
    kinds = shown_kinds(events)
    assert kinds == [
        "display_data",
        "update_display_data",
        "stream",
        "clear_output",
        "stream",
        "result",
    ]
    shown, updated = events[0].json(), events[1].json()
    assert shown["transient"]["display_id"] == updated["transient"]["display_id"]
    assert updated["data"]["text/plain"] == "'b'"
    assert events[3].json() == {"wait": True}
    assert events[-1].json()["result"]["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "y\n"}
    ]


def test_a_dropped_stream_resumes_with_nothing_lost_or_twice(
    api: Api, sid: str, tmp_path: Path
) -> None:
    marker = tmp_path / "go"
    code = "print('a', flush=True)\nprint('b', flush=True)\n" + waits_for(marker, "c", "d")
    body = {"code": code, "id": "resume-me"}
    got: list[ServerEvent] = []
    with api.http.stream("POST", "/executions", params=_q(sid), json=body, headers=SSE) as response:
        for event in events_of(response):
            got.append(event)
            if "c" in stream_text(got):
                break  # the connection drops here, mid-run
    marker.touch()  # the run went on without a reader
    last = got[-1].id
    with api.http.stream(
        "GET",
        "/executions/resume-me",
        params=_q(sid),
        headers={**SSE, "Last-Event-ID": str(last)},
    ) as response:
        rest = list(events_of(response))
    assert all(e.id is not None and e.id > last for e in rest)
    assert stream_text(got + rest) == "a\nb\nc\nd\n"
    assert rest[-1].json()["status"] == "Succeeded"


def test_many_lines_arrive_complete_in_order_with_bounded_memory(api: Api, sid: str) -> None:
    lines = 100_000
    code = f"for i in range({lines}):\n    print(i)\n"
    process = psutil.Process(os.getpid())  # the pool runs in this process
    before = process.memory_info().rss
    peak = before
    with api.http.stream(
        "POST",
        "/executions",
        params=_q(sid),
        json={"code": code, "timeoutInSeconds": 200},
        headers=SSE,
    ) as response:
        events = []
        for event in events_of(response):
            events.append(event)
            peak = max(peak, process.memory_info().rss) if len(events) % 200 == 0 else peak
    assert stream_text(events) == "".join(f"{i}\n" for i in range(lines))
    assert events[-1].json()["result"]["truncated"] is False
    assert peak - before < 150 * 1024 * 1024


def test_a_slow_reader_gets_merged_chunks_not_more_events() -> None:
    log = EventLog(max_events=5)
    for i in range(10_000):
        log.append(OutputEvent("stream", {"name": "stdout", "text": f"{i}\n"}))
    missed, events = log.read_after(0)
    assert missed == 0 and len(events) == 1
    assert events[0].content["text"] == "".join(f"{i}\n" for i in range(10_000))
    log.append(OutputEvent("stream", {"name": "stdout", "text": "after\n"}))
    _, more = log.read_after(events[0].id)
    assert [e.content["text"] for e in more] == ["after\n"]  # what was read never changes


def test_a_resume_from_before_the_window_is_told_what_it_missed() -> None:
    async def scenario() -> list[ServerEvent]:
        log = EventLog(max_events=3)
        for _ in range(10):
            log.append(OutputEvent("clear_output", {"wait": False}))
        done = asyncio.Event()
        done.set()
        log.close()
        parser = EventParser()
        out: list[ServerEvent] = []
        async for chunk in sse_stream(log, done, lambda: b"{}", last_event_id=2):
            out += parser.feed(chunk)
        return out

    events = asyncio.run(scenario())
    assert [e.event for e in events] == ["gap", *["clear_output"] * 3, "result"]
    assert events[0].json() == {"dropped": 5} and events[0].id == 7
    assert [e.id for e in events[1:]] == [8, 9, 10, 11]


def test_a_quiet_stream_sends_heartbeat_comments() -> None:
    async def first_chunks() -> list[bytes]:
        stream = sse_stream(EventLog(), asyncio.Event(), lambda: b"{}", heartbeat=0.01)
        chunks = [await stream.__anext__() for _ in range(3)]
        await stream.aclose()
        return chunks

    chunks = asyncio.run(first_chunks())
    assert chunks == [b": heartbeat\n\n"] * 3
    assert EventParser().feed(b"".join(chunks)) == []


def _q(sid: str) -> dict[str, str]:
    return {"api-version": GEN2, "identifier": sid}


def test_input_is_asked_over_the_stream_and_answered_by_post(api: Api, sid: str) -> None:
    code = "name = input('Name? ')\nprint('hello', name)\n"
    body = {"code": code, "id": "asks-input", "allowStdin": True}
    seen: list[ServerEvent] = []
    with api.http.stream("POST", "/executions", params=_q(sid), json=body, headers=SSE) as response:
        for event in events_of(response):
            seen.append(event)
            if event.event == "input_request":
                assert event.json() == {"prompt": "Name? ", "password": False}
                answer = api.request(
                    "POST", "/executions/asks-input/input", sid, json={"value": "Ada"}
                )
                assert answer.status_code == 204, answer.text
    assert seen[-1].json()["status"] == "Succeeded"
    assert "hello Ada\n" in stream_text(seen)


def test_getpass_asks_for_a_hidden_answer(api: Api, sid: str) -> None:
    code = "import getpass\nsecret = getpass.getpass('Key: ')\nprint(len(secret))\n"
    body = {"code": code, "id": "asks-secret", "allowStdin": True}
    with api.http.stream("POST", "/executions", params=_q(sid), json=body, headers=SSE) as response:
        events = []
        for event in events_of(response):
            events.append(event)
            if event.event == "input_request":
                assert event.json()["password"] is True
                api.request("POST", "/executions/asks-secret/input", sid, json={"value": "s3cr3t"})
    assert stream_text(events).endswith("6\n") and "s3cr3t" not in stream_text(events)


def test_input_in_a_plain_request_fails_saying_what_it_needs(api: Api, sid: str) -> None:
    body = api.run(sid, "input('x? ')")
    assert body["status"] == "Failed"
    error = body["result"]["error"]
    assert error["ename"] == "StdinNotImplementedError"
    assert "need a front-end that streams" in error["evalue"]


def test_an_answer_nobody_asked_for_is_refused(api: Api, sid: str) -> None:
    api.run(sid, "1", id="no-input")
    answer = api.request("POST", "/executions/no-input/input", sid, json={"value": "x"})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "NotWaitingForInput"
    bad = api.request("POST", "/executions/no-input/input", sid, json={"value": 3})
    assert bad.status_code == 400


def test_no_answer_within_the_timeout_is_a_clear_error(api: Api, sid: str) -> None:
    body = {"code": "input('never answered? ')", "timeoutInSeconds": 2, "allowStdin": True}
    with api.http.stream("POST", "/executions", params=_q(sid), json=body, headers=SSE) as response:
        events = list(events_of(response))
    assert "input_request" in [e.event for e in events]
    error = events[-1].json()["result"]["error"]
    assert error["ename"] == "TimeoutError" and "input()" in error["evalue"]


def test_a_stream_that_does_not_offer_input_fails_input_at_once(api: Api, sid: str) -> None:
    with api.http.stream(
        "POST", "/executions", params=_q(sid), json={"code": "input('x? ')"}, headers=SSE
    ) as response:
        events = list(events_of(response))
    assert "input_request" not in [e.event for e in events]
    assert "need a front-end that streams" in events[-1].json()["result"]["error"]["evalue"]
