"""What the sync and async clients share: settings, auth, request building,
response decoding, the retry policy and error translation. No I/O here."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from remote_kernel import __version__, errors
from remote_kernel.client.auth import Auth, make_auth
from remote_kernel.client.protocol import ENDPOINT_FIX, Protocol, Request, Response
from remote_kernel.config import (
    DEFAULT_API_VERSION,
    ENDPOINT_HELP,
    PoolSettings,
    check_api_version,
    check_endpoint,
    is_loopback,
)

Progress = Callable[[int, "int | None"], None]

#: GET/DELETE and polling: at most this many tries, with these pauses.
RETRY_DELAYS = (0.2, 0.5, 1.0)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
DEFAULT_READ_TIMEOUT = 60.0
CHUNK = 1 << 20


class ClientBase:
    """Configuration and pure helpers for :class:`SessionPoolClient` and its async twin."""

    def __init__(
        self,
        endpoint: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        auth: str | Auth = "auto",
        token: str | None = None,
        credential: Any = None,
        timeout: float = 220.0,
        connect_timeout: float = 10.0,
    ) -> None:
        endpoint = check_endpoint(endpoint)
        if not endpoint:
            raise errors.ConfigurationError("No pool endpoint given.", fix=ENDPOINT_HELP)
        check_api_version(api_version)
        if isinstance(auth, Auth):
            self._auth = auth
        else:
            self._auth = make_auth(auth, endpoint=endpoint, token=token, credential=credential)
        self.endpoint = endpoint
        self.api_version = api_version
        self.connect_timeout = float(connect_timeout)
        self.protocol = Protocol(endpoint, api_version, default_timeout=timeout)
        self.protocol.auth_mode = self._auth.mode

    @classmethod
    def _settings_kwargs(cls, settings: PoolSettings, endpoint: str | None) -> dict[str, Any]:
        endpoint = endpoint or settings.pool_endpoint
        return {
            "endpoint": endpoint,
            "api_version": settings.api_version,
            "auth": settings.resolved_auth(endpoint),
            "token": settings.token or None,
            "timeout": settings.execution_timeout,
            "connect_timeout": settings.connect_timeout,
        }

    @property
    def auth_mode(self) -> str:
        return self._auth.mode

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} endpoint={self.endpoint!r} "
            f"api_version={self.api_version!r} auth={self._auth.mode!r}>"
        )

    # ---------------------------------------------------------------- building
    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.endpoint,
            "headers": {"User-Agent": f"remote-kernel/{__version__}"},
            "timeout": httpx.Timeout(DEFAULT_READ_TIMEOUT, connect=self.connect_timeout),
            # Keep idle connections a minute (notebook cells are seconds apart: a new TLS
            # handshake per cell is what the known clients pay), but drop them before the
            # server does (load balancers: 4 min; the local pool: 2 min), so a request is
            # never written into a connection the server is closing.
            "limits": httpx.Limits(
                max_connections=200, max_keepalive_connections=100, keepalive_expiry=60.0
            ),
            "follow_redirects": False,
        }

    def _timeout(self, req: Request) -> httpx.Timeout:
        read = req.read_timeout or DEFAULT_READ_TIMEOUT
        return httpx.Timeout(read, connect=self.connect_timeout, pool=self.connect_timeout)

    def _build(
        self, http: httpx.Client | httpx.AsyncClient, req: Request, auth_header: dict[str, str]
    ) -> httpx.Request:
        kwargs: dict[str, Any] = {
            "params": req.params,
            "headers": {**req.headers, **auth_header},
            "timeout": self._timeout(req),
        }
        if req.upload is not None:
            field, name, fileobj, ctype = req.upload
            kwargs["files"] = {field: (name, fileobj, ctype)}
        elif req.json is not None:
            kwargs["json"] = req.json
        return http.build_request(req.method, req.path, **kwargs)

    @staticmethod
    def _decode(response: httpx.Response) -> Response:
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

    # ---------------------------------------------------------------- retrying
    @staticmethod
    def _retry_delay(
        req: Request,
        attempt: int,
        *,
        exc: Exception | None = None,
        response: Response | None = None,
    ) -> float | None:
        """Seconds to wait before another try, or None: do not try again.

        A request that may have reached the server (anything but a failed
        connect) is retried only when idempotent: an execution never runs twice.
        """
        if attempt >= len(RETRY_DELAYS):
            return None
        if exc is not None:
            never_sent = isinstance(
                exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
            )
            return (
                RETRY_DELAYS[attempt]
                if (never_sent or req.idempotent) and not isinstance(exc, httpx.ReadTimeout)
                else None
            )
        if response is not None and req.idempotent and response.status_code in RETRY_STATUSES:
            after = response.header("retry-after")
            try:
                return min(float(after), 10.0) if after else RETRY_DELAYS[attempt]
            except ValueError:
                return RETRY_DELAYS[attempt]
        return None

    def _transport_error(
        self, exc: Exception, req: Request, session: str | None = None
    ) -> errors.TransportError:
        op = req.operation or "request"
        reason = errors.redact(str(exc) or type(exc).__name__, *self._auth.secrets())
        if isinstance(exc, httpx.ReadTimeout):
            seconds = req.read_timeout or DEFAULT_READ_TIMEOUT
            tail = (
                " The execution was not re-sent; it may still be running in the session."
                if op == "execute"
                else ""
            )
            return errors.PoolTimeoutError(
                f"The pool did not answer the {op} within {seconds:g} s.{tail}",
                fix="Raise the timeout (c.PoolSettings.execution_timeout, at most 220 s) or "
                "make the cell shorter.",
            )
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            return errors.PoolConnectionError(
                f"Cannot reach the session pool at {self.endpoint} ({op}): {reason}.",
                fix=ENDPOINT_FIX
                + (
                    " For the local pool, start it with `remote-kernel serve`."
                    if is_loopback(self.endpoint)
                    else ""
                ),
            )
        if isinstance(exc, httpx.TimeoutException):
            return errors.PoolTimeoutError(f"The {op} timed out: {reason}.")
        tail = " The execution was not re-sent." if op == "execute" else ""
        return errors.TransportError(
            f"The connection to {self.endpoint} broke during the {op}: {reason}.{tail}"
        )


# ------------------------------------------------------------------ file sources
class ProgressReader(io.RawIOBase):
    """A read-only file wrapper that reports how many bytes were read."""

    def __init__(
        self, raw: BinaryIO, total: int | None, progress: Progress | None, name: str = ""
    ) -> None:
        super().__init__()
        self._raw = raw
        self._name = name
        self._total = total
        self._progress = progress
        self._start = raw.tell() if raw.seekable() else 0
        self.done = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def tell(self) -> int:
        return self._raw.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def rewind(self) -> None:
        if self._raw.seekable():
            self._raw.seek(self._start)
        self.done = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._raw.read(size)
        except OSError as exc:
            # Raised inside httpx's body streaming, which would let it out bare.
            raise errors.TransferError(
                f"Upload of {self._name!r} stopped after {self.done} bytes: reading the local "
                f"file failed ({exc}). The pool keeps no part of it; nothing was stored."
            ) from exc
        if data:
            self.done += len(data)
            if self._progress is not None:
                self._progress(self.done, self._total)
        return data

    def readinto(self, buffer: Any) -> int:  # pragma: no cover - httpx uses read()
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_source(
    source: str | os.PathLike[str] | bytes | BinaryIO,
    remote_name: str | None,
    progress: Progress | None,
) -> tuple[ProgressReader, str, Callable[[], None]]:
    """(reader, remote name, close) for a path, bytes or a binary file object."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not remote_name:
            raise errors.ConfigurationError("Uploading bytes needs remote_name.")
        raw: BinaryIO = io.BytesIO(bytes(source))
        total: int | None = len(source)
        close = raw.close
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise errors.TransferError(f"No such local file: {str(path)!r}.")
        raw = path.open("rb")
        total = path.stat().st_size
        remote_name = remote_name or path.name
        close = raw.close
    elif hasattr(source, "read"):
        raw = source
        remote_name = remote_name or Path(str(getattr(source, "name", "") or "")).name
        if not remote_name:
            raise errors.ConfigurationError("Uploading a file object needs remote_name.")
        try:
            total = os.fstat(raw.fileno()).st_size - (raw.tell() if raw.seekable() else 0)
        except (OSError, AttributeError, io.UnsupportedOperation):
            total = None

        def close() -> None:
            return None
    else:
        raise errors.ConfigurationError(
            f"Cannot upload a {type(source).__name__}: give a path, bytes or a binary file."
        )
    return ProgressReader(raw, total, progress, remote_name), remote_name, close


class DownloadSink:
    """Where a download goes: bytes in memory, a file object, or a path written
    through a temporary file renamed into place only when complete."""

    def __init__(self, destination: str | os.PathLike[str] | BinaryIO | None) -> None:
        self._destination = destination
        self._buffer: io.BytesIO | None = None
        self._tmp: Path | None = None
        if destination is None:
            self._buffer = io.BytesIO()
            self.file: BinaryIO = self._buffer
        elif isinstance(destination, (str, os.PathLike)):
            final = Path(destination)
            if final.is_dir():
                raise errors.ConfigurationError(f"{str(final)!r} is a directory.")
            final.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = final.with_name(f".{final.name}.part-{os.getpid()}")
            self.file = self._tmp.open("wb")
        else:
            self.file = destination

    def finish(self) -> bytes | None:
        if self._buffer is not None:
            return self._buffer.getvalue()
        if self._tmp is not None:
            self.file.close()
            os.replace(self._tmp, Path(self._destination))  # type: ignore[arg-type]
        return None

    def abort(self) -> None:
        if self._tmp is not None:
            self.file.close()
            self._tmp.unlink(missing_ok=True)
