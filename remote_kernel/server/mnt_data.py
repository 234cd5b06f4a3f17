"""``/mnt/data`` inside local sessions: each kernel in its own mount namespace.

Code written for Azure's code interpreter opens ``/mnt/data/...`` (the
custom-container tutorial) or starts with ``os.chdir('/mnt/data')`` (AutoGen).
On Linux the local pool launches every session's kernel through
``server/inside/mnt_ns.py``: the kernel's own interpreter enters a
private user + mount namespace where ``/mnt/data`` *is* that session's file
area, then runs ``ipykernel_launcher``. No root needed, two sessions never see
each other's ``/mnt/data``, the kernel keeps the PID jupyter_client tracks.

Where that is impossible (not Linux, user namespaces disabled, no ``/mnt``) or
turned off (``remote-kernel serve --no-mnt-data``, ``start_local_pool(mnt_data=False)``
or ``REMOTE_KERNEL_NO_MNT_DATA=1``), sessions fall back to their file area as
the plain working directory: relative paths work, ``/mnt/data`` does not. The
pool logs that once per process; ``remote-kernel serve`` prints it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MNT_DATA = "/mnt/data"
#: Set to 1/true/yes to force the fallback in every pool of this process tree.
DISABLE_ENV = "REMOTE_KERNEL_NO_MNT_DATA"
WRAPPER = Path(__file__).parent / "inside" / "mnt_ns.py"
_CHECK_TIMEOUT = 15.0


@dataclass(frozen=True)
class MntDataSupport:
    """Whether sessions get a real ``/mnt/data``; ``reason`` says why not."""

    available: bool
    reason: str = ""

    def describe(self) -> str:
        """One line for people: what session code can rely on."""
        if self.available:
            return f"Sessions see their files at {MNT_DATA} (a private mount namespace each)."
        return (
            f"Sessions have no {MNT_DATA}: {self.reason}. Their files are in their working "
            f"directory only, so code that opens '{MNT_DATA}/...' fails."
        )


_lock = threading.Lock()
_probed: MntDataSupport | None = None
_warned = False


def disabled_by_env() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def module_command(python: str, module: str, args: list[str], workdir: Path | str) -> list[str]:
    """``python -m module args``, run inside a fresh namespace where ``workdir`` is /mnt/data.

    The namespace is set up by ``python`` itself before it runs ``module``: no
    second interpreter start (see ``benchmarks/bench_mnt_data.py``).
    """
    return [python, str(WRAPPER), "--module", str(workdir), module, *args]


def wrap(argv: list[str], workdir: Path | str) -> list[str]:
    """Any ``argv`` run (exec'd) inside a fresh namespace where ``workdir`` is /mnt/data."""
    return [sys.executable, "-I", "-S", str(WRAPPER), str(workdir), "--", *argv]


def _check() -> MntDataSupport:
    """Run the wrapper's ``--check`` on a throwaway folder: does the whole setup work here?"""
    if not sys.platform.startswith("linux"):
        return MntDataSupport(False, f"mount namespaces need Linux (this is {sys.platform})")
    with tempfile.TemporaryDirectory(prefix="remote-kernel-mnt-check-") as folder:
        command = [sys.executable, "-I", "-S", str(WRAPPER), "--check", folder]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=_CHECK_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return MntDataSupport(False, f"the namespace check could not run ({exc})")
    if done.returncode == 0:
        return MntDataSupport(True)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    reason = lines[-1].removeprefix("mnt-data: ") if lines else f"exit code {done.returncode}"
    return MntDataSupport(False, reason)


def probe() -> MntDataSupport:
    """Whether this machine can give sessions /mnt/data (checked once per process)."""
    global _probed
    with _lock:
        if _probed is None:
            _probed = _check()
        return _probed


async def available() -> bool:
    """Whether sessions get a real /mnt/data here: the check every local runtime makes
    before a start (probed once per process, off the event loop)."""
    return (await asyncio.to_thread(support)).available


def support(enabled: bool = True, *, shown: bool = False) -> MntDataSupport:
    """What a pool's sessions get, given its setting.

    Logs a warning the first time in this process that the machine forces the
    fallback, unless the caller ``shown`` it to the user itself (``serve``).
    """
    global _warned
    if not enabled:
        return MntDataSupport(False, "turned off (--no-mnt-data / mnt_data=False)")
    if disabled_by_env():
        return MntDataSupport(False, f"turned off ({DISABLE_ENV} is set)")
    result = probe()
    if not result.available:
        with _lock:
            first, _warned = not _warned, True
        if first and not shown:
            log.warning("%s", result.describe())
    return result
