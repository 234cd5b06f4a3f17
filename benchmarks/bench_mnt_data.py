"""What a per-session ``/mnt/data`` mount namespace costs at kernel start, four ways.

    python benchmarks/bench_mnt_data.py [--kernels 12] [--spawns 60]

Variants (each makes the session's folder ``/mnt/data`` and the working directory):

- ``plain``: no namespace (the baseline, and the fallback).
- ``in-process``: what the pool uses: ``PYTHON inside/mnt_ns.py --module DIR MODULE ...``:
  the interpreter that becomes the kernel calls unshare(2) and mount(2) through
  ctypes, then runs the module (no second interpreter start).
- ``exec-wrapper``: ``python -I -S inside/mnt_ns.py DIR -- COMMAND``: the same set-up
  in a small interpreter that then execs the command.
- ``unshare-sh``: ``unshare --user --map-root-user --mount sh -c 'mount -t tmpfs ...
  && mount --bind ... && exec COMMAND'`` (util-linux; sh, mount, mkdir, mount).

1. Spawn cost: ``python -m`` of an empty module through each, ``--spawns`` times
   in alternating rounds (shared cores: noise hits all alike), median (ms).
2. Kernel start: jupyter_client start to the ``kernel_info`` reply, ``--kernels``
   per variant in alternating rounds, median and difference to ``plain``; each
   kernel then checks that it sees the session's folder. Needs Linux with user
   namespaces.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from remote_kernel.server import mnt_data

VARIANTS = ("plain", "in-process", "exec-wrapper", "unshare-sh")
SH_SCRIPT = (
    'mount -t tmpfs -o mode=755,size=1m none /mnt && mkdir -p /mnt/data && cd "$0" '
    '&& mount --bind "$0" /mnt/data && cd /mnt/data && exec "$@"'
)
NOOP = "rk_bench_noop"


def command(variant: str, module: str, args: list[str], workdir: str) -> list[str]:
    """``python -m module args`` as ``variant`` starts it."""
    plain = [sys.executable, "-m", module, *args]
    if variant == "plain":
        return plain
    if variant == "in-process":
        return mnt_data.module_command(sys.executable, module, args, workdir)
    if variant == "exec-wrapper":
        return mnt_data.wrap(plain, workdir)
    unshare = ["unshare", "--user", "--map-root-user", "--mount"]
    return [*unshare, "sh", "-c", SH_SCRIPT, workdir, *plain]


def spawn_ms(argv: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True)
    return (time.perf_counter() - start) * 1000.0


class _Spec(KernelSpecManager):
    def __init__(self, argv: list[str]) -> None:
        super().__init__()
        self._spec = KernelSpec(argv=argv, language="python", display_name="bench")

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self._spec


def _check_folder(kc, folder: str) -> None:  # type: ignore[no-untyped-def]
    msg_id = kc.execute(f"import os; print(sorted(os.listdir({folder!r})))")
    while True:
        msg = kc.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            assert "marker.txt" in msg["content"]["text"], msg["content"]["text"]
        if msg["msg_type"] == "error":
            raise AssertionError(msg["content"]["evalue"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return


def kernel_start_ms(argv: list[str], cwd: str, folder: str) -> float:
    km = KernelManager(kernel_name="bench", kernel_spec_manager=_Spec(argv))
    start = time.perf_counter()
    km.start_kernel(cwd=cwd, stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        elapsed = (time.perf_counter() - start) * 1000.0
        _check_folder(kc, folder)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return elapsed


def report(title: str, samples: dict[str, list[float]]) -> None:
    print(title)
    base = statistics.median(samples["plain"])
    for name, values in samples.items():
        med = statistics.median(values)
        print(f"   {name:13s} {med:8.1f}   (+{med - base:6.1f} ms, x{med / base:.3f} vs plain)")


def rounds(n: int, measure: Callable[[str], float]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(n):
        for name in VARIANTS:
            samples[name].append(measure(name))
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=12)
    parser.add_argument("--spawns", type=int, default=60)
    args = parser.parse_args()
    support = mnt_data.probe()
    if not support.available:
        print(f"cannot measure: {support.describe()}")
        return 1
    with tempfile.TemporaryDirectory() as workdir:
        Path(workdir, "marker.txt").write_text("x")
        Path(workdir, f"{NOOP}.py").write_text("")
        spawns = rounds(args.spawns, lambda v: spawn_ms(command(v, NOOP, [], workdir), workdir))
        report(f"1. python -m <empty module>, median of {args.spawns} (ms)", spawns)

        kernel_args = ["-f", "{connection_file}"]

        def start(variant: str) -> float:
            argv = command(variant, "ipykernel_launcher", kernel_args, workdir)
            folder = "." if variant == "plain" else "/mnt/data"
            return kernel_start_ms(argv, workdir, folder)

        starts = rounds(args.kernels, start)
        report(f"\n2. kernel start to kernel_info reply, median of {args.kernels} (ms)", starts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
