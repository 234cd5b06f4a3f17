"""Kernel start and cell latency (run by hand: python benchmarks/bench_kernel.py [--runs N]).

Measured in the same run, medians over N kernel starts:

- baseline: the stock IPython kernel (ipykernel's ``python3``), cells run in-process;
- remote: our kernel on a local pool already running (``remote-kernel serve`` in a
  subprocess, as a remote pool would be);
- auto: our kernel with no endpoint, starting the embedded pool itself.

For each: kernel start to the first ``kernel_info_reply`` (target < 1 s), the first
cell ``1+1`` (until its ``idle``), and the median of 20 further ``1+1`` cells.
Then, on the pool: time from an interrupt to the ``execute_reply`` of a running
``time.sleep(30)`` cell, in both interrupt modes (target < 1 s).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from remote_kernel.kernel.spec import SpecOptions, install

CELLS = 20


def start_pool(token: str) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "remote_kernel.cli", "serve", "--port", "0", "--token", token]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:  # type: ignore[union-attr]
        match = re.search(r"https?://127\.0\.0\.1:\d+\S*", line)
        if match:
            return proc, match.group(0).rstrip("/")
    raise RuntimeError("the pool did not print its endpoint")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACA_")}
    env.update(extra)
    return env


def run_cell(kc, code: str = "1+1", mark=lambda name: None) -> float:
    """Seconds from the execute_request to its reply (after idle); ``mark("sent")`` and
    ``mark("front")`` (idle received) let a caller timestamp both ends."""
    started = time.perf_counter()
    mark("sent")
    msg_id = kc.execute(code)
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            break
    mark("front")
    reply = kc.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return time.perf_counter() - started


def one_run(ksm: KernelSpecManager | None, name: str, env: dict[str, str]) -> tuple[float, ...]:
    km = KernelManager(kernel_name=name, **({"kernel_spec_manager": ksm} if ksm else {}))
    started = time.perf_counter()
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.kernel_info(reply=False)
        kc.wait_for_ready(timeout=60)
        ready = time.perf_counter() - started
        first = run_cell(kc)
        cells = [run_cell(kc) for _ in range(CELLS)]
        return ready, first, statistics.median(cells)
    finally:
        kc.stop_channels()
        km.shutdown_kernel()


def interrupt_latency(ksm: KernelSpecManager, name: str, env: dict[str, str], n: int) -> float:
    km = KernelManager(kernel_name=name, kernel_spec_manager=ksm)
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    times = []
    try:
        kc.wait_for_ready(timeout=60)
        run_cell(kc)
        for _ in range(n):
            msg_id = kc.execute("import time; time.sleep(30)")
            time.sleep(0.5)
            started = time.perf_counter()
            km.interrupt_kernel()
            while True:
                reply = kc.get_shell_msg(timeout=30)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            times.append(time.perf_counter() - started)
            assert reply["content"]["ename"] == "KeyboardInterrupt"
    finally:
        kc.stop_channels()
        km.shutdown_kernel()
    return statistics.median(times)


def report(label: str, runs: list[tuple[float, ...]], base: tuple[float, ...] | None) -> tuple:
    med = tuple(statistics.median(r[i] for r in runs) for i in range(3))
    parts = [f"ready {med[0] * 1000:7.1f} ms", f"first cell {med[1] * 1000:7.1f} ms",
             f"1+1 {med[2] * 1000:6.2f} ms"]  # fmt: skip
    if base:
        parts = [p + f" ({m / b:4.2f}x)" for p, m, b in zip(parts, med, base, strict=True)]
    print(f"{label:<9}" + "  ".join(parts))
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    token = secrets.token_urlsafe(16)
    pool, url = start_pool(token)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            install(SpecOptions(name="bench-remote"), prefix=tmp)
            install(SpecOptions(name="bench-message", interrupt_mode="message"), prefix=tmp)
            ksm = KernelSpecManager(kernel_dirs=[str(Path(tmp) / "share/jupyter/kernels")])
            remote_env = clean_env(ACA_POOL_ENDPOINT=url, ACA_POOL_TOKEN=token)
            one_run(ksm, "bench-remote", remote_env)  # warm the OS caches and the pool
            results: dict[str, list] = {"baseline": [], "remote": [], "auto": []}
            for _ in range(args.runs):  # interleaved, so drift hits all three alike
                results["baseline"].append(one_run(None, "python3", clean_env()))
                results["remote"].append(one_run(ksm, "bench-remote", remote_env))
                results["auto"].append(one_run(ksm, "bench-remote", clean_env()))
            interrupts = {
                mode: interrupt_latency(ksm, name, remote_env, args.runs)
                for mode, name in (("signal", "bench-remote"), ("message", "bench-message"))
            }
    finally:
        pool.terminate()
        pool.wait(10)
    print(f"medians of {args.runs} kernel starts; ratios vs the stock IPython kernel")
    base = report("baseline", results["baseline"], None)
    report("remote", results["remote"], base)
    report("auto", results["auto"], base)
    for mode, seconds in interrupts.items():
        print(f"interrupt ({mode} mode) to execute_reply: median {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
