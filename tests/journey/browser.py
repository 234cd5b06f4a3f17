"""Debian's ``chromium`` for the JupyterLab test, obtained by the suite itself.

The README's test command must pass on a fresh machine, so the browser cannot be a
step someone has to remember. When ``/usr/bin/chromium`` is missing, the suite
installs it with apt-get where it may (as root, or through passwordless sudo);
elsewhere the test fails with the one command that fixes it. Never a skip.

The decision is plain data (:class:`Host` in, :class:`Plan` out) so it is tested
on every kind of machine without uninstalling anything; :func:`ensure_chromium`
carries it out under a file lock, so parallel workers (or two test runs on one
machine) do not run apt-get twice at once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: Shared by every test process on this machine (xdist workers, parallel runs).
LOCK = Path(tempfile.gettempdir()) / "remote-kernel-tests-chromium.lock"
#: Seconds for one apt-get step: a fresh machine downloads chromium and its libraries.
APT_TIMEOUT = 900
#: apt-get waits this long for another apt/dpkg to finish instead of failing at once.
DPKG_LOCK_WAIT = 300


class BrowserMissing(Exception):
    """The browser is not there and could not be installed; the message says how to fix it."""


@dataclass(frozen=True)
class Host:
    """What deciding how to get the browser depends on."""

    chromium: Path
    euid: int
    passwordless_sudo: bool
    apt_get: str | None

    @classmethod
    def this_machine(cls, chromium: Path = CHROMIUM) -> Host:
        """This machine; sudo is probed only when it could be needed."""
        euid = os.geteuid()
        sudo = euid != 0 and not usable(chromium) and _sudo_without_password()
        return cls(chromium, euid, sudo, shutil.which("apt-get"))


@dataclass(frozen=True)
class Plan:
    """What to run (nothing when the browser is there), or why nothing can be run."""

    commands: tuple[tuple[str, ...], ...]
    #: The one command a person runs to fix a refusal or a failed install.
    fix: str
    refusal: str | None = None


def usable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def plan(host: Host) -> Plan:
    """Install with apt-get as root or with ``sudo -n``; otherwise refuse, naming the fix."""
    fix = "apt-get install -y chromium" if host.euid == 0 else "sudo apt-get install -y chromium"
    if usable(host.chromium):
        return Plan((), fix)
    if host.apt_get is None:
        return Plan((), fix, "this machine has no apt-get (Debian's chromium is expected)")
    if host.euid == 0:
        prefix: tuple[str, ...] = ()
    elif host.passwordless_sudo:
        prefix = ("sudo", "-n")
    else:
        return Plan((), fix, "the tests run neither as root nor with passwordless sudo")
    apt = (*prefix, "env", "DEBIAN_FRONTEND=noninteractive", host.apt_get, "-q")
    apt += ("-o", f"DPkg::Lock::Timeout={DPKG_LOCK_WAIT}")
    return Plan(((*apt, "update"), (*apt, "install", "-y", "chromium")), fix)


def ensure_chromium(host: Host, *, lock: Path = LOCK, timeout: float = APT_TIMEOUT) -> Path:
    """The browser's path, installed first if missing; :class:`BrowserMissing` otherwise."""
    if usable(host.chromium):
        return host.chromium
    with _locked(lock):
        decided = plan(host)  # after the lock: another process may have installed it
        if decided.refusal is not None:
            raise BrowserMissing(
                f"{host.chromium} is missing and {decided.refusal}. Fix: {decided.fix}"
            )
        for command in decided.commands:
            _run(command, decided.fix, timeout)
    if not usable(host.chromium):
        raise BrowserMissing(
            f"apt-get installed chromium but {host.chromium} is still missing. Fix: {decided.fix}"
        )
    return host.chromium


def require_chromium(host: Host, *, lock: Path = LOCK) -> Path:
    """:func:`ensure_chromium` for a test: a refusal or failed install fails the test
    (no traceback, the fix in the message); it never skips."""
    try:
        return ensure_chromium(host, lock=lock)
    except BrowserMissing as exc:
        pytest.fail(f"The JupyterLab test needs Debian's chromium: {exc}", pytrace=False)


def _run(command: tuple[str, ...], fix: str, timeout: float) -> None:
    shown = " ".join(command)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BrowserMissing(f"`{shown}` took over {timeout:.0f} s. Fix: {fix}") from None
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip()[-1500:]
        raise BrowserMissing(f"`{shown}` failed (exit {done.returncode}):\n{tail}\nFix: {fix}")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (read-only open: any user may take a root-made lock)."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _sudo_without_password() -> bool:
    if shutil.which("sudo") is None:
        return False
    try:
        probe = subprocess.run(["sudo", "-n", "true"], capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0
