"""AiohttpTransport against real servers on 127.0.0.1 (no mock of the wire).

A small Starlette app under uvicorn, over TLS with a trustme certificate, stands
in for the pool where the local pool cannot produce the load (500 sessions at
once) or the shape (a body of 64 MiB both ways); raw sockets produce the broken
connections. The client under test is the real ``AsyncSessionPoolClient``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from remote_kernel import errors
from remote_kernel.client import AsyncSessionPoolClient
from remote_kernel.client import policy as policy_module
from remote_kernel.client import transport as transport_module
from remote_kernel.client.aiohttp_transport import AiohttpTransport, ClientPoolFullError
from remote_kernel.client.transport import AsyncAiohttpTransport
from remote_kernel.server.background import _ThreadServer

MiB = 1 << 20


@dataclass
class Seen:
    """What the stand-in server received."""

    executions: list[tuple[str, str]] = field(default_factory=list)
    inflight: int = 0
    peak_inflight: int = 0
    upload_headers: dict[str, str] = field(default_factory=dict)


def stand_in_app(seen: Seen) -> Starlette:
    async def execute(request: Request) -> JSONResponse:
        body = await request.json()
        ident = request.query_params["identifier"]
        seen.inflight += 1
        seen.peak_inflight = max(seen.peak_inflight, seen.inflight)
        try:
            await asyncio.sleep(float(request.query_params.get("delay", "0.02")))
        finally:
            seen.inflight -= 1
        eid = f"{ident}-{len(seen.executions)}"
        seen.executions.append((ident, body["code"]))
        result = {"stdout": body["code"], "stderr": "", "executionResult": ident}
        return JSONResponse(
            {"id": eid, "identifier": ident, "status": "Succeeded", "result": result}
        )

    async def received(request: Request) -> int:
        seen.upload_headers = dict(request.headers)
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return size

    async def upload(request: Request) -> JSONResponse:
        return JSONResponse({"bytes": await received(request)})

    def stream_of(total: int) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            block = b"x" * (256 * 1024)
            for _ in range(total // len(block)):
                yield block

        headers = {"content-length": str(total)}
        return StreamingResponse(chunks(), media_type="application/octet-stream", headers=headers)

    async def download(request: Request) -> StreamingResponse:
        return stream_of(int(request.query_params["size"]))

    async def api_upload(request: Request) -> JSONResponse:
        """``POST /files`` as generation 2 answers it; the body is counted, not kept."""
        size = await received(request)
        return JSONResponse({"value": [{"name": "big.bin", "sizeInBytes": size}]})

    async def api_download(request: Request) -> StreamingResponse:
        """``GET /files/{name}/content``: 64 MiB, streamed."""
        return stream_of(64 * MiB)

    return Starlette(
        routes=[
            Route("/executions", execute, methods=["POST"]),
            Route("/upload", upload, methods=["POST"]),
            Route("/download", download, methods=["GET"]),
            Route("/files", api_upload, methods=["POST"]),
            Route("/files/{name}/content", api_download, methods=["GET"]),
        ]
    )


@dataclass
class Server:
    url: str
    seen: Seen
    ca: trustme.CA

    def transport(self, **kwargs: object) -> AiohttpTransport:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return AiohttpTransport(verify=ctx, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    tmp: Path = tmp_path_factory.mktemp("tls")
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    seen = Seen()
    sock = socket.create_server(("127.0.0.1", 0), backlog=1024)
    config = uvicorn.Config(
        stand_in_app(seen),
        log_level="warning",
        ssl_certfile=str(cert_file),
        ssl_keyfile=str(key_file),
        backlog=1024,
        timeout_graceful_shutdown=2,
    )
    srv = _ThreadServer(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "the stand-in server did not start"
        time.sleep(0.02)
    try:
        yield Server(f"https://127.0.0.1:{sock.getsockname()[1]}", seen, ca)
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture
def seen(server: Server) -> Seen:
    server.seen.executions.clear()
    server.seen.peak_inflight = 0
    return server.seen


# ------------------------------------------------------------------ scale and queueing
@pytest.mark.timeout(180)
async def test_500_concurrent_executions_each_answered_once_in_its_own_session(
    server: Server, seen: Seen
) -> None:
    client = AsyncSessionPoolClient(server.url, transport=server.transport())
    sessions = [f"s{i:03d}" for i in range(500)]
    try:
        results = await asyncio.gather(
            *(client.execute(f"print('{s}')", session=s, timeout=60) for s in sessions)
        )
    finally:
        await client.aclose()
    assert [r.session_id for r in results] == sessions
    assert [r.value for r in results] == sessions  # the answer came from that session's request
    assert sorted(seen.executions) == sorted((s, f"print('{s}')") for s in sessions)


async def test_a_full_pool_queues_instead_of_failing(server: Server, seen: Seen) -> None:
    transport = server.transport(max_connections=2)
    async with httpx.AsyncClient(transport=transport, timeout=30) as http:
        answers = await asyncio.gather(
            *(
                http.post(
                    f"{server.url}/executions",
                    params={"identifier": f"q{i}", "delay": "0.2"},
                    json={"code": "1"},
                )
                for i in range(8)
            )
        )
    assert [a.status_code for a in answers] == [200] * 8
    assert seen.peak_inflight == 2  # two connections, the other six waited their turn
    assert len(seen.executions) == 8


async def test_a_queued_request_that_times_out_says_the_clients_pool_was_full(
    server: Server, seen: Seen
) -> None:
    transport = server.transport(max_connections=1)
    async with httpx.AsyncClient(transport=transport) as http:
        busy = asyncio.ensure_future(
            http.post(
                f"{server.url}/executions",
                params={"identifier": "busy", "delay": "2"},
                json={"code": "1"},
                timeout=30,
            )
        )
        await asyncio.sleep(0.3)
        with pytest.raises(ClientPoolFullError) as caught:
            await http.post(
                f"{server.url}/executions",
                params={"identifier": "late"},
                json={"code": "1"},
                timeout=httpx.Timeout(30, pool=0.3),
            )
        assert (await busy).status_code == 200
    assert isinstance(caught.value, httpx.PoolTimeout)  # the client's "never sent" class
    assert str(caught.value) == (
        "the client's own connection pool was full: all 1 connections stayed busy for 0.3 s, "
        "so the request was not sent; raise max_connections (or run fewer requests at once)"
    )
    assert [ident for ident, _ in seen.executions] == ["busy"]


async def test_the_clients_full_pool_queues_an_execution_instead_of_failing(
    server: Server, seen: Seen
) -> None:
    """The wait for a connection of the client's own is bounded by the execution's read
    timeout, not by ``connect_timeout`` (0.2 s here: it used to fail after that)."""
    client = AsyncSessionPoolClient(
        server.url, transport=server.transport(max_connections=1), connect_timeout=0.2
    )
    assert isinstance(client._transport, AsyncAiohttpTransport)
    hold = httpx.AsyncClient(transport=client._http._transport)  # the same pool, held busy
    try:
        busy = asyncio.ensure_future(
            hold.post(
                f"{server.url}/executions",
                params={"identifier": "busy", "delay": "1"},
                json={"code": "1"},
                timeout=30,
            )
        )
        await asyncio.sleep(0.3)
        t0 = time.monotonic()
        late = await client.execute("2", session="late", timeout=10)
        waited = time.monotonic() - t0
        await busy
    finally:
        await client.aclose()
    assert late.value == "late" and late.stdout == "2"
    assert waited > 0.5  # it queued behind "busy"
    assert [ident for ident, _ in seen.executions] == ["busy", "late"]


async def test_a_request_queued_past_its_budget_names_the_clients_own_limit(
    server: Server, seen: Seen, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not "cannot reach the pool", not tried again, and nothing sent."""
    for module in (transport_module, policy_module):  # a 0.5 s budget instead of 60 s
        monkeypatch.setattr(module, "DEFAULT_READ_TIMEOUT", 0.5)
    client = AsyncSessionPoolClient(
        server.url, transport=server.transport(max_connections=1), max_connections=1
    )
    hold = httpx.AsyncClient(transport=client._http._transport)
    try:
        busy = asyncio.ensure_future(
            hold.post(
                f"{server.url}/executions",
                params={"identifier": "busy", "delay": "3"},
                json={"code": "1"},
                timeout=30,
            )
        )
        await asyncio.sleep(0.3)
        t0 = time.monotonic()
        with pytest.raises(errors.ClientPoolFullError) as caught:
            await client.get_execution("e-1", session="late")  # idempotent, yet not retried
        waited = time.monotonic() - t0
        await busy
    finally:
        await client.aclose()
    assert str(caught.value) == (
        "The execution status waited 0.5 s for a free connection of this client's own "
        "connection pool (max_connections=1) and was not sent: all its connections stayed "
        "busy with other requests. The session pool was not contacted. Raise the limit "
        "(c.PoolSettings.max_connections, the ACA_MAX_CONNECTIONS environment variable, or "
        "the client's max_connections= argument), or run fewer requests at once."
    )
    assert not isinstance(caught.value, errors.PoolConnectionError)
    assert 0.4 < waited < 1.5  # one wait: a retry would add 0.2 s and another 0.5 s
    assert [ident for ident, _ in seen.executions] == ["busy"]


# ------------------------------------------------------------------ streaming
async def test_upload_streams_with_its_length_and_bounded_memory(
    server: Server, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        for _ in range(64):
            f.write(b"\0" * MiB)
    async with httpx.AsyncClient(transport=server.transport(), timeout=60) as http:
        tracemalloc.start()
        try:
            with big.open("rb") as f:
                answer = await http.post(f"{server.url}/upload", files={"file": ("big.bin", f)})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert answer.json()["bytes"] > 64 * MiB  # the file plus its multipart framing
    assert server.seen.upload_headers["content-length"] == str(answer.json()["bytes"])
    assert "transfer-encoding" not in server.seen.upload_headers
    assert peak < 8 * MiB, f"the upload held {peak / MiB:.1f} MiB"


async def test_download_streams_with_bounded_memory(server: Server) -> None:
    total = 64 * MiB
    received = 0
    async with httpx.AsyncClient(transport=server.transport(), timeout=60) as http:
        tracemalloc.start()
        try:
            async with http.stream("GET", f"{server.url}/download", params={"size": total}) as r:
                async for chunk in r.aiter_bytes():
                    received += len(chunk)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert received == total
    assert peak < 8 * MiB, f"the download held {peak / MiB:.1f} MiB"


async def test_the_async_client_streams_uploads_and_downloads_on_its_aiohttp_wire(
    server: Server, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        for _ in range(64):
            f.write(b"\0" * MiB)
    wire = server.transport()
    client = AsyncSessionPoolClient(server.url, transport=wire)
    assert isinstance(client._transport, AsyncAiohttpTransport) and client._transport.wire is wire
    tracemalloc.start()
    try:
        info = await client.upload_file(big, session="files")
        target = tmp_path / "down.bin"
        await client.download_file("big.bin", session="files", destination=target)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        await client.aclose()
    assert info.size is not None and info.size > 64 * MiB  # the file plus its framing
    assert server.seen.upload_headers["content-length"] == str(info.size)
    assert target.stat().st_size == 64 * MiB
    assert peak < 8 * MiB, f"the transfers held {peak / MiB:.1f} MiB"


# ------------------------------------------------------------------ never sent vs sent
class RawServer:
    """A loopback socket server: reads each request's head, then :meth:`handle` decides."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.handle(conn, data)

    def handle(self, conn: socket.socket, head: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._sock.close()


class DroppingServer(RawServer):
    """Accepts, reads one request, then closes (or sleeps) without answering."""

    def __init__(self, answer_after: float | None = None) -> None:
        self.requests = 0
        self._answer_after = answer_after
        super().__init__()

    def handle(self, conn: socket.socket, head: bytes) -> None:
        if head:
            self.requests += 1
        if self._answer_after is not None:
            time.sleep(self._answer_after)


def refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens


async def test_a_refused_connection_is_never_sent() -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        with pytest.raises(httpx.ConnectError):
            await http.post(f"{refused_url()}/executions", json={})


async def test_an_untrusted_certificate_is_a_connect_error(server: Server) -> None:
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{server.url}/download", params={"size": 0})


async def test_a_connection_dropped_after_sending_is_not_a_never_sent_error() -> None:
    dropping = DroppingServer()
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
            with pytest.raises(httpx.TransportError) as caught:
                await http.post(f"{dropping.url}/executions", json={"code": "1"})
    finally:
        dropping.close()
    never_sent = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
    assert isinstance(caught.value, httpx.RemoteProtocolError)
    assert not isinstance(caught.value, never_sent)


async def test_the_client_never_resends_an_execution_whose_connection_dropped() -> None:
    dropping = DroppingServer()
    client = AsyncSessionPoolClient(dropping.url)  # the default wire: aiohttp's fetch
    assert isinstance(client._transport, AsyncAiohttpTransport)
    try:
        with pytest.raises(errors.TransportError) as caught:
            await client.execute("1", session="sess-1")
    finally:
        await client.aclose()
        dropping.close()
    assert "The execution was not re-sent." in str(caught.value)
    assert dropping.requests == 1


async def test_a_refused_execution_on_the_default_wire_is_cannot_reach_the_pool() -> None:
    """Nothing left: the one case the client may try an execution again."""
    client = AsyncSessionPoolClient(refused_url(), connect_timeout=2)
    try:
        with pytest.raises(errors.PoolConnectionError, match="Cannot reach the session pool"):
            await client.execute("1", session="sess-1")
    finally:
        await client.aclose()


async def test_a_silent_server_is_a_read_timeout_after_the_requests_read_timeout() -> None:
    silent = DroppingServer(answer_after=5)
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
            t0 = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                await http.post(
                    f"{silent.url}/executions", json={}, timeout=httpx.Timeout(10, read=0.5)
                )
            waited = time.monotonic() - t0
    finally:
        silent.close()
    assert 0.4 < waited < 4
    assert silent.requests == 1


# ------------------------------------------------------------------ proxies
class RecordingProxy(RawServer):
    """An HTTP proxy stand-in: records each request line and answers 200."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        super().__init__()

    def handle(self, conn: socket.socket, head: bytes) -> None:
        self.lines.append(head.split(b"\r\n", 1)[0].decode())
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


async def test_proxies_come_from_the_environment_as_with_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = RecordingProxy()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "direct.invalid")
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
            answer = await http.get("http://pool.invalid/sessions")
            with pytest.raises(httpx.ConnectError):  # NO_PROXY: straight to a host that is not
                await http.get("http://direct.invalid/sessions")
        async with httpx.AsyncClient(transport=AiohttpTransport(trust_env=False)) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get("http://pool.invalid/sessions")
    finally:
        proxy.close()
    assert answer.text == "ok"
    assert proxy.lines == ["GET http://pool.invalid/sessions HTTP/1.1"]


def test_one_transport_serves_successive_event_loops(server: Server, seen: Seen) -> None:
    """A client built once and used from two ``asyncio.run`` calls (scripts, notebook
    helpers): aiohttp's session is bound to a loop, so each loop gets its own."""
    client = AsyncSessionPoolClient(server.url, transport=server.transport())
    first = asyncio.run(client.execute("1", session="loop-1"))
    second = asyncio.run(client.execute("2", session="loop-2"))
    asyncio.run(client.aclose())
    assert (first.value, second.value) == ("loop-1", "loop-2")


# ------------------------------------------------------------------ the fetch fast path
async def test_fetch_round_trips_json_on_the_same_pool(server: Server, seen: Seen) -> None:
    transport = server.transport()
    try:
        status, headers, body = await transport.fetch(
            "POST",
            f"{server.url}/executions",
            params={"identifier": "fetch-1"},
            headers={"User-Agent": "remote-kernel/test"},
            json_body={"code": "héllo"},
            timeout=httpx.Timeout(30),
        )
    finally:
        await transport.aclose()
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["result"]["stdout"] == "héllo"
    assert seen.executions == [("fetch-1", "héllo")]


async def test_fetch_queues_behind_the_httpx_path_and_says_when_the_pool_was_full(
    server: Server, seen: Seen
) -> None:
    transport = server.transport(max_connections=1)
    async with httpx.AsyncClient(transport=transport) as http:
        busy = asyncio.ensure_future(
            http.post(
                f"{server.url}/executions",
                params={"identifier": "busy", "delay": "1.5"},
                json={"code": "1"},
                timeout=30,
            )
        )
        await asyncio.sleep(0.3)
        with pytest.raises(ClientPoolFullError, match="raise max_connections"):
            await transport.fetch(
                "POST",
                f"{server.url}/executions",
                params={"identifier": "late"},
                json_body={"code": "1"},
                timeout=httpx.Timeout(30, pool=0.2),
            )
        queued = await transport.fetch(
            "POST",
            f"{server.url}/executions",
            params={"identifier": "queued"},
            json_body={"code": "1"},
            timeout=httpx.Timeout(30),
        )
        assert (await busy).status_code == 200
    assert queued[0] == 200
    assert [ident for ident, _ in seen.executions] == ["busy", "queued"]


async def test_fetch_keeps_never_sent_and_sent_apart() -> None:
    transport = AiohttpTransport()
    dropping, silent = DroppingServer(), DroppingServer(answer_after=5)
    try:
        with pytest.raises(httpx.ConnectError):
            await transport.fetch("POST", refused_url(), json_body={}, timeout=httpx.Timeout(5))
        with pytest.raises(httpx.RemoteProtocolError):
            await transport.fetch("POST", dropping.url, json_body={}, timeout=httpx.Timeout(5))
        with pytest.raises(httpx.ReadTimeout):
            await transport.fetch(
                "POST", silent.url, json_body={}, timeout=httpx.Timeout(5, read=0.3)
            )
    finally:
        await transport.aclose()
        dropping.close()
        silent.close()
    assert (dropping.requests, silent.requests) == (1, 1)
