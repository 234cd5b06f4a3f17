"""Client overhead and transfer memory (run by hand: python benchmarks/bench_client.py).

1. Per-call time of ``execute("1+1")`` through SessionPoolClient vs a raw httpx
   keep-alive POST of the same request to the same local pool (target <= 1.2x).
2. Upload and download of a 1 GiB file: throughput and peak RSS growth of this
   (client) process (target < 50 MB). The pool runs in a subprocess so its own
   memory does not count.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from remote_kernel.client import SessionPoolClient


def start_pool(token: str, max_upload_mb: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "remote_kernel.cli",
            "serve",
            "--port",
            "0",
            "--token",
            token,
            "--max-upload-mb",
            str(max_upload_mb),
            "--prewarm",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:  # type: ignore[union-attr]
        match = re.search(r"https?://127\.0\.0\.1:\d+\S*", line)
        if match:
            return proc, match.group(0).rstrip("/")
    raise RuntimeError("the pool did not print its endpoint")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_execute(url: str, token: str, runs: int) -> None:
    session = "bench-client-1"
    client = SessionPoolClient(url, token=token)
    raw = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    params = {"api-version": client.api_version, "identifier": session}
    body = {"code": "1+1", "executionType": "Synchronous", "timeoutInSeconds": 220}
    for _ in range(20):  # warm both paths and the session
        client.execute("1+1", session=session)
        raw.post("/executions", params=params, json=body).raise_for_status()
    ours, baseline = [], []
    for _ in range(runs):  # interleaved, so drift hits both equally
        t0 = time.perf_counter()
        raw.post("/executions", params=params, json=body).json()
        t1 = time.perf_counter()
        result = client.execute("1+1", session=session)
        t2 = time.perf_counter()
        assert result.value == 2
        baseline.append(t1 - t0)
        ours.append(t2 - t1)
    b, o = statistics.median(baseline), statistics.median(ours)
    print(
        f"execute 1+1, median of {runs}: raw httpx {b * 1e3:.2f} ms, "
        f"SessionPoolClient {o * 1e3:.2f} ms, ratio {o / b:.3f}x (target <= 1.2x)"
    )
    client.close()
    raw.close()


def bench_transfer(url: str, token: str, size_mb: int) -> None:
    session = "bench-client-2"
    block = os.urandom(1 << 20)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "big.bin"
        with src.open("wb") as f:
            for _ in range(size_mb):
                f.write(block)
        client = SessionPoolClient(url, token=token)
        client.execute("1", session=session)
        base = current_rss_mb()
        t0 = time.perf_counter()
        client.upload_file(src, session=session, remote_name="big.bin")
        up = time.perf_counter() - t0
        peak_up = peak_rss_mb()
        t0 = time.perf_counter()
        client.download_file("big.bin", session=session, destination=Path(tmp) / "back.bin")
        down = time.perf_counter() - t0
        peak_down = peak_rss_mb()
        assert (Path(tmp) / "back.bin").stat().st_size == src.stat().st_size
        client.close()
    print(f"upload {size_mb} MiB: {size_mb / up:.0f} MiB/s; download: {size_mb / down:.0f} MiB/s")
    print(
        f"client RSS before {base:.0f} MB, peak after upload {peak_up:.0f} MB, after download "
        f"{peak_down:.0f} MB: growth {max(peak_up, peak_down) - base:.0f} MB (target < 50 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    token = secrets.token_urlsafe(16)
    proc, url = start_pool(token, max_upload_mb=args.size_mb + 16)
    try:
        bench_execute(url, token, args.runs)
        bench_transfer(url, token, args.size_mb)
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
