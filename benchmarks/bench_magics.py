"""Magics overhead (run by hand: python benchmarks/bench_magics.py).

1. ``%%aca 1+1`` in a real IPython shell vs ``RemoteSession.execute("1+1")``
   (the baseline: the same call without the magics layer), same pool, same run.
2. ``%aca_push`` + ``%aca_pull`` of a 10 MiB bytes object vs a plain
   upload + download of the same 10 MiB (the baseline: the file transfer the
   variables ride on; push/pull add one remote script each, and pull one more
   small upload).
Prints medians and ratios.
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from remote_kernel.server import start_local_pool


def medians_ms(a: Callable[[], object], b: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median of each, the two interleaved so machine noise hits both alike."""
    a(), b()  # warm up
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for fn, bucket in ((a, times[0]), (b, times[1])):
            started = time.perf_counter()
            fn()
            bucket.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    pool = start_local_pool(token=secrets.token_urlsafe(24), prewarm=1)
    ip = InteractiveShell.instance()
    ip.config.AcaMagics.pool_endpoint = pool.url
    ip.config.AcaMagics.token = pool.token
    ip.run_line_magic("load_ext", "remote_kernel")
    from remote_kernel.magics import _loaded

    magics = _loaded[id(ip)]
    rs = magics.remote

    def cell(src: str) -> None:
        with capture_output():
            result = ip.run_cell(src)
        assert result.success, result

    try:
        base, magic = medians_ms(lambda: rs.execute("1+1"), lambda: cell("%%aca\n1+1"), runs)
        print(
            f"execute 1+1: RemoteSession {base:.1f} ms, %%aca {magic:.1f} ms, ratio {magic / base:.2f}"
        )

        payload = os.urandom(10 * 1024 * 1024)
        ip.user_ns["payload"] = payload
        client, sid = rs.client, rs.session_id

        def transfer() -> None:
            client.upload_file(payload, session=sid, remote_name="bench.bin")
            assert client.download_file("bench.bin", session=sid) == payload

        def push_pull() -> None:
            cell("%aca_push payload")
            cell("%aca_pull payload")
            assert ip.user_ns["payload"] == payload

        n = max(3, runs // 5)
        base, both = medians_ms(transfer, push_pull, n)
        print(
            f"10 MiB round trip: upload+download {base:.0f} ms, %aca_push+%aca_pull {both:.0f} ms, "
            f"ratio {both / base:.2f}"
        )
    finally:
        ip.run_line_magic("unload_ext", "remote_kernel")
        pool.stop()


if __name__ == "__main__":
    main()
