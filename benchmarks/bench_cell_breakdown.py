"""Where a trivial cell's time goes (run by hand: python benchmarks/bench_cell_breakdown.py).

One ``1+1`` cell crosses: the front-end's ZeroMQ message to our kernel, the
kernel's HTTP request to the pool, the pool's ZeroMQ message to the session's
IPython kernel, and the way back. Timestamps are taken at each hand-over (the
same host clock in every process): in the pool, run here in a thread, by
wrapping its methods; in our kernel, a subprocess, by a ``sitecustomize``
module wrapping its methods the same way. Prints the median of each step over
``--cells`` cells, and the stock IPython kernel's whole cell for comparison.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec

sys.path.insert(0, str(Path(__file__).parent))
from bench_kernel import run_cell  # noqa: E402

#: The steps in order: (mark, where it is taken).
STEPS = [
    ("sent", "front-end: execute_request sent"),
    ("kernel", "our kernel: do_execute starts"),
    ("request", "our kernel: the execution request starts"),
    ("pool", "pool: the request's body is read"),
    ("runtime", "pool: the session's runtime starts the run"),
    ("session", "pool: execute_request sent to the session's kernel"),
    ("idle", "pool: the session's kernel is idle"),
    ("answered", "our kernel: the result is in"),
    ("replied", "our kernel: do_execute returns"),
    ("front", "front-end: idle received"),
]

_WRAPPER_MARKS = """
import functools, os, time
_LOG = os.environ["RK_BREAKDOWN_LOG"]

def _mark(name):
    with open(_LOG, "a") as f:
        f.write(f"{name} {time.time():.6f}\\n")

def _wrap(cls, attr, before, after):
    original = getattr(cls, attr)

    @functools.wraps(original)
    async def wrapped(*args, **kwargs):
        if before: _mark(before)
        try:
            return await original(*args, **kwargs)
        finally:
            if after: _mark(after)

    setattr(cls, attr, wrapped)

from remote_kernel.kernel.kernel import RemoteKernel
from remote_kernel.session import RemoteSession
_wrap(RemoteKernel, "do_execute", "kernel", "replied")
_wrap(RemoteSession, "aexecute", "request", "answered")
"""


def mark(log: Path, name: str) -> None:
    with log.open("a") as f:
        f.write(f"{name} {time.time():.6f}\n")


def wrap(log: Path, owner: Any, attr: str, before: str | None, after: str | None) -> None:
    original = getattr(owner, attr)

    @functools.wraps(original)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        if before:
            mark(log, before)
        try:
            return await original(*args, **kwargs)
        finally:
            if after:
                mark(log, after)

    setattr(owner, attr, wrapped)


def instrument_pool(log: Path) -> None:
    import remote_kernel.server.app as app
    import remote_kernel.server.runtimes.base as base
    import remote_kernel.server.runtimes.ipython as ipython

    wrap(log, app, "_json_object", None, "pool")
    wrap(log, base.SessionRuntime, "execute", "runtime", None)
    wrap(log, ipython.JupyterKernelRuntime, "_begin", None, "session")
    wrap(log, ipython.JupyterKernelRuntime, "_wait", None, "idle")


def kernel(argv: list[str], env: dict[str, str]) -> tuple[KernelManager, Any]:
    km = KernelManager()
    km._kernel_spec = KernelSpec(argv=argv, language="python", display_name="bench")
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def steps(log: Path) -> list[dict[str, float]]:
    cells: list[dict[str, float]] = []
    for line in log.read_text().splitlines():
        name, stamp = line.split()
        if name == "sent":
            cells.append({})
        if cells:
            cells[-1].setdefault(name, float(stamp))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100)
    args = parser.parse_args()
    from remote_kernel.server import start_local_pool

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "marks"
        site = Path(tmp) / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(textwrap.dedent(_WRAPPER_MARKS))
        instrument_pool(log)
        pool = start_local_pool(token="breakdown-token-0123456789")
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("ACA_")}
            env.update(
                ACA_POOL_ENDPOINT=pool.url,
                ACA_POOL_TOKEN="breakdown-token-0123456789",
                RK_BREAKDOWN_LOG=str(log),
                PYTHONPATH=os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")])),
            )
            ours = [sys.executable, "-Xfrozen_modules=off", "-m", "remote_kernel"]
            km, kc = kernel([*ours, "-f", "{connection_file}"], env)
            for _ in range(5):
                run_cell(kc)  # session created, caches warm
            log.unlink(missing_ok=True)
            total = [run_cell(kc, mark=functools.partial(mark, log)) for _ in range(args.cells)]
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        finally:
            pool.stop()
        cells = steps(log)
    stock_km, stock_kc = kernel(
        [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"], {**os.environ}
    )
    for _ in range(5):
        run_cell(stock_kc)
    stock = [run_cell(stock_kc) for _ in range(args.cells)]
    stock_kc.stop_channels()
    stock_km.shutdown_kernel(now=True)

    print(f"medians of {args.cells} cells of 1+1 (ms):")
    for (before, _), (after, label) in zip(STEPS, STEPS[1:], strict=False):
        gaps = [(c[after] - c[before]) * 1000 for c in cells if before in c and after in c]
        print(f"  {statistics.median(gaps):6.2f}  to {label}")
    ours_ms, stock_ms = statistics.median(total) * 1000, statistics.median(stock) * 1000
    print(f"  whole cell {ours_ms:.2f} ms; stock IPython kernel {stock_ms:.2f} ms")
    print(f"  ratio {ours_ms / stock_ms:.2f}x")


if __name__ == "__main__":
    main()
