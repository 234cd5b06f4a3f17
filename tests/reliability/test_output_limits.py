"""Outputs past the limit are dropped in the kernel, and none below it is ever lost."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from remote_kernel.client import SessionPoolClient
from remote_kernel.identifiers import new_identifier
from remote_kernel.server import LocalPool
from remote_kernel.server.runtimes import ipython as ipython_runtime

pytestmark = pytest.mark.timeout(120)


def test_kernel_side_constants_match_the_runtime() -> None:
    """``inside/session_streams.py`` runs by path in the kernel, so it cannot import them."""
    source = Path(ipython_runtime._STREAMS_FILE).read_text()
    names = {
        t.id: n.value.value
        for n in ast.parse(source).body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    assert names["LIMIT_KEY"] == ipython_runtime._LIMIT_KEY
    assert names["DROPPED_MIME"] == ipython_runtime._DROPPED_MIME


def test_no_line_is_lost_while_the_pool_falls_behind(local_pool: LocalPool) -> None:
    """The pool's event loop stalls 4 s (as under heavy load) while a cell prints 30 000
    flushed lines: with a receive limit on IOPub, the kernel's PUB socket dropped ~8 000."""
    sid = new_identifier("stall")
    lines = 30_000
    with SessionPoolClient(local_pool.url, token=local_pool.token) as client:
        assert client.execute("1", session=sid).ok
        started = client.start_execution(
            f"import time\ntime.sleep(0.3)\nfor i in range({lines}):\n    print(i, flush=True)",
            session=sid,
            timeout=120,
        )

        async def stall() -> None:
            time.sleep(4)  # blocks the pool's event loop; ZeroMQ's I/O thread runs on

        local_pool.call(stall())
        assert started.execution_id is not None
        result = client.wait_execution(started.execution_id, session=sid, timeout=120)
        client.delete_session(sid)
    assert result.ok, result.stderr
    assert result.stdout.split() == [str(i) for i in range(lines)]


@pytest.mark.parametrize("limit", [0, 10, 70_000])
def test_the_limit_is_exact_per_stream_with_the_dropped_count(
    local_pool: LocalPool, limit: int
) -> None:
    sid = new_identifier("limit")
    code = (
        "import sys\n"
        "for _ in range(3):\n    sys.stdout.write('o' * 50_000)\n"
        "sys.stderr.write('e' * 5)\nsys.stdout.flush()\nprint('tail')"
    )
    with SessionPoolClient(local_pool.url, token=local_pool.token) as client:
        response = client._http.post(
            "/executions",
            params={"api-version": "2024-10-02-preview", "identifier": sid},
            json={"code": code, "outputStreamsMaxLength": limit},
            headers={"Authorization": f"Bearer {local_pool.token}"},
            timeout=60,
        )
        client.delete_session(sid)
    body = response.json()["result"]
    total = 3 * 50_000 + len("tail\n")
    kept = "o" * min(limit, 150_000)
    notice = f"[output truncated: {total - len(kept)} more characters of stdout were dropped"
    streams = {o["name"]: o["text"] for o in body["outputs"] if o["output_type"] == "stream"}
    assert body["stdout"] == kept[:limit] and len(body["stdout"]) <= limit
    assert streams["stdout"].startswith(kept) and notice in streams["stdout"]
    assert body["truncated"] is True
    assert streams["stdout"].replace(kept, "", 1).lstrip("\n").startswith("[output truncated")
    if limit >= 5:
        assert body["stderr"] == "eeeee"
    else:
        assert body["stderr"] == "e" * limit
        assert "5 more characters of stderr were dropped" in streams["stderr"]
    # The kernel's own report of what it dropped never shows as an output.
    assert all("vnd.remote-kernel" not in str(o) for o in body["outputs"])


def test_no_line_is_lost_when_sessions_print_fast_together(local_pool: LocalPool) -> None:
    """Four sessions flushing 15 000 lines each at once on two cores: before the kernels'
    IOPub send limit was lifted, 0-8 % of the lines vanished from the middle."""
    import asyncio

    from remote_kernel.client import AsyncSessionPoolClient

    lines = 15_000
    code = f"for i in range({lines}): print(i, flush=True)"

    async def run() -> list[str]:
        async with AsyncSessionPoolClient(local_pool.url, token=local_pool.token) as client:
            results = await asyncio.gather(
                *(client.execute(code, session=new_identifier("fast")) for _ in range(4))
            )
        return [r.stdout for r in results]

    for stdout in asyncio.run(run()):
        assert stdout.splitlines() == [str(i) for i in range(lines)]
