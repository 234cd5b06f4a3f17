"""First execution of a new session (a prewarmed spare ready) and a trivial execution,
per session type of the local pool: python, shell, javascript.

    .venv/bin/python benchmarks/bench_session_types.py [--repeat 20]

Over real HTTP (``POST /executions``, the body each pool type takes). Each "first"
sample is a fresh session identifier once the pool's spare is warm again.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

import httpx

from remote_kernel.server import start_local_pool

API = "2025-02-02-preview"
TRIVIAL = {"python": {"code": "1 + 1"}, "shell": {"shellCommand": "echo 2"},
           "javascript": {"code": "1 + 1"}}  # fmt: skip


def run(http: httpx.Client, url: str, token: str, session: str, body: dict) -> float:
    started = time.perf_counter()
    answer = http.post(
        f"{url}/executions",
        params={"api-version": API, "identifier": session},
        headers={"Authorization": f"Bearer {token}"},
        json=body,
    )
    elapsed = (time.perf_counter() - started) * 1000
    answer.raise_for_status()
    return elapsed


def wait_warm(pool) -> None:
    deadline = time.monotonic() + 60
    while not pool.pool._warm and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)


def bench(runtime: str, repeat: int) -> tuple[float, float]:
    pool = start_local_pool(runtime=runtime, token="bench", prewarm=1, max_sessions=repeat + 4)
    try:
        with httpx.Client(timeout=120) as http:
            firsts = []
            for _ in range(max(3, repeat // 4)):
                wait_warm(pool)
                firsts.append(
                    run(http, pool.url, "bench", f"first-{uuid.uuid4()}", TRIVIAL[runtime])
                )
            session = f"warm-{uuid.uuid4()}"
            run(http, pool.url, "bench", session, TRIVIAL[runtime])
            trivial = [
                run(http, pool.url, "bench", session, TRIVIAL[runtime]) for _ in range(repeat)
            ]
        return statistics.median(firsts), statistics.median(trivial)
    finally:
        pool.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"{'runtime':<12}{'first execution, ms':>22}{'trivial execution, ms':>24}")
    for runtime in ("python", "shell", "javascript"):
        first, trivial = bench(runtime, args.repeat)
        print(f"{runtime:<12}{first:>22.1f}{trivial:>24.1f}")


if __name__ == "__main__":
    main()
