"""The httpx transports: send one :class:`Request` once, answer a :class:`Response`
or a :class:`SendError`. Nothing else (no retries, no parsing) happens here.

Another HTTP library (issue 16: aiohttp under the async client) is another
class with the same two methods, ``send`` and ``close``/``aclose``, that maps
its own exceptions to :class:`SendError` kinds.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from remote_kernel import __version__, wire
from remote_kernel.client.messages import Download, EventFeed, Request, Response, SendError
from remote_kernel.client.policy import DEFAULT_READ_TIMEOUT
from remote_kernel.client.transfers import DownloadSink

CHUNK = 1 << 20
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def client_kwargs(endpoint: str, connect_timeout: float) -> dict[str, Any]:
    """Settings of the ``httpx.Client``/``httpx.AsyncClient`` under a transport."""
    return {
        "base_url": endpoint,
        "headers": {"User-Agent": f"remote-kernel/{__version__}"},
        "timeout": httpx.Timeout(DEFAULT_READ_TIMEOUT, connect=connect_timeout),
        # Keep idle connections a minute (notebook cells are seconds apart: a new TLS
        # handshake per cell is what the known clients pay), but drop them before the
        # server does (load balancers: 4 min; the local pool: 2 min), so a request is
        # never written into a connection the server is closing.
        "limits": httpx.Limits(
            max_connections=200, max_keepalive_connections=100, keepalive_expiry=60.0
        ),
        "follow_redirects": False,
    }


def build(
    http: httpx.Client | httpx.AsyncClient,
    req: Request,
    headers: dict[str, str],
    connect_timeout: float,
) -> httpx.Request:
    """The httpx request for ``req``; its read timeout is the request's own (an execution's)."""
    read = req.read_timeout or DEFAULT_READ_TIMEOUT
    resume = req.events.parser.last_event_id if req.events is not None else None
    kwargs: dict[str, Any] = {
        "params": req.params,
        "headers": {
            **req.headers,
            **headers,
            **({"Last-Event-ID": str(resume)} if resume is not None else {}),
        },
        "timeout": httpx.Timeout(read, connect=connect_timeout, pool=connect_timeout),
    }
    if req.upload is not None:
        field, name, fileobj, ctype = req.upload
        kwargs["files"] = {field: (name, fileobj, ctype)}
    elif req.json is not None:
        kwargs["json"] = req.json
    return http.build_request(req.method, req.path, **kwargs)


def decode(response: httpx.Response) -> Response:
    """JSON when it is JSON, text for errors and text types, bytes otherwise."""
    ctype = response.headers.get("content-type", "")
    body: Any = response.content
    if "json" in ctype or body[:1] in (b"{", b"["):
        try:
            body = response.json()
        except ValueError:
            body = response.text
    elif response.status_code >= 400 or ctype.startswith("text/"):
        body = response.text
    return Response(response.status_code, dict(response.headers), body)


def send_error(exc: httpx.HTTPError) -> SendError:
    """What an httpx failure means for another try (see :class:`SendError`)."""
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ReadTimeout):
        return SendError("read_timeout", reason)
    if isinstance(exc, _NEVER_SENT):
        return SendError("connect", reason)
    if isinstance(exc, httpx.TimeoutException):
        return SendError("timeout", reason)
    return SendError("broken", reason)


def is_event_stream(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "")
    return response.status_code < 400 and ctype.startswith(wire.EVENT_STREAM)


class EventReceiver:
    """An event-stream answer: output events to the feed, the ``result`` event kept."""

    def __init__(self, feed: EventFeed, response: httpx.Response) -> None:
        self.feed = feed
        self.response = response
        self.result: Any = None
        feed.started = True

    def write(self, chunk: bytes) -> None:
        for event in self.feed.parser.feed(chunk):
            if event.event == wire.RESULT_EVENT:
                self.result = event.json()
            else:
                self.feed.on_event(event)

    def answer(self) -> Response | SendError:
        if self.result is None:
            return SendError("broken", "the event stream ended before the execution's result")
        return Response(self.response.status_code, dict(self.response.headers), self.result)


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


class HTTPXTransport:
    """Blocking sends over one ``httpx.Client`` (one keep-alive pool per client)."""

    def __init__(
        self, endpoint: str, connect_timeout: float, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.connect_timeout = connect_timeout
        self.http = httpx.Client(transport=transport, **client_kwargs(endpoint, connect_timeout))

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
            if not is_event_stream(raw):
                raw.read()
                return decode(raw)
            receiver = EventReceiver(feed, raw)
            for chunk in raw.iter_bytes():
                receiver.write(chunk)
            return receiver.answer()
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


class AsyncHTTPXTransport:
    """Asyncio sends over one ``httpx.AsyncClient``."""

    def __init__(
        self,
        endpoint: str,
        connect_timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.http = httpx.AsyncClient(
            transport=transport, **client_kwargs(endpoint, connect_timeout)
        )

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
            if not is_event_stream(raw):
                await raw.aread()
                return decode(raw)
            receiver = EventReceiver(feed, raw)
            async for chunk in raw.aiter_bytes():
                receiver.write(chunk)
            return receiver.answer()
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
