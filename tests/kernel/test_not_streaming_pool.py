"""On a pool that cannot stream (as Azure's), the kernel behaves as before, and says once,
when a cell first runs a while, that output comes when the cell ends.

The pool is the real local pool behind a real HTTP proxy that does what Azure does:
it answers JSON whatever the ``Accept`` asks and names no features.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pool_env import pool_env
from starlette.requests import Request
from starlette.responses import Response

from remote_kernel.kernel.live import NOT_STREAMING_NOTICE

from .conftest import CELL_TIMEOUT, collect, running_kernel, stream_text


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process owns its signals
        pass


def azure_like(target: str) -> Any:
    """An ASGI app relaying to ``target`` without the streaming extension."""
    client = httpx.AsyncClient(base_url=target, timeout=300)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        headers = {k: v for k, v in request.headers.items() if k not in ("accept", "host")}
        answer = await client.request(
            request.method,
            request.url.path,
            params=request.query_params,
            content=await request.body(),
            headers=headers,
        )
        drop = {"x-remote-kernel-features", "content-length", "transfer-encoding"}
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in drop}
        await Response(answer.content, answer.status_code, kept)(scope, receive, send)

    return app


@pytest.fixture(scope="module")
def plain_pool_url(local_pool: Any) -> Iterator[str]:
    server = _Server(uvicorn.Config(azure_like(local_pool.url), port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_long_cell_on_a_pool_that_cannot_stream_says_so_once(
    kernel_prefix: Path, local_pool: Any, plain_pool_url: str, tmp_path: Path
) -> None:
    env = pool_env(ACA_POOL_ENDPOINT=plain_pool_url, ACA_POOL_TOKEN=local_pool.token)
    marker = tmp_path / f"go-{uuid.uuid4().hex}"
    waits = (
        "import os, time\nprint('line 1')\ndeadline = time.time() + 60\n"
        f"while not os.path.exists({str(marker)!r}) and time.time() < deadline:\n"
        "    time.sleep(0.02)\n"
        f"print('line 2' if os.path.exists({str(marker)!r}) else 'no notice')\n"
    )
    with running_kernel(kernel_prefix, env) as (_, kc):
        reply, _ = collect(kc, kc.execute("1"))  # the pool's answers name no features
        assert reply["content"]["status"] == "ok"
        msg_id = kc.execute(waits)
        early: list[dict[str, Any]] = []
        while True:  # the notice comes while the cell runs, before any of its output
            msg = kc.get_iopub_msg(timeout=CELL_TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
                early.append(msg)
                break
        assert early[0]["content"] == {"name": "stderr", "text": NOT_STREAMING_NOTICE}
        marker.touch()
        reply, rest = collect(kc, msg_id)
        assert stream_text(rest) == "line 1\nline 2\n"  # all at the end, as before
        _, again = collect(kc, kc.execute("import time; time.sleep(4)"))
        assert NOT_STREAMING_NOTICE not in stream_text(again, "stderr")  # once per kernel
