"""Sandboxed sessions: Python cells in Pyodide (CPython on WebAssembly) under Deno.

Each session is one Deno process with deny-by-default permissions: it may read
the cached Pyodide package and its own session directory (mounted at
``/mnt/data``), write only that directory, and nothing else: no network, no
subprocesses, no environment variables. See ``docs/sandbox.md``.

``python -m remote_kernel.server.sandbox --prepare`` fetches the pinned Pyodide
once (the first session does it too, if needed).
"""

from remote_kernel.server.sandbox.driver import SandboxRuntime, deno_command
from remote_kernel.server.sandbox.environment import (
    PYODIDE_VERSION,
    SandboxUnavailableError,
    deno_dir,
    find_deno,
    prepare,
    pyodide_dir,
)

__all__ = [
    "PYODIDE_VERSION",
    "SandboxRuntime",
    "SandboxUnavailableError",
    "deno_command",
    "deno_dir",
    "find_deno",
    "prepare",
    "pyodide_dir",
]
