"""Helpers for the faithful-session tests: session identifiers, image results and
`remote-kernel serve` as a process (raw HTTP is ``tests/pool_api.py``)."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from remote_kernel.identifiers import new_identifier

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def new_sid() -> str:
    return new_identifier("mnt")


def png_bytes(image: Any) -> bytes:
    """The PNG inside Azure's image result shape, checked to be one."""
    assert isinstance(image, dict), image
    assert image["type"] == "image" and image["format"] == "png", image
    data = base64.b64decode(image["base64_data"])
    assert data.startswith(PNG_SIGNATURE)
    return data


def read_until(stream: IO[str], marker: str, timeout: float = 60) -> list[str]:
    """Lines of ``stream`` up to the first holding ``marker`` (fails after ``timeout``)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} never came; got {lines}")


@contextlib.contextmanager
def serve(
    args: list[str], *, prefix: list[str] | None = None, env: dict[str, str] | None = None
) -> Iterator[tuple[str, str, list[str]]]:
    """``remote-kernel serve ARGS`` with a token: yields (url, token, banner lines on stderr).

    Stops it with SIGINT afterwards and checks it exits 0.
    """
    token = secrets.token_urlsafe(16)
    environ = {**(env if env is not None else os.environ), "ACA_POOL_TOKEN": token}
    command = [*(prefix or []), sys.executable, "-m", "remote_kernel.cli", "serve", *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        url = read_until(process.stdout, "Pool endpoint:")[-1].split(": ", 1)[1]
        banner = read_until(process.stderr, "/mnt/data")
        yield url, token, banner
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "/mnt/data" not in err, err  # said once, in the banner
