"""Fixtures for the sandbox tests: real Deno processes running real Pyodide.

Nothing here skips: CI installs the ``deno`` wheel (test extra) and the first
fixture fetches the pinned Pyodide from the npm registry. If either cannot be
had, every sandbox test fails with the reason.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sandbox_helpers import start_runtime

from remote_kernel.server.runtimes.pyodide import SandboxRuntime
from remote_kernel.server.sandbox import prepare


@pytest.fixture(scope="session")
def sandbox_prepared():
    """Fetch Pyodide into Deno's cache once (the explicit CI step; fails, never skips)."""
    started = time.perf_counter()
    done = prepare()
    print(f"sandbox prepare: fetched={done.fetched} in {time.perf_counter() - started:.2f} s")
    return done


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_sandbox(sandbox_prepared, tmp_path_factory) -> AsyncIterator[SandboxRuntime]:
    """One session for the tests that only add state (fast: one Pyodide load per module)."""
    runtime = await start_runtime(tmp_path_factory.mktemp("sandbox-session"))
    yield runtime
    await runtime.shutdown()
