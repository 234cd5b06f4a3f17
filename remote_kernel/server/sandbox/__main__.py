"""``python -m remote_kernel.server.sandbox --prepare``: fetch Deno's Pyodide once.

CI and offline installs call this before the first sandboxed session, so no
session start has to reach the npm registry.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from remote_kernel.errors import RemoteKernelError
from remote_kernel.server.runtimes.pyodide import SandboxRuntime
from remote_kernel.server.sandbox.environment import PYODIDE_VERSION, prepare


async def _check() -> float:
    """Start one sandbox and run a cell: proves the cache works without the network."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rk-sandbox-check-") as tmp:
        runtime = SandboxRuntime()
        try:
            await runtime.start(Path(tmp))
            outcome = await runtime.execute("1 + 1", timeout=30, max_output_chars=1000)
        finally:
            await runtime.shutdown()
    if outcome.error or outcome.outputs[-1]["data"]["text/plain"] != "2":
        raise RemoteKernelError(f"The sandbox check cell failed: {outcome.error}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m remote_kernel.server.sandbox")
    parser.add_argument(
        "--prepare", action="store_true", help=f"fetch pyodide@{PYODIDE_VERSION} into Deno's cache"
    )
    parser.add_argument(
        "--check", action="store_true", help="start one sandboxed session and run `1 + 1`"
    )
    args = parser.parse_args(argv)
    if not (args.prepare or args.check):
        parser.error("nothing to do: give --prepare and/or --check")
    try:
        if args.prepare:
            done = prepare()
            what = "fetched" if done.fetched else "already cached"
            print(
                f"pyodide@{PYODIDE_VERSION} {what} in {done.seconds:.2f} s: {done.pyodide_dir}"
                f" (deno: {done.deno})"
            )
            print(f"snapshot: {done.snapshot or 'none (sessions load Pyodide from scratch)'}")
        if args.check:
            print(f"sandbox check passed in {asyncio.run(_check()):.2f} s")
    except RemoteKernelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
