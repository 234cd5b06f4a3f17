"""Server-sent events as plain data: bytes in, :class:`ServerEvent` out (no I/O).

The streaming extension of ``POST /executions`` (docs/protocol-extensions.md)
answers ``text/event-stream``. The transport feeds the body's chunks to
:meth:`EventParser.feed` as they arrive, the way a ``Download`` feeds its sink;
the parser follows the WHATWG rules that matter here: ``id``/``event``/``data``
fields, several ``data`` lines joined by newlines, comments (heartbeats)
ignored, CR, LF or CRLF line ends, and an event only once its blank line came.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class ServerEvent:
    """One event: its ``id`` (None when the server sent none), ``event`` name and data."""

    event: str
    data: str
    id: int | None = None

    def json(self) -> Any:
        """The data as JSON (every event of the pool carries one JSON value)."""
        return json.loads(self.data)


class EventParser:
    """Incremental SSE parser: :meth:`feed` bytes, get the events they completed."""

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._id: int | None = None
        #: The id of the last event parsed: what a resume sends as ``Last-Event-ID``.
        self.last_event_id: int | None = None

    def feed(self, chunk: bytes) -> list[ServerEvent]:
        """Parse ``chunk``; return the events whose blank line it completed."""
        data = self._buffer + chunk
        hold = b""
        if data.endswith(b"\r"):  # may be half of a CRLF: decide with the next chunk
            data, hold = data[:-1], b"\r"
        lines = _LINE_END.split(data)
        self._buffer = lines.pop() + hold
        events = []
        for line in lines:
            event = self._line(line.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> ServerEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: heartbeats
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and value.isdigit():
            self._id = int(value)
        return None

    def _dispatch(self) -> ServerEvent | None:
        if not self._data and not self._event:
            self._id = None
            return None
        event = ServerEvent(self._event or "message", "\n".join(self._data), self._id)
        if self._id is not None:
            self.last_event_id = self._id
        self._event, self._data, self._id = "", [], None
        return event
