"""Local pool latency against a directly driven kernel, measured in one run.

    python benchmarks/bench_server.py [--runs 300] [--new-session-runs 20]

1. ``1+1`` through the pool (httpx, one keep-alive connection, generation 2)
   vs the same cell on a jupyter_client kernel driven directly, waiting for
   ``idle`` on IOPub (the floor any kernel-backed pool inherits). Target: the
   pool's median at most 1.5x the direct one. The two are measured in
   alternating blocks so machine noise hits both alike.
2. A new session's first execute, with a prewarmed interpreter waiting
   (target < 50 ms) and without one (a kernel boots inside the request).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import httpx
from jupyter_client import KernelManager

from remote_kernel.server import LocalPool, start_local_pool

GEN2 = "2024-10-02-preview"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def pool_runner(pool: LocalPool, client: httpx.Client, ident: str) -> Callable[[], object]:
    params = {"api-version": GEN2, "identifier": ident}

    def run() -> None:
        response = client.post("/executions", params=params, json={"code": "1+1"})
        assert response.json()["result"]["executionResult"] == 2, response.text

    return run


def direct_runner(kc) -> Callable[[], object]:  # type: ignore[no-untyped-def]
    def run() -> None:
        msg_id = kc.execute("1+1")
        while True:
            msg = kc.get_iopub_msg(timeout=10)
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                break
        kc.get_shell_msg(timeout=10)  # keep the reply queue empty (after idle: not timed twice)

    return run


def bench_trivial(runs: int) -> tuple[float, float]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel(extra_arguments=["--HistoryManager.enabled=False"])
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    pool = start_local_pool(token="bench", prewarm=1)
    client = httpx.Client(base_url=pool.url, headers={"Authorization": "Bearer bench"})
    try:
        via_pool = pool_runner(pool, client, "bench-trivial")
        direct = direct_runner(kc)
        for _ in range(30):  # warm both: session creation, imports, connection
            via_pool()
            direct()
        pool_ms: list[float] = []
        direct_ms: list[float] = []
        block = 10
        while len(pool_ms) < runs:
            pool_ms += [timed(via_pool) for _ in range(block)]
            direct_ms += [timed(direct) for _ in range(block)]
        return statistics.median(pool_ms), statistics.median(direct_ms)
    finally:
        client.close()
        pool.stop()
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def bench_new_session(runs: int, prewarm: int) -> float:
    pool = start_local_pool(token="bench", prewarm=prewarm)
    client = httpx.Client(base_url=pool.url, headers={"Authorization": "Bearer bench"}, timeout=120)
    times: list[float] = []
    try:
        client.get("/openapi.json")  # open the connection outside the timing
        for i in range(runs):
            deadline = time.monotonic() + 60
            while len(pool.kernel_pids()) < prewarm:  # wait for the spare to be ready
                assert time.monotonic() < deadline, "the spare never came back"
                time.sleep(0.05)
            ident = f"bench-new-{prewarm}-{i}"
            run = pool_runner(pool, client, ident)
            times.append(timed(run))
            client.delete("/session", params={"api-version": GEN2, "identifier": ident})
        return statistics.median(times)
    finally:
        client.close()
        pool.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="runs of 1+1 per side (>= 200)")
    parser.add_argument("--new-session-runs", type=int, default=20)
    args = parser.parse_args()

    pool_ms, direct_ms = bench_trivial(args.runs)
    print(
        f"1+1 median over {args.runs} runs: pool {pool_ms:.2f} ms, direct kernel {direct_ms:.2f} ms"
    )
    print(f"  ratio pool/direct: {pool_ms / direct_ms:.2f}x (target <= 1.5x)")
    warm = bench_new_session(args.new_session_runs, prewarm=1)
    cold = bench_new_session(max(3, args.new_session_runs // 4), prewarm=0)
    print(
        f"new session first execute, median: prewarmed {warm:.1f} ms (target < 50 ms), "
        f"without prewarm {cold:.1f} ms"
    )
    print(f"  ratio cold/prewarmed: {cold / warm:.1f}x")


if __name__ == "__main__":
    main()
