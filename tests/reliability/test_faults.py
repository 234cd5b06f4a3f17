"""Faults: each ends in a clear error that names what happened, and the next call works.

The pool runs in its own process (``remote-kernel serve``) so its kernels are
its psutil children, its memory is measured apart from the client's, and it
can be stopped and started again on the same port.
"""

from __future__ import annotations

import io
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from remote_kernel import errors
from remote_kernel.client import SessionPoolClient, codecs
from remote_kernel.client.models import ExecutionResult, ExecutionStatus
from remote_kernel.config import PoolSettings
from remote_kernel.identifiers import new_identifier
from remote_kernel.session import RemoteSession

from .pool_process import PeakSampler, ServedPool, free_port, own_rss, wait_until

pytestmark = pytest.mark.timeout(120)
MiB = 1 << 20


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPool]:
    """No prewarmed spares: a session's kernel is the child that appears with it."""
    base = tmp_path_factory.mktemp("faults")
    pool = ServedPool(
        base / "serve.log",
        token=secrets.token_urlsafe(24),
        max_sessions=8,
        prewarm=0,
        root=base / "areas",
    )
    yield pool
    pool.stop()


@pytest.fixture
def client(served: ServedPool) -> Iterator[SessionPoolClient]:
    with SessionPoolClient(served.url, token=served.token) as c:
        yield c


def _remote_session(url: str, token: str | None) -> RemoteSession:
    return RemoteSession(PoolSettings(pool_endpoint=url, token=token or ""))


def _kernels(pool: ServedPool) -> set[int]:
    return {p.pid for p in pool.children() if "ipykernel" in " ".join(_cmdline(p))}


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def _lost_warning(result: ExecutionResult) -> bool:
    """The lost-state notice travels beside the cell's outputs, never inside them."""
    return any(
        n.kind == "lost_state" and "Warning: the remote session" in n.text for n in result.notices
    ) and not any("Warning: the remote session" in o.get("text", "") for o in result.outputs)


# -- the session's kernel dies mid-cell ---------------------------------------------------


def test_kernel_killed_mid_cell_loses_the_session_and_the_next_call_starts_afresh(
    served: ServedPool,
) -> None:
    rs = _remote_session(served.url, served.token)
    try:
        before = _kernels(served)
        assert rs.execute("x = 41").ok
        new = _kernels(served) - before
        assert len(new) == 1, f"expected one new kernel, got {new}"
        kernel_pid = new.pop()
        outcome: dict[str, Any] = {}
        code = "open('started.txt', 'w').close()\nimport time\ntime.sleep(60)"
        cell = threading.Thread(target=lambda: outcome.update(r=rs.execute(code)))
        cell.start()
        # Mid-cell: the cell has made its file (seen through the API) and sleeps.
        with SessionPoolClient(served.url, token=served.token) as files:
            assert wait_until(
                lambda: "started.txt" in {f.name for f in files.list_files(session=rs.session_id)},
                20,
            )
        psutil.Process(kernel_pid).kill()
        cell.join(30)
        assert not cell.is_alive(), "the call did not return after its kernel was killed"
        lost = outcome["r"]
        assert lost.status is ExecutionStatus.FAILED
        assert lost.error is not None and lost.error.ename == "SessionLost"
        assert "interpreter died" in lost.error.evalue and "-9" in lost.error.evalue
        assert "next call" in lost.error.evalue

        after = rs.execute("print(globals().get('x'))")
        assert after.ok and after.stdout == "None\n"  # a fresh session: x is gone
        assert after.session_created is True
        assert _lost_warning(after), after.notices
        assert not psutil.pid_exists(kernel_pid) or psutil.Process(kernel_pid).status() == "zombie"
    finally:
        rs.close()


# -- the server restarts between two cells ------------------------------------------------


def test_server_restarted_between_cells_is_reported_and_the_next_call_works(
    tmp_path: Path,
) -> None:
    token, port = secrets.token_urlsafe(24), free_port()
    first = ServedPool(tmp_path / "first.log", token=token, port=port, prewarm=0)
    rs = _remote_session(first.url, token)
    second = None
    try:
        assert rs.execute("x = 1").ok
        first.stop()
        assert first.proc.returncode == 0
        # While it is down: a clear error naming the endpoint, nothing re-sent.
        with pytest.raises(errors.PoolConnectionError) as down:
            rs.execute("x")
        assert first.url in str(down.value) and "Cannot reach" in str(down.value)

        second = ServedPool(tmp_path / "second.log", token=token, port=port, prewarm=0)
        assert second.url == first.url
        result = rs.execute("print(globals().get('x'))")
        assert result.ok and result.stdout == "None\n"
        assert _lost_warning(result), result.notices
        assert rs.execute("y = 2\ny").value == 2  # and it goes on normally
    finally:
        rs.close()
        first.stop()
        if second is not None:
            second.stop()


# -- a read timeout while a long cell runs -------------------------------------------------


def test_read_timeout_never_runs_the_execution_twice(
    served: ServedPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_identifier("readto")
    cell = (
        "_runs = globals().get('_runs', 0) + 1\n"
        "open('runs.txt', 'a').write('x')\n"
        "import time\ntime.sleep(2.5)"
    )
    # The fault: the client's read timeout (execution timeout + margin) is 0.5 s
    # while the cell takes 2.5 s.
    monkeypatch.setattr(codecs, "READ_MARGIN", -29.5)
    with SessionPoolClient(served.url, token=served.token) as short:
        started = time.monotonic()
        with pytest.raises(errors.PoolTimeoutError) as caught:
            short.execute(cell, session=sid, timeout=30)
        assert time.monotonic() - started < 2.0, "the client waited past its read timeout"
    monkeypatch.undo()
    message = str(caught.value)
    assert "did not answer the execute within 0.5 s" in message
    assert "not re-sent" in message and "may still be running" in message
    with SessionPoolClient(served.url, token=served.token) as c:
        # Queued behind the still-running cell; then both counters say: ran once.
        check = c.execute("print(_runs, open('runs.txt').read())", session=sid, timeout=30)
        assert check.ok, check.stderr
        assert check.stdout == "1 x\n"
        c.delete_session(sid)


# -- nothing listens ------------------------------------------------------------------------


def test_connection_refused_names_the_endpoint_and_the_next_call_works(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sid = new_identifier("refused")
    with SessionPoolClient(url, token="refused-token-123") as c:
        started = time.monotonic()
        with pytest.raises(errors.PoolConnectionError) as caught:
            c.execute("1+1", session=sid)
        assert time.monotonic() - started < 10
        message = str(caught.value)
        assert f"Cannot reach the session pool at {url}" in message
        assert "remote-kernel serve" in message  # the fix for a local endpoint
        pool = ServedPool(tmp_path / "serve.log", token="refused-token-123", port=port, prewarm=0)
        try:
            assert c.execute("1+1", session=sid).value == 2
        finally:
            pool.stop()


# -- a cell that prints 100 MB ----------------------------------------------------------------


def test_hundred_megabytes_of_output_is_truncated_with_bounded_memory(
    served: ServedPool, client: SessionPoolClient
) -> None:
    sid = new_identifier("flood")
    assert client.execute("import sys", session=sid).ok
    server_before, client_before = served.server_rss(), own_rss()
    cell = "for _ in range(100):\n    sys.stdout.write('y' * (1 << 20))\nprint('end')"
    with PeakSampler(served.server_rss) as server, PeakSampler(own_rss) as mine:
        result = client.execute(cell, session=sid, timeout=120)
    assert result.ok, result.stderr
    assert result.truncated is True
    assert result.stdout.startswith("y" * 1000)
    notice = "".join(o.get("text", "") for o in result.outputs if o.get("name") == "stdout")
    assert "[output truncated: " in notice and "characters of stdout were dropped" in notice
    assert len(result.stdout) <= 1_000_000
    server_growth = (server.peak - server_before) / MiB
    client_growth = (mine.peak - client_before) / MiB
    print(
        f"\n100 MB cell: server RSS +{server_growth:.0f} MiB, client RSS +{client_growth:.0f} MiB"
    )
    assert server_growth < 64, f"server RSS grew by {server_growth:.0f} MiB for 100 MB of output"
    assert client_growth < 32, f"client RSS grew by {client_growth:.0f} MiB"
    assert client.execute("1+1", session=sid).value == 2  # the session is fine
    client.delete_session(sid)


# -- a cell that never returns --------------------------------------------------------------


def test_cell_that_never_returns_times_out_and_the_session_keeps_its_state(
    client: SessionPoolClient,
) -> None:
    sid = new_identifier("forever")
    assert client.execute("kept = 'still here'", session=sid).ok
    started = time.monotonic()
    result = client.execute("while True:\n    pass", session=sid, timeout=2)
    assert time.monotonic() - started < 10
    assert result.status is ExecutionStatus.TIMED_OUT
    assert result.error is not None and result.error.ename == "TimeoutError"
    assert "2 s timeout" in result.error.evalue and "kept its state" in result.error.evalue
    assert client.execute("kept", session=sid).value == "still here"
    client.delete_session(sid)


# -- an upload that breaks midway ----------------------------------------------------------


class _BreaksAfter(io.RawIOBase):
    """A readable file that raises ``exc`` once ``limit`` bytes were read."""

    def __init__(self, limit: int, exc: BaseException) -> None:
        self.limit, self.exc, self.done = limit, exc, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.done >= self.limit:
            raise self.exc
        size = 256 * 1024 if size is None or size < 0 else min(size, 256 * 1024)
        self.done += size
        return b"z" * size


def _server_files(served: ServedPool) -> list[Path]:
    """Every file in the server's session areas (the pool's --root)."""
    assert served.root is not None
    return [f for f in served.root.rglob("*") if f.is_file()]


@pytest.mark.parametrize(
    "exc", [KeyboardInterrupt(), OSError("disk went away")], ids=["interrupt", "error"]
)
def test_upload_interrupted_midway_leaves_nothing(
    served: ServedPool, client: SessionPoolClient, exc: BaseException
) -> None:
    sid = new_identifier("upbreak")
    client.upload_file(b"keep", session=sid, remote_name="kept.txt")
    listed_before = [f.name for f in client.list_files(session=sid)]
    expected = errors.TransferError if isinstance(exc, Exception) else KeyboardInterrupt
    with pytest.raises(expected) as caught:
        client.upload_file(_BreaksAfter(8 * MiB, exc), session=sid, remote_name="big.bin")
    if expected is errors.TransferError:
        assert "big.bin" in str(caught.value) and "disk went away" in str(caught.value)
    # The server notices the broken body and removes its temporary file.
    assert wait_until(
        lambda: not [f for f in _server_files(served) if f.name.startswith(".rk-upload-")], 10
    ), _server_files(served)
    assert [f.name for f in client.list_files(session=sid)] == listed_before
    assert not [f for f in _server_files(served) if f.name == "big.bin"]
    with pytest.raises(errors.NotFoundError):
        client.download_file("big.bin", session=sid)
    # The next call works: the same upload, whole this time.
    info = client.upload_file(b"z" * MiB, session=sid, remote_name="big.bin")
    assert info.size == MiB
    client.delete_session(sid)
