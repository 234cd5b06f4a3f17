"""An HTTPS front for the local pool, for clients that refuse plain http.

Semantic Kernel's settings type the pool endpoint as an https URL. This
front terminates TLS with a ``trustme`` certificate for 127.0.0.1 and passes
every request, unchanged, to the pool over plain HTTP; the client is handed
an SSL context that trusts the test CA (and nothing is disabled).
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import trustme
import uvicorn

_HOP_BY_HOP = {"content-length", "transfer-encoding", "content-encoding", "connection"}


class _Forward:
    """ASGI app: each request's method, raw path, query, headers and body go to ``target``."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        url = self.target + scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"host"]
        async with httpx.AsyncClient(timeout=300) as client:
            answer = await client.request(scope["method"], url, headers=headers, content=body)
        out = [(k.encode(), v.encode()) for k, v in answer.headers.items() if k not in _HOP_BY_HOP]
        out.append((b"content-length", str(len(answer.content)).encode()))
        await send({"type": "http.response.start", "status": answer.status_code, "headers": out})
        await send({"type": "http.response.body", "body": answer.content})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def tls_front(target: str, workdir: Path) -> Iterator[tuple[str, ssl.SSLContext]]:
    """Serve ``target`` at ``https://127.0.0.1:PORT``; yields that URL and a trusting context."""
    ca = trustme.CA()
    pem = workdir / "front.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(pem))
    port = _free_port()
    config = uvicorn.Config(
        _Forward(target), host="127.0.0.1", port=port, ssl_certfile=str(pem),
        ssl_keyfile=str(pem), lifespan="off", log_level="warning",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the TLS front did not start")
        time.sleep(0.05)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    try:
        yield f"https://127.0.0.1:{port}", context
    finally:
        server.should_exit = True
        thread.join(10)
