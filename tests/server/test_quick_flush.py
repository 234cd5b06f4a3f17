"""A stream flush with nothing to send skips its IOPub round trip; one with text sends it.

On a real ipykernel OutStream and IOPub thread (a PUB socket with a subscriber),
and in a real session kernel of the local pool.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from ipykernel.iostream import IOPubThread, OutStream
from jupyter_client.session import Session

from remote_kernel.identifiers import new_identifier
from remote_kernel.server.inside.quick_flush import skip_empty_flushes


@pytest.fixture
def iopub(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[OutStream, zmq.Socket, list[Any]]]:
    """An OutStream on a running IOPub thread, a subscriber, and the thread's schedule log."""
    monkeypatch.setattr(OutStream, "flush", OutStream.flush)  # restored after the test
    monkeypatch.setattr(OutStream, "_rk_quick", False, raising=False)
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(f"tcp://127.0.0.1:{port}")
    thread = IOPubThread(pub)
    thread.start()
    scheduled: list[Any] = []
    schedule = thread.schedule

    def logged(f: Any) -> None:
        scheduled.append(f)
        schedule(f)

    monkeypatch.setattr(thread, "schedule", logged)
    stream = OutStream(Session(key=b""), thread, "stdout", watchfd=False)
    time.sleep(0.2)  # the subscription reaches the PUB socket
    try:
        yield stream, sub, scheduled
    finally:
        stream.close()
        thread.stop()
        context.destroy(linger=0)  # the PUB socket, the thread's pipes, the subscriber


def test_an_empty_flush_costs_no_round_trip(iopub: Any) -> None:
    stream, _, scheduled = iopub
    assert skip_empty_flushes(stream)
    stream.flush()
    assert scheduled == []
    assert not skip_empty_flushes(stream)  # once per type


def test_a_flush_with_text_still_sends_it(iopub: Any) -> None:
    stream, sub, scheduled = iopub
    assert skip_empty_flushes(stream)
    stream.write("hello")
    stream.flush()
    assert scheduled  # the round trip happened
    assert sub.poll(5000), "the text was not sent"
    frames = sub.recv_multipart()
    assert b'"hello"' in frames[-1]


def test_without_it_every_flush_is_a_round_trip(iopub: Any) -> None:
    stream, _, scheduled = iopub
    stream.flush()
    assert scheduled  # what the session kernels no longer pay for each empty flush


def test_session_kernels_have_it(pool_client: Any) -> None:
    session = new_identifier()
    code = "import sys; print(type(sys.stdout).__name__, getattr(type(sys.stdout), '_rk_quick', 0))"
    try:
        result = pool_client.execute(code, session=session)
        assert result.stdout.split() == ["OutStream", "True"]
        # Output written just before the cell ends still comes with the cell.
        result = pool_client.execute(
            "import sys\nfor i in range(3): print(i)\nsys.stdout.flush(); print('end', end='')",
            session=session,
        )
        assert result.stdout == "0\n1\n2\nend"
    finally:
        pool_client.delete_session(session)
