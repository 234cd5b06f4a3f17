"""Live output costs (run by hand: python benchmarks/bench_streaming.py [--prints N] [--cells N]).

Measured in one run, against a local pool in a subprocess (``remote-kernel serve``):

1. Latency from the session's ``print`` to the front-end's ``stream`` message: our
   kernel (jupyter_client) runs a cell that prints ``time.time()`` N times, 20 ms
   apart; each IOPub ``stream`` message is timed on arrival (same host clock).
   Reports the median and p99.
2. A trivial cell (``1``) through SessionPoolClient, streamed (``on_event=``) versus
   not, interleaved, medians (target: streamed <= 1.1x).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

sys.path.insert(0, str(Path(__file__).parent))
from bench_kernel import clean_env, start_pool  # noqa: E402

from remote_kernel.client import SessionPoolClient  # noqa: E402
from remote_kernel.identifiers import new_identifier  # noqa: E402
from remote_kernel.kernel.spec import SpecOptions, install  # noqa: E402


def print_latencies(url: str, token: str, prints: int) -> list[float]:
    """Arrival minus print time of each printed line, in ms."""
    with tempfile.TemporaryDirectory() as tmp:
        install(SpecOptions(name="bench-stream"), prefix=tmp)
        ksm = KernelSpecManager(kernel_dirs=[str(Path(tmp) / "share" / "jupyter" / "kernels")])
        km = KernelManager(kernel_name="bench-stream", kernel_spec_manager=ksm)
        km.start_kernel(env=clean_env(ACA_POOL_ENDPOINT=url, ACA_POOL_TOKEN=token))
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            kc.execute_interactive("1", timeout=60)  # session created, features learnt
            code = (
                "import time\n"
                f"for _ in range({prints}):\n"
                "    print(repr(time.time()), flush=True)\n"
                "    time.sleep(0.02)\n"
            )
            latencies: list[float] = []
            pending = ""
            msg_id = kc.execute(code)
            while True:
                msg = kc.get_iopub_msg(timeout=120)
                arrived = time.time()
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":  # a line may come in pieces: time its end
                    pending += msg["content"]["text"]
                    *lines, pending = pending.split("\n")
                    latencies += [(arrived - float(line)) * 1000 for line in lines if line]
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
            return latencies
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


def trivial_cells(url: str, token: str, cells: int) -> tuple[list[float], list[float]]:
    """Seconds per ``execute("1")``: (not streamed, streamed), interleaved."""
    plain: list[float] = []
    streamed: list[float] = []
    sid = new_identifier("bench")
    with SessionPoolClient(url, token=token) as client:
        for _ in range(10):  # warm: session, connections, features
            client.execute("1", session=sid)
            client.execute("1", session=sid, on_event=lambda event: None)
        for _ in range(cells):
            started = time.perf_counter()
            client.execute("1", session=sid)
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.execute("1", session=sid, on_event=lambda event: None)
            streamed.append(time.perf_counter() - started)
        client.delete_session(sid)
    return plain, streamed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prints", type=int, default=300)
    parser.add_argument("--cells", type=int, default=200)
    args = parser.parse_args()
    token = secrets.token_urlsafe(16)
    proc, url = start_pool(token)
    try:
        latencies = sorted(print_latencies(url, token, args.prints))
        median = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"print -> IOPub stream: {len(latencies)} lines, median {median:.1f} ms, p99 {p99:.1f} ms"
        )
        plain, streamed = trivial_cells(url, token, args.cells)
        a, b = statistics.median(plain) * 1000, statistics.median(streamed) * 1000
        print(f"trivial cell: not streamed {a:.2f} ms, streamed {b:.2f} ms, ratio {b / a:.2f}x")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
