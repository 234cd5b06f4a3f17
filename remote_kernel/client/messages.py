"""The plain data the protocol layer and the shells exchange (sans-I/O, like h11's events).

A step is a generator: it yields :class:`Request` (send this once) or
:class:`Sleep` (pause) and receives a :class:`Response` for each request. The
shells drive steps; they never build or parse a request themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from remote_kernel.client.sse import EventParser, ServerEvent

#: ``progress(done_bytes, total_bytes_or_None)``.
Progress = Callable[[int, "int | None"], None]
#: A duration in seconds; None: the client's default.
Seconds = float | None


@dataclass(frozen=True)
class Download:
    """Stream the response body to ``destination`` (None: into memory), reporting progress."""

    destination: Any = None
    progress: Progress | None = None


@dataclass
class EventFeed:
    """Parse a ``text/event-stream`` answer as it arrives: each output event goes to
    ``on_event`` at once, the ``result`` event becomes the Response's JSON body.

    The parser outlives one connection: a resume sends its ``last_event_id``.
    """

    on_event: Callable[[ServerEvent], None]
    parser: EventParser = field(default_factory=EventParser)
    #: An event stream answered (not a plain JSON body).
    started: bool = False


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Operation name used in error messages ("execute", "upload", ...).
    operation: str = ""
    #: Another try cannot repeat a side effect (GET, DELETE, polling).
    idempotent: bool = False
    #: Multipart upload: (field name, filename, file object, content type).
    upload: tuple[str, str, Any, str] | None = None
    #: Read timeout for this request (seconds), None: the client's default.
    read_timeout: float | None = None
    #: Set: the body is streamed to a file, and a 2xx Response's body is what
    #: :meth:`DownloadSink.finish` returned (the bytes, or None once written to a file).
    download: Download | None = None
    #: Set: an event-stream answer is parsed as it arrives (see :class:`EventFeed`).
    events: EventFeed | None = None


@dataclass(frozen=True)
class Response:
    status_code: int
    headers: dict[str, str]
    body: Any  # parsed JSON, text, or bytes

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lname:
                return value
        return None


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class SendError:
    """A request that got no HTTP answer, as any transport reports it.

    ``kind`` decides whether another try is safe: ``connect`` (never sent),
    ``pool_full`` (never sent: it queued its whole read timeout for a connection of
    the client's own pool), ``read_timeout`` (sent; the pool may be running it),
    ``timeout`` (another phase timed out) or ``broken`` (the connection broke after
    sending, or may have).
    """

    kind: str
    reason: str


Step = Generator["Request | Sleep", Response, Any]
