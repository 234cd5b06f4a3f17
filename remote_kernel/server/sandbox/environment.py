"""Where the sandbox's parts live: the Deno binary, its cache, the pinned Pyodide.

The ``deno`` wheel from PyPI ships the binary. Deno fetches the ``pyodide`` npm
package itself (from the npm registry, or ``NPM_CONFIG_REGISTRY``) into a
per-user ``DENO_DIR``; :func:`prepare` does that once, explicitly, so sessions
start with ``--cached-only`` and never touch the network.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from remote_kernel.errors import ConfigurationError

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
HOST_SCRIPT = HERE / "host.mjs"
WORKER_SCRIPT = HERE / "worker.mjs"
SNAPSHOT_SCRIPT = HERE / "snapshot.mjs"
PRELOAD_SCRIPT = HERE / "preload.mjs"
SHIM_SCRIPT = HERE.parent / "inside" / "pyodide_shim.py"

#: How every Deno process of the sandbox starts (sessions and the snapshot alike): no
#: config or lock file is read, nothing is fetched, nothing prompts for a permission.
DENO_RUN = ("run", "--no-config", "--no-lock", "--cached-only", "--no-prompt")

DENO_DIR_ENV = "REMOTE_KERNEL_DENO_DIR"
DENO_BIN_ENV = "REMOTE_KERNEL_DENO"
#: "0" turns the memory snapshot off (every session then loads Pyodide from scratch).
SNAPSHOT_ENV = "REMOTE_KERNEL_SANDBOX_SNAPSHOT"
#: Files Pyodide needs at start: their presence means the cache is usable.
_PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip")


def _pinned_version() -> str:
    """The Pyodide version the worker imports: the one source of truth is worker.mjs."""
    match = re.search(r'"npm:pyodide@([0-9][^"]*)"', WORKER_SCRIPT.read_text(encoding="utf-8"))
    if match is None:  # pragma: no cover - guarded by a test
        raise RuntimeError("worker.mjs does not pin an npm:pyodide version")
    return match.group(1)


PYODIDE_VERSION = _pinned_version()


class SandboxUnavailableError(ConfigurationError):
    """Deno or the Pyodide package is missing and could not be fetched."""

    fix = (
        "Install the extra (`pip install 'aca-remote-kernel[sandbox]'`) and run "
        "`python -m remote_kernel.server.sandbox --prepare` once on a machine that "
        "reaches the npm registry."
    )


def find_deno() -> str:
    """Path of the Deno binary: $REMOTE_KERNEL_DENO, else the one the ``deno`` wheel ships."""
    override = os.environ.get(DENO_BIN_ENV, "").strip()
    if override:
        if not os.access(override, os.X_OK):
            raise SandboxUnavailableError(f"{DENO_BIN_ENV}={override!r} is not an executable.")
        return override
    try:
        import deno
    except ImportError:
        raise SandboxUnavailableError("The `deno` package is not installed.") from None
    try:
        return os.fsdecode(deno.find_deno_bin())
    except FileNotFoundError as exc:
        raise SandboxUnavailableError(f"The `deno` package has no binary ({exc}).") from None


def deno_dir() -> Path:
    """Per-user Deno cache: $REMOTE_KERNEL_DENO_DIR, else ~/.cache/remote_kernel/deno."""
    override = os.environ.get(DENO_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return (Path(base) / "remote_kernel" / "deno").resolve()


def pyodide_dir(cache: Path | None = None) -> Path | None:
    """The cached Pyodide package directory, or None if it is not (fully) there."""
    root = (cache or deno_dir()) / "npm"
    if not root.is_dir():
        return None
    for registry in sorted(root.iterdir()):
        candidate = registry / "pyodide" / PYODIDE_VERSION
        if all((candidate / name).is_file() for name in _PYODIDE_FILES):
            return candidate
    return None


@dataclass(frozen=True)
class Prepared:
    deno: str
    deno_dir: Path
    pyodide_dir: Path
    seconds: float
    fetched: bool
    #: Pyodide memory snapshot sessions start from (None: load from scratch).
    snapshot: Path | None = None


@functools.lru_cache(maxsize=8)
def _snapshot_key(deno: str, size: int, mtime_ns: int) -> str:
    """Changes whenever Pyodide, the Deno binary or what the snapshot preloads changes."""
    digest = hashlib.sha256(f"{PYODIDE_VERSION}|{deno}|{size}|{mtime_ns}".encode())
    for script in (SNAPSHOT_SCRIPT, PRELOAD_SCRIPT):
        digest.update(script.read_bytes())
    return digest.hexdigest()[:16]


def snapshot_path(deno: str, cache: Path) -> Path:
    stat = os.stat(deno)
    key = _snapshot_key(deno, stat.st_size, stat.st_mtime_ns)
    return cache / "snapshots" / f"pyodide-{PYODIDE_VERSION}-{key}.bin"


def _snapshots_enabled() -> bool:
    return os.environ.get(SNAPSHOT_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def make_snapshot(deno: str, cache: Path, pyodide: Path, *, timeout: float = 300.0) -> Path:
    """Run snapshot.mjs once, in its own confined Deno process; atomically publish the file."""
    target = snapshot_path(deno, cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    command = [
        deno,
        *DENO_RUN,
        f"--allow-read={pyodide},{HERE}",
        f"--allow-write={target.parent}",
        str(SNAPSHOT_SCRIPT),
        str(partial),
    ]
    try:
        proc = subprocess.run(
            command, env=deno_env(cache), capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode != 0 or not partial.is_file():
            detail = " / ".join(proc.stderr.strip().splitlines()[-3:])
            raise SandboxUnavailableError(f"Making the Pyodide snapshot failed: {detail}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _ensure_snapshot(deno: str, cache: Path, pyodide: Path) -> Path | None:
    """The snapshot, made now if missing; None (sessions load slower) if it cannot be made."""
    if not _snapshots_enabled():
        return None
    target = snapshot_path(deno, cache)
    if target.is_file():
        return target
    try:
        return make_snapshot(deno, cache, pyodide)
    except (SandboxUnavailableError, subprocess.TimeoutExpired, OSError) as exc:
        log.warning("sandbox sessions will start without a snapshot: %s", exc)
        return None


def deno_env(cache: Path) -> dict[str, str]:
    """The whole environment a session's Deno gets: nothing of the host's."""
    return {
        "DENO_DIR": str(cache),
        "NO_COLOR": "1",
        "DENO_NO_UPDATE_CHECK": "1",
        "DENO_NO_PROMPT": "1",
    }


#: Sessions starting at once in one process (a pool prewarming) fetch and snapshot once.
_PREPARE_LOCK = threading.Lock()


def prepare(*, timeout: float = 300.0) -> Prepared:
    """Make sure Deno and the pinned Pyodide are on this machine; fetch Pyodide if not.

    Also makes the memory snapshot sessions start from (~3 s, once per Pyodide
    and Deno version). Idempotent and fast when already done. Raises
    :class:`SandboxUnavailableError` with Deno's own message when the fetch fails.
    """
    with _PREPARE_LOCK:
        return _prepare(timeout)


def _prepare(timeout: float) -> Prepared:
    started = time.perf_counter()
    deno = find_deno()
    cache = deno_dir()
    found = pyodide_dir(cache)
    if found is not None:
        snapshot = _ensure_snapshot(deno, cache, found)
        return Prepared(deno, cache, found, time.perf_counter() - started, False, snapshot)
    cache.mkdir(parents=True, exist_ok=True)
    command = [deno, "cache", "--no-config", "--no-lock", str(WORKER_SCRIPT)]
    try:
        proc = subprocess.run(
            command,
            # A host-side step, not a sandbox: the user's proxy, CA and registry
            # settings (NPM_CONFIG_REGISTRY, HTTPS_PROXY, SSL_CERT_FILE...) apply.
            env={**os.environ, "DENO_DIR": str(cache), "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(cache),
        )
    except subprocess.TimeoutExpired:
        raise SandboxUnavailableError(
            f"Fetching pyodide@{PYODIDE_VERSION} took more than {timeout:g} s."
        ) from None
    found = pyodide_dir(cache)
    if proc.returncode != 0 or found is None:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise SandboxUnavailableError(
            f"Could not fetch pyodide@{PYODIDE_VERSION} into {cache}: " + " / ".join(detail)
        )
    snapshot = _ensure_snapshot(deno, cache, found)
    return Prepared(deno, cache, found, time.perf_counter() - started, True, snapshot)
