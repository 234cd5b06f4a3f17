"""The transports: send one :class:`Request` once, answer a :class:`Response` or a
:class:`SendError`. Nothing else (no retries, no parsing) happens here.

The sync client sends over httpx. The async client sends over aiohttp
(:class:`AsyncAiohttpTransport`): httpx's async pool collapses at agent scale
(issue 16, ``benchmarks/bench_scale.py``). :class:`AsyncHTTPXTransport` stays for
an injected httpx transport (tests' ``httpx.MockTransport``).
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

import httpx

from remote_kernel import __version__, wire
from remote_kernel.client.aiohttp_transport import AiohttpTransport
from remote_kernel.client.messages import Download, EventFeed, Request, Response, SendError
from remote_kernel.client.policy import DEFAULT_READ_TIMEOUT
from remote_kernel.client.transfers import DownloadSink
from remote_kernel.config import DEFAULT_MAX_CONNECTIONS

CHUNK = 1 << 20
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
USER_AGENT = f"remote-kernel/{__version__}"


def client_kwargs(
    endpoint: str, connect_timeout: float, max_connections: int = DEFAULT_MAX_CONNECTIONS
) -> dict[str, Any]:
    """Settings of the ``httpx.Client``/``httpx.AsyncClient`` under a transport."""
    return {
        "base_url": endpoint,
        "headers": {"User-Agent": USER_AGENT},
        "timeout": httpx.Timeout(DEFAULT_READ_TIMEOUT, connect=connect_timeout),
        # Keep idle connections a minute (notebook cells are seconds apart: a new TLS
        # handshake per cell is what the known clients pay), but drop them before the
        # server does (load balancers: 4 min; the local pool: 2 min), so a request is
        # never written into a connection the server is closing.
        "limits": httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max(1, max_connections // 2),
            keepalive_expiry=60.0,
        ),
        "follow_redirects": False,
    }


def timeout(req: Request, connect_timeout: float) -> httpx.Timeout:
    """The request's own read timeout (an execution's); a full client pool is
    queued for as long (it is the budget the caller gave this request)."""
    read = req.read_timeout or DEFAULT_READ_TIMEOUT
    return httpx.Timeout(read, connect=connect_timeout, pool=read)


def request_headers(req: Request, headers: dict[str, str]) -> dict[str, str]:
    """The request's own headers, the client's (auth), and where a resumed stream goes on."""
    resume = req.events.parser.last_event_id if req.events is not None else None
    return {
        **req.headers,
        **headers,
        **({"Last-Event-ID": str(resume)} if resume is not None else {}),
    }


def build(
    http: httpx.Client | httpx.AsyncClient,
    req: Request,
    headers: dict[str, str],
    connect_timeout: float,
) -> httpx.Request:
    """The httpx request for ``req``; its read timeout is the request's own (an execution's)."""
    kwargs: dict[str, Any] = {
        "params": req.params,
        "headers": request_headers(req, headers),
        "timeout": timeout(req, connect_timeout),
    }
    if req.upload is not None:
        field, name, fileobj, ctype = req.upload
        kwargs["files"] = {field: (name, fileobj, ctype)}
    elif req.json is not None:
        kwargs["json"] = req.json
    return http.build_request(req.method, req.path, **kwargs)


def decode(response: httpx.Response) -> Response:
    """An httpx answer as a :class:`Response` (see :func:`parse`)."""
    headers = dict(response.headers)
    return Response(
        response.status_code, headers, parse(response.status_code, headers, response.content)
    )


def parse(status: int, headers: dict[str, str], content: bytes) -> Any:
    """JSON when it is JSON, text for errors and text types, bytes otherwise."""
    ctype = wire.content_type(headers)
    if "json" in ctype or content[:1] in (b"{", b"["):
        try:
            return json.loads(content)
        except ValueError:
            return _text(content, ctype)
    if status >= 400 or ctype.startswith("text/"):
        return _text(content, ctype)
    return content


def _text(content: bytes, ctype: str) -> str:
    charset = ctype.partition("charset=")[2].split(";")[0].strip(' "') or "utf-8"
    try:
        return content.decode(charset, "replace")
    except LookupError:
        return content.decode("utf-8", "replace")


def send_error(exc: httpx.HTTPError) -> SendError:
    """What an httpx failure means for another try (see :class:`SendError`)."""
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.PoolTimeout):  # the client's own pool stayed full: not sent
        return SendError("pool_full", reason)
    if isinstance(exc, httpx.ReadTimeout):
        return SendError("read_timeout", reason)
    if isinstance(exc, _NEVER_SENT):
        return SendError("connect", reason)
    if isinstance(exc, httpx.TimeoutException):
        return SendError("timeout", reason)
    return SendError("broken", reason)


class EventReceiver:
    """An event-stream answer: output events to the feed, the ``result`` event kept."""

    def __init__(self, feed: EventFeed) -> None:
        self.feed = feed
        self.result: Any = None

    def write(self, chunk: bytes) -> None:
        self.feed.started = True
        for event in self.feed.parser.feed(chunk):
            if event.event == wire.RESULT_EVENT:
                self.result = event.json()
            else:
                self.feed.on_event(event)

    def answer(self, status: int, headers: dict[str, str]) -> Response | SendError:
        self.feed.started = True
        if self.result is None:
            return SendError("broken", "the event stream ended before the execution's result")
        return Response(status, headers, self.result)


class Receiver:
    """A streamed download's body on its way to the sink, with progress; aborted on error."""

    def __init__(self, target: Download, response: httpx.Response) -> None:
        length = response.headers.get("content-length")
        self.total = int(length) if length is not None else None
        self.done = 0
        self.progress = target.progress
        self.sink = DownloadSink(target.destination)
        self.response = response

    def write(self, chunk: bytes) -> None:
        self.sink.file.write(chunk)
        self.done += len(chunk)
        if self.progress is not None:
            self.progress(self.done, self.total)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is not None:
            self.sink.abort()

    def answer(self) -> Response:
        return Response(self.response.status_code, dict(self.response.headers), self.sink.finish())


class _HTTPXOwner:
    """Owns one httpx client built from :func:`client_kwargs`: the sync and the async
    transport differ only in the client class (``client_class``) and the awaits."""

    client_class: type[httpx.Client] | type[httpx.AsyncClient]

    def __init__(
        self,
        endpoint: str,
        connect_timeout: float,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.http = self.client_class(
            transport=transport, **client_kwargs(endpoint, connect_timeout, max_connections)
        )


class HTTPXTransport(_HTTPXOwner):
    """Blocking sends over one ``httpx.Client`` (one keep-alive pool per client)."""

    client_class = httpx.Client
    http: httpx.Client

    def send(self, req: Request, headers: dict[str, str]) -> Response | SendError:
        request = build(self.http, req, headers, self.connect_timeout)
        try:
            if req.events is not None:
                return self._events(request, req.events)
            if req.download is None:
                return decode(self.http.send(request))
            return self._download(request, req.download)
        except httpx.HTTPError as exc:
            return send_error(exc)

    def _events(self, request: httpx.Request, feed: EventFeed) -> Response | SendError:
        raw = self.http.send(request, stream=True)
        try:
            if not wire.is_event_stream(raw.status_code, raw.headers):
                raw.read()
                return decode(raw)
            receiver = EventReceiver(feed)
            for chunk in raw.iter_bytes():
                receiver.write(chunk)
            return receiver.answer(raw.status_code, dict(raw.headers))
        finally:
            raw.close()

    def _download(self, request: httpx.Request, target: Download) -> Response:
        raw = self.http.send(request, stream=True)
        try:
            if raw.status_code >= 400:
                raw.read()
                return decode(raw)
            with Receiver(target, raw) as receiver:
                for chunk in raw.iter_bytes(CHUNK):
                    receiver.write(chunk)
            return receiver.answer()
        finally:
            raw.close()

    def close(self) -> None:
        self.http.close()


class AsyncHTTPXTransport(_HTTPXOwner):
    """Asyncio sends over one ``httpx.AsyncClient``."""

    client_class = httpx.AsyncClient
    http: httpx.AsyncClient

    async def send(self, req: Request, headers: dict[str, str]) -> Response | SendError:
        request = build(self.http, req, headers, self.connect_timeout)
        try:
            if req.events is not None:
                return await self._events(request, req.events)
            if req.download is None:
                return decode(await self.http.send(request))
            return await self._download(request, req.download)
        except httpx.HTTPError as exc:
            return send_error(exc)

    async def _events(self, request: httpx.Request, feed: EventFeed) -> Response | SendError:
        raw = await self.http.send(request, stream=True)
        try:
            if not wire.is_event_stream(raw.status_code, raw.headers):
                await raw.aread()
                return decode(raw)
            receiver = EventReceiver(feed)
            async for chunk in raw.aiter_bytes():
                receiver.write(chunk)
            return receiver.answer(raw.status_code, dict(raw.headers))
        finally:
            await raw.aclose()

    async def _download(self, request: httpx.Request, target: Download) -> Response:
        raw = await self.http.send(request, stream=True)
        try:
            if raw.status_code >= 400:
                await raw.aread()
                return decode(raw)
            with Receiver(target, raw) as receiver:
                async for chunk in raw.aiter_bytes(CHUNK):
                    receiver.write(chunk)
            return receiver.answer()
        finally:
            await raw.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()


class AsyncAiohttpTransport(AsyncHTTPXTransport):
    """Asyncio sends on an aiohttp pool: the async client's default.

    A request without an upload or download (executions, streamed ones included,
    polling, listings) goes through :meth:`AiohttpTransport.fetch`, which builds no
    httpx objects (their CPU cost is what held the client to 0.26x of a raw aiohttp
    loop at 500 sessions, and ~0.6 ms of every streamed cell).
    Uploads and downloads go through httpx over the same :class:`AiohttpTransport`,
    so they stream. Both paths raise httpx's exception classes, so :func:`send_error`
    maps them: only a failure before a byte could leave is ``connect``.

    An injected transport that is not an :class:`AiohttpTransport` (a test's
    ``httpx.MockTransport``) gets the plain httpx path for every request.
    """

    def __init__(
        self,
        endpoint: str,
        connect_timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if transport is None:
            transport = AiohttpTransport(max_connections=max_connections)
        super().__init__(endpoint, connect_timeout, transport, max_connections=max_connections)
        self.wire = transport if isinstance(transport, AiohttpTransport) else None
        self.base = str(self.http.base_url).rstrip("/") + "/"  # httpx merges paths so

    async def send(self, req: Request, headers: dict[str, str]) -> Response | SendError:
        if self.wire is None or req.upload is not None or req.download is not None:
            return await super().send(req, headers)
        receiver = None if req.events is None else EventReceiver(req.events)
        try:
            status, answer_headers, content = await self.wire.fetch(
                req.method,
                self.base + req.path.lstrip("/"),
                params=req.params,
                headers={"User-Agent": USER_AGENT, **request_headers(req, headers)},
                json_body=req.json,
                timeout=timeout(req, self.connect_timeout),
                on_events=None if receiver is None else receiver.write,
            )
        except httpx.HTTPError as exc:
            return send_error(exc)
        if receiver is not None and wire.is_event_stream(status, answer_headers):
            return receiver.answer(status, answer_headers)
        return Response(status, answer_headers, parse(status, answer_headers, content))
