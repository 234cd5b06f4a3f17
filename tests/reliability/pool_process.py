"""A local pool in its own process (``remote-kernel serve``), for the reliability suite.

A separate process is what these tests need: its RSS (plus its kernels') is
measurable apart from the test's own client, its kernels are found as its
psutil children, and it can be stopped and started again on the same port
(a server restart between two cells).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

GEN1 = "2024-02-02-preview"
GEN2 = "2024-10-02-preview"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServedPool:
    """``python -m remote_kernel.cli serve`` with its output kept in a log file."""

    def __init__(
        self,
        log_path: Path,
        *,
        token: str | None = None,
        port: int = 0,
        max_sessions: int = 8,
        prewarm: int = 1,
        extra: list[str] | None = None,
        log_level: str = "info",
        root: Path | None = None,
    ) -> None:
        self.token = token
        self.root = root
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if k != "ACA_POOL_TOKEN"}
        if token:
            env["ACA_POOL_TOKEN"] = token  # never on the command line
        argv = [
            sys.executable, "-m", "remote_kernel.cli", "serve", "--port", str(port),
            "--max-sessions", str(max_sessions), "--prewarm", str(prewarm),
            "--log-level", log_level, *(["--root", str(root)] if root else []), *(extra or []),
        ]  # fmt: skip
        self._log = open(log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self._log, env=env, start_new_session=True
        )
        assert self.proc.stdout is not None
        line = self._first_line(60.0)
        assert line.startswith("Pool endpoint: "), f"serve printed {line!r}; see {log_path}"
        self.url = line.split(": ", 1)[1].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        # Keep draining stdout (uvicorn's access log goes there) into a file of its own.
        self.out_path = log_path.with_suffix(".out")
        self._copier = threading.Thread(target=self._copy_stdout, daemon=True)
        self._copier.start()

    def _copy_stdout(self) -> None:
        assert self.proc.stdout is not None
        with open(self.out_path, "ab") as out:
            for line in self.proc.stdout:
                out.write(line)
                out.flush()

    def _first_line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        result: list[bytes] = []
        reader = threading.Thread(
            target=lambda: result.append(self.proc.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not result:
            self.kill()
            raise AssertionError(f"serve printed nothing within {timeout:g} s")
        return result[0].decode()

    # -- processes ---------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self.proc.pid

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def rss(self) -> int:
        """Resident bytes of the server and every process under it."""
        total = 0
        for proc in [psutil.Process(self.pid), *self.children()]:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def server_rss(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        out = self.out_path.read_text(errors="replace") if self.out_path.exists() else ""
        return self.log_path.read_text(errors="replace") + out

    # -- stopping ----------------------------------------------------------------------

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (clean stop: kernels and files go), then SIGKILL the group if stuck."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._copier.join(5)
        self._log.close()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


class PeakSampler:
    """Samples ``measure()`` (bytes) in a thread until the block ends; ``peak`` is the largest."""

    def __init__(self, measure: Callable[[], int], interval: float = 0.05) -> None:
        self.measure = measure
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.measure())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        with contextlib.suppress(psutil.Error):
            self.peak = max(self.peak, self.measure())


def own_rss() -> int:
    return int(psutil.Process().memory_info().rss)


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
