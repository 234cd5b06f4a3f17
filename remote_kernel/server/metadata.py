"""``GET /metadata`` (``SessionPoolMetadata_Get``): what a session of this pool runs.

Azure answers with the pool's runtime, its pre-installed packages and its
Jupyter kernel (2025-02-02-preview example: a Node pool, kernel IJavascript).
The local pool learns the same facts by asking a throw-away runtime built by
the pool's own factory, once: the sessions' interpreter may not be the
server's (``--session-python``, the Pyodide sandbox), so the server's own
``sys`` would describe the wrong Python.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remote_kernel.server.api_errors import ApiError
from remote_kernel.server.shapes import iso

if TYPE_CHECKING:
    from remote_kernel.server.pool import SessionPool

#: Prints, as one JSON line, the interpreter, its distributions and the kernel running it.
_PROBE = """\
(lambda platform, metadata, json, sys: print("RK-METADATA " + json.dumps({
    "runtime": {"name": platform.python_implementation().lower(),
                "version": platform.python_version()},
    "packages": sorted({(d.metadata["Name"], d.version) for d in metadata.distributions()
                        if d.metadata["Name"]}),
    "pyodide": "pyodide" in sys.modules or sys.platform == "emscripten",
})))(__import__("platform"), __import__("importlib.metadata").metadata,
     __import__("json"), __import__("sys"))
"""

#: The same facts from a shell or a JavaScript session (no Python distributions there).
_OTHER_PROBES = {
    "shell": 'printf \'RK-METADATA {"runtime": {"name": "bash", "version": "%s"}, '
    '"packages": [], "kernel": ["bash", "bash", "https://www.gnu.org/software/bash/"]}\\n\' '
    '"${BASH_VERSION%%(*}"',
    "javascript": 'console.log("RK-METADATA " + JSON.stringify({runtime: {name: "deno", '
    'version: Deno.version.deno}, packages: [], kernel: ["deno", "deno", '
    '"https://docs.deno.com/runtime/reference/cli/jupyter/"]}))',
}

_KERNELS = {
    False: ("python3", "ipykernel", "https://github.com/ipython/ipykernel"),
    True: ("pyodide", "pyodide", "https://github.com/pyodide/pyodide"),
}


async def _probe(pool: SessionPool, session_type: str = "python") -> dict[str, Any]:
    """Start one runtime outside the pool's sessions, run the probe (in its language),
    stop it."""
    scratch = Path(tempfile.mkdtemp(prefix="rk-metadata-"))
    runtime = pool.runtime_factory(scratch / "state")
    try:
        (scratch / "area").mkdir()
        await runtime.start(scratch / "area")
        probe = _OTHER_PROBES.get(session_type, _PROBE)
        outcome = await runtime.execute(probe, timeout=60.0, max_output_chars=10_000_000)
    finally:
        await runtime.shutdown()
        await asyncio.to_thread(shutil.rmtree, scratch, True)
    lines = [ln for ln in outcome.stdout.splitlines() if ln.startswith("RK-METADATA ")]
    if outcome.error or not lines:
        detail = (outcome.error or {}).get("evalue", "no answer from the interpreter")
        raise ApiError(500, "MetadataUnavailable", f"Could not describe the runtime: {detail}")
    return json.loads(lines[-1].removeprefix("RK-METADATA "))  # type: ignore[no-any-return]


def _body(probe: dict[str, Any], created: datetime) -> dict[str, Any]:
    packages = {name.lower(): version for name, version in probe["packages"]}
    name, dist, url = probe.get("kernel") or _KERNELS[bool(probe["pyodide"])]
    kernel_version = packages.get(dist, probe["runtime"]["version"])
    return {
        "runtimes": [probe["runtime"]],
        "preInstalledPackages": [{"name": n, "version": v} for n, v in probe["packages"]],
        "createdAt": iso(created),
        "lastUpdatedAt": iso(created),
        "jupyterKernel": {
            "name": name,
            "version": kernel_version,
            "projectUrl": url,
            "description": f"The {dist} kernel each session of this local pool runs.",
        },
    }


async def pool_metadata(state: Any, pool: SessionPool) -> dict[str, Any]:
    """The metadata body, probed on first use and kept for the pool's lifetime."""
    lock = getattr(state, "metadata_lock", None)
    if lock is None:
        lock = state.metadata_lock = asyncio.Lock()
    async with lock:
        if getattr(state, "metadata", None) is None:
            created = datetime.now(timezone.utc)
            kind = getattr(state, "session_type", "python")
            state.metadata = _body(await _probe(pool, kind), created)
    return state.metadata  # type: ignore[no-any-return]
