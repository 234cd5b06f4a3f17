"""The streaming extension of ``POST /executions``: one execution's events as server-sent events.

A streamed execution keeps an :class:`EventLog`: every event the runtime's
:class:`~remote_kernel.server.outputs.OutputCollector` kept, numbered from 1.
Readers (the ``POST`` that asked for a stream, or a ``GET /executions/{id}``
resuming with ``Last-Event-ID``) read it from where they are; the run never
waits for them, so a dropped connection neither cancels nor stalls it.

Memory stays within the output limits: the events a log holds are those the
collector kept (stream text cut at the limit, rich outputs within their byte
budget), consecutive stream chunks that no reader has seen yet are merged into
one event (a slow reader gets bigger chunks, not more of them), and at most
:data:`MAX_EVENTS` events are held; older ones are forgotten, and a resume from
before the window gets a ``gap`` event saying how many it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from remote_kernel import wire
from remote_kernel.server.outputs import OutputEvent

#: Events held per execution (beyond the stream merging); older ones are forgotten.
MAX_EVENTS = 10_000
#: Seconds of silence after which a stream sends a comment, so proxies keep it open.
HEARTBEAT_SECONDS = 15.0


@dataclass
class LoggedEvent:
    """One numbered event; a stream event's text is a list of chunks until a reader sees it."""

    id: int
    msg_type: str
    content: dict[str, Any]
    chunks: list[str] | None = None

    def seal(self) -> None:
        """Freeze a merged stream event: what a reader got under this id never changes."""
        if self.chunks is not None:
            self.content = {**self.content, "text": "".join(self.chunks)}
            self.chunks = None


class EventLog:
    """One execution's events, numbered, bounded, readable from any id by many readers."""

    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self._events: deque[LoggedEvent] = deque()
        self._max_events = max(1, max_events)
        self._next_id = 1
        self._seen = 0  # the highest id any reader was given: never merged into again
        self._waiters: list[asyncio.Future[None]] = []
        self.closed = False

    @property
    def last_id(self) -> int:
        return self._next_id - 1

    def append(self, event: OutputEvent) -> None:
        """The collector's sink: log ``event`` (merging unseen stream text) and wake readers."""
        if self.closed:
            return
        last = self._events[-1] if self._events else None
        if (
            event.msg_type == "stream"
            and last is not None
            and last.chunks is not None
            and last.id > self._seen
            and last.content.get("name") == event.content.get("name")
        ):
            last.chunks.append(str(event.content.get("text") or ""))
        else:
            self._add(event.msg_type, event.content)
        self._wake()

    def _add(self, msg_type: str, content: dict[str, Any]) -> None:
        entry = LoggedEvent(self._next_id, msg_type, dict(content))
        if msg_type == "stream":
            entry.chunks = [str(content.get("text") or "")]
        self._next_id += 1
        self._events.append(entry)
        while len(self._events) > self._max_events:
            self._events.popleft()

    def close(self) -> None:
        """The execution ended: readers send the final body once they have read the rest."""
        self.closed = True
        for entry in self._events:
            entry.seal()
        self._wake()

    def read_after(self, last_id: int) -> tuple[int, list[LoggedEvent]]:
        """``(missed, events)``: the events after ``last_id``, and how many of them the
        log has forgotten (a reader far behind its window)."""
        first = self._events[0].id if self._events else self._next_id
        missed = max(0, first - 1 - last_id)
        events = [e for e in self._events if e.id > last_id]
        for entry in events:
            entry.seal()
        if events:
            self._seen = max(self._seen, events[-1].id)
        return missed, events

    async def wait(self, timeout: float) -> bool:
        """Wait for a new event or the end, at most ``timeout`` seconds; False on timeout."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


def sse_event(event_id: int, kind: str, data: bytes | str) -> bytes:
    """One server-sent event; ``data`` is one line of JSON (compact JSON has no newline)."""
    payload = data if isinstance(data, bytes) else data.encode()
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event_id, kind.encode(), payload)


def _json(content: dict[str, Any]) -> bytes:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


#: The final body of the execution, as a non-streamed request would get it (bytes).
FinalBody = Callable[[], bytes]


async def sse_stream(
    log: EventLog | None,
    done: asyncio.Event,
    final_body: FinalBody,
    *,
    last_event_id: int = 0,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> AsyncIterator[bytes]:
    """The SSE body: the events after ``last_event_id``, heartbeat comments while quiet,
    and last a ``result`` event holding the final JSON body.

    ``log`` is None for an execution that was not streamed: only the result comes.
    """
    last = last_event_id
    while True:
        # What is ready goes out as one write: a quick cell is one chunk, as a plain answer.
        chunk: list[bytes] = []
        if log is not None:
            missed, events = log.read_after(last)
            if missed:
                chunk.append(sse_event(last + missed, wire.GAP_EVENT, _json({"dropped": missed})))
            for entry in events:
                chunk.append(sse_event(entry.id, entry.msg_type, _json(entry.content)))
                last = entry.id
        finished = done.is_set() and (log is None or log.closed)
        if finished and (log is None or last >= log.last_id):
            chunk.append(sse_event(last + 1, wire.RESULT_EVENT, final_body()))
            yield b"".join(chunk)
            return
        if chunk:
            yield b"".join(chunk)
        if not await _quiet(log, done, heartbeat):
            yield b": heartbeat\n\n"


async def _quiet(log: EventLog | None, done: asyncio.Event, heartbeat: float) -> bool:
    """Wait for something to send (True) or ``heartbeat`` seconds of silence (False)."""
    if log is not None:
        return await log.wait(heartbeat)
    try:
        await asyncio.wait_for(done.wait(), heartbeat)
        return True
    except asyncio.TimeoutError:
        return False


def parse_last_event_id(value: str | None) -> int:
    """The ``Last-Event-ID`` a resuming client sent (0: from the start)."""
    try:
        return max(0, int((value or "0").strip()))
    except ValueError:
        return 0


def wants_stream(accept: str | None) -> bool:
    """The request's ``Accept`` asks for server-sent events."""
    return any(
        part.split(";")[0].strip().lower() == wire.EVENT_STREAM
        for part in (accept or "").split(",")
    )
