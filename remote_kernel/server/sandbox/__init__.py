"""What sandboxed sessions need on the host: Deno, the pinned Pyodide, the JS side.

Each sandboxed session (``--runtime pyodide``, the runtime in
``server/runtimes/pyodide.py``) is one Deno process with deny-by-default
permissions: it may read the cached Pyodide package and its own session
directory (mounted at ``/mnt/data``), write only that directory, and nothing
else: no network, no subprocesses, no environment variables. See
``docs/sandbox.md``. Here: ``environment`` (finding Deno, fetching Pyodide,
the memory snapshot) and the scripts Deno runs (``host.mjs``, ``worker.mjs``,
``snapshot.mjs``, ``preload.mjs``).

``python -m remote_kernel.server.sandbox --prepare`` (``__main__``) fetches the
pinned Pyodide once (the first session does it too, if needed).
"""

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
    "SandboxUnavailableError",
    "deno_dir",
    "find_deno",
    "prepare",
    "pyodide_dir",
]
