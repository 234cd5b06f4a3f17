"""Raw httpx against a local pool, for the faithful-session tests (real HTTP, no project client)."""

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

import httpx

from remote_kernel.identifiers import new_identifier
from remote_kernel.server import LocalPool

GEN1 = "2024-02-02-preview"
GEN2 = "2024-10-02-preview"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Pool:
    """One pool's routes with its token; ``run``/``run1`` assert HTTP 200."""

    def __init__(self, url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=120)

    @classmethod
    def of(cls, pool: LocalPool) -> Pool:
        return cls(pool.url, pool.token)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, sid: str, *, version: str = GEN2, **kw: Any):  # type: ignore[no-untyped-def]
        params = {"api-version": version, "identifier": sid, **kw.pop("params", {})}
        return self.http.request(method, path, params=params, **kw)

    def run(self, sid: str, code: str, *, version: str = GEN2) -> dict[str, Any]:
        """Generation 2: the whole body."""
        response = self.call("POST", "/executions", sid, version=version, json={"code": code})
        assert response.status_code == 200, response.text
        return response.json()

    def run1(self, sid: str, code: str) -> dict[str, Any]:
        """Generation 1: ``properties``."""
        body = {"properties": {"codeInputType": "inline", "executionType": "synchronous",
                               "code": code}}  # fmt: skip
        response = self.call("POST", "/code/execute", sid, version=GEN1, json=body)
        assert response.status_code == 200, response.text
        return response.json()["properties"]

    def ok(self, sid: str, code: str) -> dict[str, Any]:
        """Generation 2 ``result`` of code that must succeed."""
        body = self.run(sid, code)
        assert body["status"] == "Succeeded", body["result"]["stderr"]
        return body["result"]  # type: ignore[no-any-return]

    def upload(self, sid: str, name: str, data: bytes) -> None:
        response = self.call("POST", "/files", sid, files={"file": (name, data)})
        assert response.status_code == 200, response.text

    def download(self, sid: str, name: str, *, version: str = GEN2) -> bytes:
        path = f"/files/content/{name}" if version == GEN1 else f"/files/{name}/content"
        response = self.call("GET", path, sid, version=version)
        assert response.status_code == 200, response.text
        return response.content

    def names(self, sid: str) -> list[str]:
        response = self.call("GET", "/files", sid)
        assert response.status_code == 200, response.text
        return [entry["name"] for entry in response.json()["value"]]

    def delete(self, sid: str) -> None:
        self.call("DELETE", "/session", sid)


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
