"""An ``httpx.AsyncBaseTransport`` that sends over an ``aiohttp.ClientSession``.

Why: httpx's own async pool (httpcore) collapses at agent scale (hundreds of
concurrent requests: ~100 exec/s, multi-second p99, ``PoolTimeout``; encode/httpx
issue 3215), while aiohttp's connector holds up (see ``benchmarks/bench_scale.py``).
This module swaps only the wire: ``AsyncSessionPoolClient`` keeps building
``httpx.Request`` objects and reading ``httpx.Response`` objects, so the sans-I/O
protocol layer, the retry policy and the error translation are untouched.
httpx's own objects cost about 0.5 ms of CPU per request, more than aiohttp's
whole request, so :meth:`AiohttpTransport.fetch` also offers the small JSON
requests (executions, polling, listings) a path without them, on the same pool.

What it keeps, and how:

- **Never re-send an execution.** aiohttp errors become httpx's classes, and only
  an error raised before a byte of the request could have left maps to a
  "never sent" class (``ConnectError``, ``ConnectTimeout``, ``PoolTimeout``).
  A dropped connection after that is ``RemoteProtocolError``/``ReadError``,
  which the client does not re-send. (aiohttp re-tries a stale keep-alive
  connection only for idempotent methods, never for POST.)
- **Per-request timeouts.** httpx's ``timeout`` extension maps to aiohttp's
  ``sock_connect`` (connect) and ``sock_read`` (read: the client ties it to the
  execution timeout); ``pool`` bounds the wait for a free connection.
- **A full pool queues.** Requests beyond ``max_connections`` wait in FIFO order
  for a free connection; only when the ``pool`` timeout passes does the request
  fail, with :class:`ClientPoolFullError` (a ``PoolTimeout``: nothing was sent)
  whose message names the client's own limit, not an unreachable pool.
- **Streaming both ways.** Request bodies (multipart uploads) are fed to aiohttp
  chunk by chunk from httpx's stream, keeping ``Content-Length`` when httpx knows
  it; response bodies are read chunk by chunk when the caller iterates them.
- httpx keeps cookies, redirects and content decoding; aiohttp is told to do none
  of them, so nothing is done twice.
- Proxies come from HTTPS_PROXY/HTTP_PROXY/NO_PROXY as with httpx, resolved once
  per host. Not aiohttp's ``trust_env``: it reads ~/.netrc and the environment in
  a worker thread on every request, and netrc Basic auth would clash with the
  client's own Authorization header.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import httpx
from yarl import URL

from remote_kernel import wire

CHUNK = 1 << 16

#: Headers aiohttp must compute itself (from the body it actually sends).
_DROPPED_HEADERS = frozenset({"transfer-encoding"})

#: ``asyncio.timeout`` (3.11+): bounds a wait without wrapping it in a task.
_TIMEOUT = getattr(asyncio, "timeout", None)


class ClientPoolFullError(httpx.PoolTimeout):
    """Waited ``pool`` seconds for a free connection of the client's own pool.

    Nothing was sent: the pool at the other end was not even contacted.
    """

    def __init__(self, max_connections: int, waited: float, request: httpx.Request | None) -> None:
        self.max_connections = max_connections
        self.waited = waited
        super().__init__(
            f"the client's own connection pool was full: all {max_connections} connections "
            f"stayed busy for {waited:g} s, so the request was not sent; raise "
            "max_connections (or run fewer requests at once)",
            request=request,
        )


def map_exception(exc: BaseException, request: httpx.Request | None) -> httpx.TransportError:
    """The httpx exception the client's retry policy expects for an aiohttp failure.

    Order matters: the connector errors are ``OSError`` subclasses too, and only
    they (nothing sent yet) may become ``ConnectError``.
    """
    message = str(exc) or type(exc).__name__
    kind: type[httpx.TransportError]
    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ClientProxyConnectionError)):
        kind = httpx.ConnectError
    elif isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout
    elif isinstance(exc, (aiohttp.SocketTimeoutError, asyncio.TimeoutError)):
        kind = httpx.ReadTimeout
    elif isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        kind = httpx.UnsupportedProtocol
    elif isinstance(
        exc,
        (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError),
    ):
        kind = httpx.RemoteProtocolError
    else:  # ClientOSError and the rest: the request may have left
        kind = httpx.ReadError
    return kind(message, request=request)


class _ResponseBody(httpx.AsyncByteStream):
    """The aiohttp response body, read lazily; closing it frees the connection slot."""

    def __init__(
        self, response: aiohttp.ClientResponse, request: httpx.Request, release: Callable[[], None]
    ) -> None:
        self._response = response
        self._request = request
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(CHUNK):
                yield chunk
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise map_exception(exc, self._request) from exc

    async def aclose(self) -> None:
        if self._release is not None:
            self._response.release()  # closes the connection if the body was not all read
            self._release()
            self._release = None


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx's async transport interface on an aiohttp connection pool.

    ``max_connections`` caps the open connections; further requests queue for up
    to the request's ``pool`` timeout. ``keepalive_expiry`` should stay below the
    server's idle timeout so a request is never written into a closing connection.
    ``verify`` is True (certifi/SSL_CERT_FILE, as httpx), False, or an SSLContext.
    ``trust_env`` honours HTTPS_PROXY/HTTP_PROXY/NO_PROXY as httpx does.
    """

    def __init__(
        self,
        *,
        max_connections: int = 200,
        keepalive_expiry: float = 60.0,
        verify: bool | ssl.SSLContext = True,
        trust_env: bool = True,
    ) -> None:
        if int(max_connections) < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections!r}")
        self.max_connections = int(max_connections)
        self._keepalive = keepalive_expiry
        self._ssl: ssl.SSLContext | bool = (
            httpx.create_ssl_context(verify=verify) if verify is True else verify
        )
        self._trust_env = trust_env
        self._proxies: dict[tuple[str, str], str | None] = {}
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _pool(self) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
        """The session and slot counter of the running loop (created on first use:
        aiohttp binds them to a loop, and clients are often built outside one)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._slots is None or self._loop is not loop:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=0,
                keepalive_timeout=self._keepalive,
                ssl=self._ssl,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
                auto_decompress=False,  # httpx decodes Content-Encoding
                skip_auto_headers=("User-Agent",),
            )
            self._slots = asyncio.Semaphore(self.max_connections)
            self._loop = loop
        return self._session, self._slots

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session, slots = self._pool()
        timeout: dict[str, Any] = request.extensions.get("timeout", {})
        await self._acquire(slots, timeout.get("pool"), request)
        try:
            response = await self._open(
                session,
                request.method,
                URL(str(request.url), encoded=True),
                headers=[
                    (k, v)
                    for k, v in request.headers.multi_items()
                    if k.lower() not in _DROPPED_HEADERS
                ],
                data=_body(request),
                connect=timeout.get("connect"),
                read=timeout.get("read"),
                request=request,
            )
        except BaseException:
            slots.release()
            raise
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_ResponseBody(response, request, slots.release),
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("ascii", "replace"),
            },
        )

    async def fetch(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        timeout: httpx.Timeout,
        on_events: Callable[[bytes], None] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """The fast path for a small JSON request: (status, headers lower-cased, body bytes).

        Same pool, queueing, timeouts and error classes as an httpx request through
        this transport, without building httpx's Request/Response/URL objects (about
        half a millisecond of CPU per execution: more than aiohttp's whole request).
        With ``on_events``, an event-stream answer goes to it chunk by chunk as it
        arrives (the body returned is then empty): a streamed cell takes this path too.
        Uploads and downloads keep the httpx path, which streams.
        """
        session, slots = self._pool()
        await self._acquire(slots, timeout.pool, None)
        try:
            hdrs = dict(headers or {})
            data = None
            if json_body is not None:
                data = json.dumps(
                    json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
                ).encode()
                hdrs.setdefault("Content-Type", "application/json")
            response = await self._open(
                session,
                method,
                URL(url).update_query(params) if params else URL(url),
                headers=hdrs,
                data=data,
                connect=timeout.connect,
                read=timeout.read,
                request=None,
            )
            try:
                if on_events is not None and wire.is_event_stream(
                    response.status, response.headers
                ):
                    async for chunk in response.content.iter_any():
                        on_events(chunk)
                    body = b""
                else:
                    body = await response.read()
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                raise map_exception(exc, None) from exc
            finally:
                response.release()
            return response.status, {k.lower(): v for k, v in response.headers.items()}, body
        finally:
            slots.release()

    async def _acquire(
        self, slots: asyncio.Semaphore, wait: float | None, request: httpx.Request | None
    ) -> None:
        """Queue for a connection slot; past ``wait`` seconds, nothing is sent."""
        if not slots.locked():
            await slots.acquire()
            return
        try:
            if _TIMEOUT is None:  # Python 3.10
                await asyncio.wait_for(slots.acquire(), wait)
            else:  # no task per wait, as wait_for makes on 3.11 (many wait at 500 sessions)
                async with _TIMEOUT(wait):
                    await slots.acquire()
        except asyncio.TimeoutError:
            raise ClientPoolFullError(self.max_connections, wait or 0.0, request) from None

    async def _open(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        *,
        headers: Any,
        data: Any,
        connect: float | None,
        read: float | None,
        request: httpx.Request | None,
    ) -> aiohttp.ClientResponse:
        """Send the request and read the response head; the body is left to the caller."""
        try:
            return await session.request(
                method,
                url,
                headers=headers,
                data=data,
                allow_redirects=False,
                compress=None,
                proxy=self._proxy(url),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=None,  # the pool wait is ours (_acquire)
                    sock_connect=connect,
                    sock_read=read,
                ),
            )
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise map_exception(exc, request) from exc

    def _proxy(self, url: URL) -> str | None:
        """The proxy for ``url`` from the environment, looked up once per host."""
        key = (url.scheme, url.host or "")
        if key not in self._proxies:
            self._proxies[key] = env_proxy(*key) if self._trust_env else None
        return self._proxies[key]

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def env_proxy(scheme: str, host: str) -> str | None:
    """HTTPS_PROXY / HTTP_PROXY / ALL_PROXY for ``scheme`` unless NO_PROXY exempts ``host``."""
    proxies = urllib.request.getproxies_environment()
    if proxies.get("no") and urllib.request.proxy_bypass_environment(host, proxies):
        return None
    return proxies.get(scheme) or proxies.get("all")


def _body(request: httpx.Request) -> bytes | AsyncIterator[bytes] | None:
    """The request body: bytes when httpx holds it, else streamed chunk by chunk."""
    try:
        content = request.content
    except httpx.RequestNotRead:
        return _stream(request.stream)  # type: ignore[arg-type]
    return content or None


async def _stream(stream: httpx.AsyncByteStream) -> AsyncIterator[bytes]:
    async for chunk in stream:
        yield chunk
