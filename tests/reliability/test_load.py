"""Load: 50 sessions x 100 executions at once through the async client.

Every execution prints ``{session}:{i}:{counter}`` and increments a counter
kept in its session's interpreter, so the outputs prove three things at once:
each answer came from its own session (the identifier), in order (``i``), and
ran exactly once against that session's state (``counter == i``; the final
counter is 100).

Fifty IPython kernels on two cores are the heavy part; sessions start a
fraction of a second apart (as users arrive), while the earlier ones are
already running, so kernel start-up does not starve everything at once. The
numbers (throughput, p50/p99 latency, peak RSS of the server with its
kernels) are printed (``pytest -s``) and written to test-artifacts/load.txt.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from pathlib import Path

import pytest

from remote_kernel.client import AsyncSessionPoolClient
from remote_kernel.client.models import ExecutionResult

from .pool_process import PeakSampler, ServedPool

SESSIONS = 50
EXECUTIONS = 100
#: Seconds between two sessions' first calls (progressive start on shared cores).
STAGGER = 0.25
#: Kernels the pool keeps started ahead of demand.
PREWARM = 4
ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "load.txt"

pytestmark = pytest.mark.timeout(170)


def _cell(sid: str, i: int) -> str:
    return f"_load_n = globals().get('_load_n', 0)\nprint(f'{sid}:{i}:{{_load_n}}')\n_load_n += 1"


async def _one_session(
    client: AsyncSessionPoolClient, index: int, latencies: list[float]
) -> tuple[str, list[ExecutionResult], ExecutionResult]:
    await asyncio.sleep(index * STAGGER)
    sid = f"load-{index:02d}-{secrets.token_hex(4)}"
    results = []
    for i in range(EXECUTIONS):
        started = time.perf_counter()
        results.append(await client.execute(_cell(sid, i), session=sid, timeout=120))
        latencies.append(time.perf_counter() - started)
    final = await client.execute("_load_n", session=sid, timeout=60)
    return sid, results, final


def _check_session(sid: str, results: list[ExecutionResult], final: ExecutionResult) -> None:
    assert len(results) == EXECUTIONS
    for i, result in enumerate(results):
        assert result.ok, (sid, i, result.stderr)
        assert result.stdout == f"{sid}:{i}:{i}\n", (sid, i, result.stdout)
        assert result.outputs == [
            {"output_type": "stream", "name": "stdout", "text": result.stdout}
        ]
        assert result.session_created is (i == 0), (sid, i)
        assert not result.truncated
    assert final.ok and final.value == EXECUTIONS, (sid, final.value, final.stderr)


def _report(wall: float, latencies: list[float], total: int, server: int) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    lines = [
        f"load: {SESSIONS} sessions x {EXECUTIONS} executions "
        f"(sessions started {STAGGER:g} s apart, prewarm {PREWARM})",
        f"  executions: {len(latencies)} in {wall:.1f} s -> {len(latencies) / wall:.0f} per s",
        f"  latency: p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms",
        f"  peak RSS: server + kernels {total / 2**20:.0f} MiB "
        f"(server process alone {server / 2**20:.0f} MiB)",
    ]
    return "\n".join(lines) + "\n"


def test_fifty_sessions_a_hundred_executions_each(tmp_path: Path) -> None:
    token = secrets.token_urlsafe(24)
    pool = ServedPool(
        tmp_path / "serve.log", token=token, max_sessions=SESSIONS + 5, prewarm=PREWARM
    )
    latencies: list[float] = []

    async def main() -> list[tuple[str, list[ExecutionResult], ExecutionResult]]:
        async with AsyncSessionPoolClient(pool.url, token=token) as client:
            tasks = [_one_session(client, k, latencies) for k in range(SESSIONS)]
            return await asyncio.gather(*tasks)

    try:
        with PeakSampler(pool.rss, 0.25) as total, PeakSampler(pool.server_rss, 0.25) as server:
            started = time.perf_counter()
            outcomes = asyncio.run(main())
            wall = time.perf_counter() - started
    finally:
        pool.stop()
    assert pool.proc.returncode == 0, pool.log_text()[-2000:]
    assert len({sid for sid, _, _ in outcomes}) == SESSIONS
    for sid, results, final in outcomes:
        _check_session(sid, results, final)
    report = _report(wall, latencies, total.peak, server.peak)
    print("\n" + report)
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(report)
