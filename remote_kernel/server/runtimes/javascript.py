"""A session runtime for JavaScript (Azure's ``NodeLTS`` pools): Deno's Jupyter kernel.

``deno jupyter --kernel`` is a real Jupyter kernel, so it is driven exactly as
the IPython one (:class:`~remote_kernel.server.runtimes.ipython.JupyterKernelRuntime`):
state across executions, ``console.log`` as a ``stream``, the last expression as
the ``execute_result``, errors with name, message and stack, rich output through
``Deno.jupyter`` (``display``, ``html``, ``md``, objects with ``[Symbol.for("Jupyter.display")]``).
The binary is the one the ``deno`` wheel ships (as for the Pyodide sandbox), so a
fresh machine needs nothing outside pip. The kernel runs with Deno's default
Jupyter permissions (all), as a local process with your rights, at ``/mnt/data``.
"""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec

from remote_kernel.errors import ConfigurationError
from remote_kernel.in_session import IN_SESSION_ENV
from remote_kernel.server import mnt_data as mnt_data_mod
from remote_kernel.server.runtimes.base import (
    CellRun,
    RuntimeFactory,
    RuntimeOptions,
    SessionRuntime,
    refuse_session_python,
    server_env,
)
from remote_kernel.server.runtimes.ipython import JupyterKernelRuntime

#: Seconds of IOPub quiet after ``idle`` that end an execution (see ``_settle``). Every
#: execution pays it (a trivial one takes ~106 ms). Late messages of small cells came
#: within 1 ms of ``idle`` in 400 runs, but a cell logging 5,000 lines on 2 cores under
#: four CPU hogs had gaps past 30 ms: at 0.03 s 2 cells in 40 lost output, some of it
#: landing in the next cell (Deno stamps a late chunk with the request current when it
#: forwards it); at 0.1 s none in 60.
SETTLE = 0.1


class JavaScriptRuntime(JupyterKernelRuntime):
    """A live Deno Jupyter kernel whose working directory is the session's file area."""

    #: Deno takes ``interrupt_request`` on the control channel (a SIGINT kills it): that
    #: stops running JavaScript, even a busy loop, keeping the state. It cannot stop an
    #: ``await`` on a promise that never settles: after the grace that costs a restart.
    interrupt_retry = None
    #: A kernel that dies (``Deno.exit()``) is started again in place, files kept.
    revives = True
    crash_ename = "KernelCrashed"

    def __init__(self, state_dir: Path, *, deno: str, mnt_data: bool = True) -> None:
        super().__init__(state_dir, mnt_data=mnt_data)
        self._deno = deno
        self._idle_seen = False
        #: The cell's ``error`` message, fed last (see :meth:`_handle`).
        self._held_error: dict[str, Any] | None = None

    async def _begin(self, run: CellRun) -> None:
        self._idle_seen = False
        self._held_error = None
        await super()._begin(run)

    async def _handle(self, msg: dict[str, Any]) -> bool:
        """Hold the ``error`` until the cell has settled: Deno publishes it at once but
        forwards ``console`` output asynchronously, so what the cell logged before it
        threw can arrive after the error (measured: 1 run in 10 on an idle machine).
        An uncaught error ends a cell, so its output all belongs before the error."""
        if msg["header"]["msg_type"] == "error":
            self._held_error = msg
            return False
        return await super()._handle(msg)

    async def _wait(self, seconds: float) -> bool:
        if not await self._settle(seconds):
            return False
        held, self._held_error = self._held_error, None
        if held is not None:
            await super()._handle(held)
        return True

    async def _settle(self, seconds: float) -> bool:
        """As for any kernel, then what Deno publishes late: it forwards ``console``
        output asynchronously and may send it, or even the ``execute_result``, after
        ``idle`` (output would otherwise land in the next execution, a result be lost).
        It ends once IOPub has been quiet for :data:`SETTLE` s."""
        if not self._idle_seen:
            if not await super()._wait(seconds):
                return False
            self._idle_seen = True
        while True:
            try:
                msg = await self._kc.get_iopub_msg(timeout=SETTLE)
            except queue.Empty:
                return True
            if msg["parent_header"].get("msg_id") == self._msg_id:
                await self._handle(msg)

    def _kernel_spec(self, workdir: Path, mounted: bool) -> KernelSpec:
        argv = [self._deno, "jupyter", "--kernel", "--conn", "{connection_file}"]
        if mounted:
            argv = mnt_data_mod.wrap(argv, workdir)
        return KernelSpec(
            argv=argv,
            display_name="remote_kernel local JavaScript session",
            language="typescript",
            interrupt_mode="message",
        )

    def _kernel_env(self) -> dict[str, str]:
        env = server_env()
        env[IN_SESSION_ENV] = "1"
        env["NO_COLOR"] = "1"
        env["DENO_NO_UPDATE_CHECK"] = "1"
        env["DENO_NO_PROMPT"] = "1"
        return env

    async def list_packages(self) -> list[dict[str, str]]:
        """A JavaScript session has no Python distributions to report."""
        raise RuntimeError("a JavaScript session has no Python packages to list")


def find_deno() -> str:
    """The Deno binary (``$REMOTE_KERNEL_DENO`` or the ``deno`` wheel's), or a clear error."""
    from remote_kernel.server.sandbox.environment import SandboxUnavailableError
    from remote_kernel.server.sandbox.environment import find_deno as sandbox_deno

    try:
        return sandbox_deno()
    except SandboxUnavailableError as exc:
        raise ConfigurationError(
            f"The javascript runtime needs Deno: {exc}",
            fix="Install it: pip install 'aca-remote-kernel[sandbox]' (or pip install deno).",
        ) from exc


def factory(options: RuntimeOptions) -> RuntimeFactory:
    """The registry's entry point (``--runtime javascript``)."""
    refuse_session_python(options, "javascript")
    deno = find_deno()

    def make(state_dir: Path) -> SessionRuntime:
        return JavaScriptRuntime(state_dir, deno=deno, mnt_data=options.mnt_data)

    return make
