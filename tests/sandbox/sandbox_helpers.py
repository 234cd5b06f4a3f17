"""Helpers shared by the sandbox tests (imported by name: tests/sandbox is on sys.path)."""

from __future__ import annotations

from pathlib import Path

from remote_kernel.server.runtimes.pyodide import SandboxRuntime


async def start_runtime(workdir: Path, **kwargs) -> SandboxRuntime:
    runtime = SandboxRuntime(**kwargs)
    await runtime.start(workdir)
    return runtime


async def run(
    runtime: SandboxRuntime, code: str, *, timeout: float = 30.0, max_chars: int = 1_000_000
):
    return await runtime.execute(code, timeout=timeout, max_output_chars=max_chars)


def result_text(outcome) -> str:
    """text/plain of the cell's execute_result (fails the test if there is none)."""
    results = [o for o in outcome.outputs if o["output_type"] == "execute_result"]
    assert results, f"no execute_result in {outcome.outputs} (error: {outcome.error})"
    return results[-1]["data"]["text/plain"]
