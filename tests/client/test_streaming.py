"""Streamed executions in the client: the SSE parser as plain data, then both clients
against the real local pool (live handshake, resume after a cut, features learnt).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from remote_kernel import errors
from remote_kernel.client import AsyncSessionPoolClient, ExecutionEvent, SessionPoolClient
from remote_kernel.client.codecs import READ_MARGIN
from remote_kernel.client.operations import Protocol
from remote_kernel.client.sse import EventParser
from remote_kernel.identifiers import new_identifier
from remote_kernel.server import LocalPool


def waits_for(marker: Path) -> str:
    """Prints ``line 1``, waits (60 s at most) for ``marker``, then ``line 2`` or ``not live``."""
    return (
        "import os, time\nprint('line 1', flush=True)\ndeadline = time.time() + 60\n"
        f"while not os.path.exists({str(marker)!r}) and time.time() < deadline:\n"
        "    time.sleep(0.02)\n"
        f"print('line 2' if os.path.exists({str(marker)!r}) else 'not live')\n"
    )


# -- the parser, plain data -----------------------------------------------------------------


def test_the_parser_joins_split_chunks_and_skips_comments() -> None:
    parser = EventParser()
    wire = b': heartbeat\n\nid: 3\r\nevent: stream\r\ndata: {"text": "a"}\r\n\r\nid: 4\ndata: x\ndata: y\n\n'
    events = [e for i in range(len(wire)) for e in parser.feed(wire[i : i + 1])]
    assert [(e.id, e.event, e.data) for e in events] == [
        (3, "stream", '{"text": "a"}'),
        (4, "message", "x\ny"),
    ]
    assert parser.last_event_id == 4


def test_an_event_waits_for_its_blank_line() -> None:
    parser = EventParser()
    assert parser.feed(b"id: 1\nevent: stream\ndata: {}\n") == []
    assert parser.last_event_id is None
    assert [e.id for e in parser.feed(b"\n")] == [1]


# -- against the local pool -------------------------------------------------------------------


def _client(pool: LocalPool, **kwargs: Any) -> SessionPoolClient:
    return SessionPoolClient(pool.url, token=pool.token, **kwargs)


def test_on_event_sees_output_while_the_cell_runs(local_pool: LocalPool, tmp_path: Path) -> None:
    marker = tmp_path / "go"
    seen: list[ExecutionEvent] = []

    def on_event(event: ExecutionEvent) -> None:
        seen.append(event)
        if event.kind == "stream" and "line 1" in event.content["text"]:
            marker.touch()

    sid = new_identifier("stream")
    with _client(local_pool) as client:
        result = client.execute(waits_for(marker), session=sid, on_event=on_event)
        assert client.protocol.features is not None and "stream" in client.protocol.features
        client.delete_session(sid)
    assert result.stdout == "line 1\nline 2\n"
    assert "".join(e.content["text"] for e in seen if e.kind == "stream") == result.stdout


def test_the_async_iterator_ends_with_the_result(local_pool: LocalPool, tmp_path: Path) -> None:
    marker = tmp_path / "go"
    sid = new_identifier("astream")

    async def scenario() -> list[ExecutionEvent]:
        got: list[ExecutionEvent] = []
        async with AsyncSessionPoolClient(local_pool.url, token=local_pool.token) as client:
            async for event in client.stream(waits_for(marker), session=sid):
                got.append(event)
                if event.kind == "stream" and "line 1" in event.content["text"]:
                    marker.touch()
            await client.delete_session(sid)
        return got

    events = asyncio.run(scenario())
    assert [e.kind for e in events][-1] == "result"
    result = events[-1].result
    assert result is not None and result.stdout == "line 1\nline 2\n"


class CutAfterFirstLine(httpx.HTTPTransport):
    """A real transport whose first event stream breaks once ``line 1`` went through."""

    def __init__(self, marker: Path) -> None:
        super().__init__()
        self.marker = marker
        self.sent: list[tuple[str, str, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path, request.headers.get("last-event-id")))
        response = super().handle_request(request)
        if request.method == "POST" and "event-stream" in response.headers.get("content-type", ""):
            response.stream = Cut(response.stream, self.marker)
        return response


class Cut(httpx.SyncByteStream):
    """The body up to the chunk holding ``line 1``, then a broken connection."""

    def __init__(self, stream: Any, marker: Path) -> None:
        self.stream, self.marker = stream, marker

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.stream:
            yield chunk
            if b"line 1" in chunk:
                self.marker.touch()  # the cell goes on; this connection does not
                raise httpx.RemoteProtocolError("cut by the test")

    def close(self) -> None:
        self.stream.close()


def test_a_cut_stream_resumes_without_re_sending(local_pool: LocalPool, tmp_path: Path) -> None:
    marker = tmp_path / "go"
    cutter = CutAfterFirstLine(marker)
    seen: list[ExecutionEvent] = []
    sid = new_identifier("cut")
    with _client(local_pool, transport=cutter) as client:
        client.execute("1", session=sid)  # learns that this pool streams (and takes ids)
        result = client.execute(waits_for(marker), session=sid, on_event=seen.append)
        client.delete_session(sid)
    posts = [s for s in cutter.sent if s[0] == "POST" and s[1] == "/executions"]
    resumes = [s for s in cutter.sent if s[0] == "GET" and s[1].startswith("/executions/")]
    assert len(posts) == 2 and len(resumes) == 1 and resumes[0][2] is not None
    text = "".join(e.content["text"] for e in seen if e.kind == "stream")
    assert text == "line 1\nline 2\n" == result.stdout
    ids = [e.id for e in seen]
    assert len(ids) == len(set(ids))


class CuttingProxy:
    """A TCP proxy to the pool that, once armed, breaks the connection whose answer
    carries ``line 1`` right after forwarding it (what a dropped link does to the
    async client's aiohttp wire, below any of our code)."""

    def __init__(self, upstream: str, marker: Path) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.marker = marker
        self.armed = False
        self.heads: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._up, args=(client, server), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client), daemon=True).start()

    def _up(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := src.recv(65536):
                self.heads.append(chunk.split(b"\r\n", 1)[0])
                dst.sendall(chunk)

    def _down(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := src.recv(65536):
                dst.sendall(chunk)
                if self.armed and b"line 1" in chunk:
                    self.armed = False
                    self.marker.touch()  # the cell goes on; this connection does not
                    for end in (src, dst):
                        end.shutdown(socket.SHUT_RDWR)
                    return

    def close(self) -> None:
        self._sock.close()


def test_a_cut_stream_resumes_on_the_async_clients_wire(
    local_pool: LocalPool, tmp_path: Path
) -> None:
    marker = tmp_path / "go"
    proxy = CuttingProxy(local_pool.url, marker)
    sid = new_identifier("acut")

    async def scenario() -> tuple[Any, list[ExecutionEvent]]:
        seen: list[ExecutionEvent] = []
        async with AsyncSessionPoolClient(proxy.url, token=local_pool.token) as client:
            await client.execute("1", session=sid)  # learns that this pool streams
            proxy.armed = True
            result = await client.execute(waits_for(marker), session=sid, on_event=seen.append)
            await client.delete_session(sid)
        return result, seen

    try:
        result, seen = asyncio.run(scenario())
    finally:
        proxy.close()
    posts = [h for h in proxy.heads if h.startswith(b"POST /executions")]
    resumes = [h for h in proxy.heads if h.startswith(b"GET /executions/")]
    assert len(posts) == 2 and len(resumes) == 1  # never sent twice; resumed by GET
    text = "".join(e.content["text"] for e in seen if e.kind == "stream")
    assert text == "line 1\nline 2\n" == result.stdout
    ids = [e.id for e in seen]
    assert len(ids) == len(set(ids))


@respx.mock
def test_a_pool_without_the_feature_is_asked_plainly_after_its_first_answer() -> None:
    body = {
        "id": "e1",
        "identifier": "sess-1",
        "status": "Succeeded",
        "result": {"stdout": "hi\n", "stderr": "", "executionResult": ""},
    }
    route = respx.post("https://pool.example/executions").mock(
        return_value=httpx.Response(200, json=body)
    )
    seen: list[ExecutionEvent] = []
    with SessionPoolClient("https://pool.example", token="t") as client:
        for _ in range(2):
            result = client.execute("print('hi')", session="sess-1", on_event=seen.append)
            assert result.stdout == "hi\n"
        assert client.protocol.features == frozenset()
    first, second = (call.request for call in route.calls)
    assert "text/event-stream" in first.headers["accept"] and b'"id"' not in first.content
    assert "text/event-stream" not in second.headers.get("accept", "")
    assert seen == []


# -- the streamed step as plain data ----------------------------------------------------------


def _first_request(features: frozenset[str] | None, **kwargs: Any) -> Any:
    protocol = Protocol("https://pool.example", "2024-10-02-preview")
    protocol.features = features
    step = protocol.execute_streamed("1", "sess-1", lambda event: None, timeout=30, **kwargs)
    return protocol, step, next(step)


def test_the_stream_read_timeout_follows_the_execution_timeout() -> None:
    _, _, request = _first_request(frozenset({"stream", "stdin"}))
    assert request.read_timeout == 30 + READ_MARGIN
    assert request.headers["Accept"].startswith("text/event-stream")
    assert request.json["allowStdin"] is True
    assert request.json.get("id") or request.headers.get("operation-id")  # resumable
    _, _, plain = _first_request(frozenset({"stream", "stdin"}), stdin=False)
    assert "allowStdin" not in plain.json


def test_a_broken_first_stream_to_an_unknown_pool_is_not_sent_again() -> None:
    _, step, request = _first_request(None)
    assert "id" not in request.json and "allowStdin" not in request.json  # nothing Azure lacks
    with pytest.raises(errors.TransportError):
        step.throw(errors.TransportError("broken"))


def test_a_broken_stream_to_a_streaming_pool_resumes_by_get() -> None:
    _, step, request = _first_request(frozenset({"stream"}))
    resume = step.throw(errors.TransportError("broken"))
    execution_id = request.json.get("id") or request.headers.get("operation-id")
    assert (resume.method, resume.path) == ("GET", f"/executions/{execution_id}")
    assert resume.events is request.events and resume.idempotent
