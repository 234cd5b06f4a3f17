"""Sandboxed sessions: start (cold, from a snapshot, from a pre-warmed runtime) and `1+1` latency.

Run by hand: ``python benchmarks/bench_sandbox.py [--runs N]``. Prints medians,
and ratios against the IPython runtime measured in the same run. Target: a new
sandboxed session answers its first cell < 100 ms after the pool hands it a
pre-warmed runtime.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from remote_kernel.server.runtimes.base import SessionRuntime
from remote_kernel.server.runtimes.pyodide import SandboxRuntime
from remote_kernel.server.sandbox import prepare


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def timed(step: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await step()
    return time.perf_counter() - started


async def cold_start(factory: Callable[[], SessionRuntime], root: Path, runs: int) -> list[float]:
    """start() + first cell on a brand-new runtime: what a session costs without prewarming."""
    samples = []
    for i in range(runs):
        runtime = factory()
        workdir = root / f"cold-{secrets.token_hex(4)}-{i}"
        workdir.mkdir()

        async def start_and_run(runtime=runtime, workdir=workdir) -> None:
            await runtime.start(workdir)
            await runtime.execute("1+1", timeout=30, max_output_chars=1000)

        samples.append(await timed(start_and_run))
        await runtime.shutdown()
    return samples


async def prewarmed_first_cell(
    factory: Callable[[], SessionRuntime], root: Path, runs: int
) -> list[float]:
    """First cell of a runtime that was started beforehand (the pool's spare, handed over)."""
    samples = []
    for i in range(runs):
        runtime = factory()
        workdir = root / f"warm-{secrets.token_hex(4)}-{i}"
        workdir.mkdir()
        await runtime.start(workdir)
        await asyncio.sleep(0.2)  # a spare waits idle before a session claims it
        samples.append(
            await timed(lambda rt=runtime: rt.execute("1+1", timeout=30, max_output_chars=1000))
        )
        await runtime.shutdown()
    return samples


async def execute_latency(runtime: SessionRuntime, runs: int) -> list[float]:
    for _ in range(5):
        await runtime.execute("1+1", timeout=30, max_output_chars=1000)
    samples = []
    for _ in range(runs):
        samples.append(
            await timed(lambda: runtime.execute("1+1", timeout=30, max_output_chars=1000))
        )
    return samples


def pool_first_cell(sandbox: bool, runs: int) -> list[float]:
    """Over real HTTP: a new identifier's first `1+1` while the pool holds a ready spare."""
    from remote_kernel.client import SessionPoolClient
    from remote_kernel.identifiers import new_identifier
    from remote_kernel.server import start_local_pool

    samples = []
    pool = start_local_pool(token=secrets.token_urlsafe(16), prewarm=1, sandbox=sandbox)
    try:
        with SessionPoolClient(pool.url, token=pool.token) as client:
            client.execute("1", session=new_identifier("bench-warmup"))
            for _ in range(runs):
                _wait_for_spare(pool)
                started = time.perf_counter()
                result = client.execute("1+1", session=new_identifier("bench"))
                samples.append(time.perf_counter() - started)
                assert result.value == 2, result
    finally:
        pool.stop()
    return samples


def _wait_for_spare(pool, timeout: float = 60.0) -> None:
    async def spares() -> int:
        return sum(1 for rt, _ in pool.pool._warm if rt.is_alive())

    deadline = time.monotonic() + timeout
    while pool.call(spares(), 10) < 1:
        if time.monotonic() > deadline:
            raise RuntimeError("the pool never got a prewarmed spare")
        time.sleep(0.05)
    time.sleep(0.3)  # let the machine settle after the spare's start


def line(label: str, samples: list[float], baseline: list[float] | None = None) -> None:
    median = statistics.median(samples)
    ratio = ""
    if baseline:
        ratio = f"   x{median / statistics.median(baseline):.2f} vs IPython"
    print(f"  {label:<48}{ms(median)}  (n={len(samples)}){ratio}")


async def main_async(runs: int, latency_runs: int, root: Path) -> None:
    from remote_kernel.server.runtimes.ipython import ipython_runtime_factory

    state = root / "state"
    state.mkdir()
    ipython_factory = ipython_runtime_factory()

    def ipython() -> SessionRuntime:
        return ipython_factory(state)

    print("Session start (start() + first `1+1`), runtime driven directly:")
    ipy_cold = await cold_start(ipython, root, max(3, runs // 2))
    line("IPython kernel, cold", ipy_cold)
    sbx_cold = await cold_start(SandboxRuntime, root, runs)
    line("sandbox, cold (from the Pyodide snapshot)", sbx_cold, ipy_cold)
    os.environ["REMOTE_KERNEL_SANDBOX_SNAPSHOT"] = "0"
    try:
        sbx_nosnap = await cold_start(SandboxRuntime, root, max(3, runs // 2))
    finally:
        del os.environ["REMOTE_KERNEL_SANDBOX_SNAPSHOT"]
    line("sandbox, cold without snapshot", sbx_nosnap, ipy_cold)

    print("First `1+1` of a pre-warmed runtime (target for the sandbox: < 100 ms):")
    ipy_warm = await prewarmed_first_cell(ipython, root, max(3, runs // 2))
    line("IPython kernel", ipy_warm)
    sbx_warm = await prewarmed_first_cell(SandboxRuntime, root, runs)
    line("sandbox", sbx_warm, ipy_warm)

    print(f"Execute latency of `1+1` on a running session ({latency_runs} runs):")
    ipy_rt, sbx_rt = ipython(), SandboxRuntime()
    (root / "lat-ipy").mkdir()
    (root / "lat-sbx").mkdir()
    await ipy_rt.start(root / "lat-ipy")
    await sbx_rt.start(root / "lat-sbx")
    try:
        ipy_lat = await execute_latency(ipy_rt, latency_runs)
        sbx_lat = await execute_latency(sbx_rt, latency_runs)
    finally:
        await ipy_rt.shutdown()
        await sbx_rt.shutdown()
    line("IPython kernel", ipy_lat)
    line("sandbox", sbx_lat, ipy_lat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="start-up samples per case")
    parser.add_argument("--latency-runs", type=int, default=200, help="`1+1` samples")
    parser.add_argument("--no-http", action="store_true", help="skip the pools over HTTP")
    args = parser.parse_args()
    started = time.perf_counter()
    done = prepare()
    print(f"prepare: {time.perf_counter() - started:.2f} s (fetched={done.fetched})")
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        asyncio.run(main_async(args.runs, args.latency_runs, Path(tmp)))
    if not args.no_http:
        print("New session's first `1+1` over HTTP, pool holding a ready spare (prewarm=1):")
        ipy_http = pool_first_cell(False, max(3, args.runs // 2))
        line("IPython pool", ipy_http)
        line("sandbox pool", pool_first_cell(True, args.runs), ipy_http)


if __name__ == "__main__":
    main()
