"""A session runtime that is a real IPython kernel driven over the Jupyter protocol.

One execution is one ``execute_request``; its outputs are the IOPub messages
whose parent is that request, fed to the cell's collector until the kernel
reports ``idle`` (no extra round trip: the shell reply is drained lazily before
the next run). The rules around a cell (timeout, cancel, grace then restart,
lost state) are the base's; here are the primitives: send the request, read
IOPub, SIGINT (repeated: one landing before the cell's code runs is swallowed),
restart the kernel. A kernel that dies costs the session (the pool discards it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import zmq.asyncio
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from remote_kernel.errors import ConfigurationError
from remote_kernel.in_session import IN_SESSION_ENV
from remote_kernel.server import mnt_data as mnt_data_mod
from remote_kernel.server.runtimes.base import (
    NO_STDIN,
    NO_STDIN_ENAME,
    CellRun,
    InterpreterDied,
    RuntimeFactory,
    RuntimeOptions,
    SessionRuntime,
    server_env,
)

log = logging.getLogger(__name__)

#: Seconds a kernel gets to stop after an interrupt before it is restarted.
INTERRUPT_GRACE = 3.0
#: Seconds between repeated interrupts while a run has not stopped.
INTERRUPT_RETRY = 0.5
#: How long to wait for the shell reply after ``idle`` (it is normally already there).
_REPLY_WAIT = 1.0
_KERNEL_NAME = "remote-kernel-session"
_INLINE_BACKEND = "module://matplotlib_inline.backend_inline"

_INSIDE = Path(__file__).parent.parent / "inside"
#: Makes the kernel's stdout/stderr publish at most the execution's output limit: the
#: kernel drops the rest and reports how much (see ``inside/session_streams.py``).
_STREAMS_FILE = str(_INSIDE / "session_streams.py")
#: Lets a flush with nothing to send skip its IOPub round trip (``inside/quick_flush.py``).
_FLUSH_FILE = str(_INSIDE / "quick_flush.py")
_LIMIT_KEY = "remote_kernel_max_output_chars"
_DROPPED_MIME = "application/vnd.remote-kernel.dropped+json"


def _exec_file(path: str) -> str:
    """Python that runs the file at ``path`` in a namespace of its own, as a session."""
    return f"exec(compile(open({path!r}).read(), {path!r}, 'exec'), {{}})"


#: What every session kernel runs at start, before any cell.
_SESSION_SETUP = "--IPKernelApp.exec_lines=" + "; ".join(
    _exec_file(path) for path in (_FLUSH_FILE, _STREAMS_FILE)
)

_context: zmq.asyncio.Context | None = None


def kernel_command(
    workdir: Path, *, python: str | None = None, mnt_data: bool = False
) -> list[str]:
    """The command that starts one session's kernel, ``{connection_file}`` left to fill.

    The single place a session's process is defined. ``python`` is the session's
    interpreter (default: the pool's own); with ``mnt_data`` the kernel starts in
    a private mount namespace where ``workdir`` is ``/mnt/data`` (see ``mnt_data``).
    """
    python = python or sys.executable
    args = ["-f", "{connection_file}", "--HistoryManager.enabled=False", _SESSION_SETUP]
    if mnt_data:
        return mnt_data_mod.module_command(python, "ipykernel_launcher", args, workdir)
    return [python, "-m", "ipykernel_launcher", *args]


def kernel_env(python: str | None = None) -> dict[str, str]:
    """The server's environment minus its secrets, with inline figures forced on.

    A chosen session interpreter's folder goes first on PATH, so ``!pip`` and
    ``!python`` in a cell mean that environment's.
    """
    env = server_env()
    env["MPLBACKEND"] = _INLINE_BACKEND
    env[IN_SESSION_ENV] = "1"  # %load_ext remote_kernel in a session must not nest a pool
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    if python:
        env["PATH"] = os.pathsep.join(filter(None, [os.path.dirname(python), env.get("PATH")]))
    return env


def _shared_context() -> zmq.asyncio.Context:
    """One ZeroMQ context (one IO thread) for every kernel client of the process."""
    global _context
    if _context is None:
        _context = zmq.asyncio.Context()
        # No receive high-water mark: a kernel's IOPub PUB socket silently drops
        # messages (outputs, even the final "idle") once 1000 wait unread, which a
        # cell printing in a fast loop reached while the pool was busy.
        _context.setsockopt(zmq.RCVHWM, 0)
    return _context


class _OneSpec(KernelSpecManager):
    """Hands the kernel manager our launch command instead of an installed kernelspec."""

    def __init__(self, spec: KernelSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._spec = spec

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self._spec


class JupyterKernelRuntime(SessionRuntime):
    """A live Jupyter kernel whose working directory is the session's file area.

    Everything but the kernel itself: a subclass says how to start it
    (:meth:`_kernel_spec`, :meth:`_kernel_env`); the driving over the Jupyter
    protocol (execute, IOPub, interrupt, restart) is shared.
    """

    interrupt_grace = INTERRUPT_GRACE
    interrupt_retry = INTERRUPT_RETRY

    def __init__(
        self,
        state_dir: Path,
        *,
        startup_timeout: float = 60.0,
        python: str | None = None,
        mnt_data: bool = True,
    ) -> None:
        super().__init__()
        self._state_dir = state_dir
        self._startup_timeout = startup_timeout
        self._python = python
        self._mnt_data = mnt_data
        self._km: AsyncKernelManager | None = None
        self._kc: Any = None
        self._log_path: Path | None = None
        self._log_file: Any = None
        #: The current (or abandoned) cell's execute_request, and what the kernel did with it.
        self._msg_id: str | None = None
        self._started_in_kernel = False
        # execute_input seen: ipykernel installs its SIGINT handler before it sends that.
        self._code_started = False
        self._interrupt_sent = False
        self._interrupt_on_busy = False

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, workdir: Path) -> None:
        self._state_dir.mkdir(parents=True, exist_ok=True)
        name = f"kernel-{uuid.uuid4().hex}"
        mounted = self._mnt_data and await mnt_data_mod.available()
        spec = self._kernel_spec(workdir, mounted)
        km = AsyncKernelManager(
            kernel_name=_KERNEL_NAME,
            kernel_spec_manager=_OneSpec(spec),
            context=_shared_context(),
            connection_file=str(self._state_dir / f"{name}.json"),
        )
        self._log_path = self._state_dir / f"{name}.log"
        # Kept open: a restart launches the kernel again with the same arguments.
        self._log_file = open(self._log_path, "ab")  # noqa: SIM115
        self._km = km
        await km.start_kernel(
            cwd=str(workdir),
            env=self._kernel_env(),
            stdout=self._log_file,
            stderr=self._log_file,
        )
        try:
            await self._connect()
        except BaseException:
            await self.shutdown()
            raise

    def _kernel_spec(self, workdir: Path, mounted: bool) -> KernelSpec:
        """How to start this runtime's kernel (``{connection_file}`` left to fill)."""
        raise NotImplementedError

    def _kernel_env(self) -> dict[str, str]:
        """The kernel's environment (never the pool's secrets)."""
        raise NotImplementedError

    async def _connect(self) -> None:
        assert self._km is not None
        kc = self._km.client(context=_shared_context())
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=self._startup_timeout)
        except BaseException:
            kc.stop_channels()
            raise
        self._kc = kc

    async def shutdown(self) -> None:
        self._closing = True
        if self._run is not None and self._km is not None:
            # Kill first so a running execute() sees the death and returns, before
            # its sockets are closed under it.
            with contextlib.suppress(Exception):
                await self._km.signal_kernel(signal.SIGKILL)
            for _ in range(50):
                if self._run is None:
                    break
                await asyncio.sleep(0.05)
        km, kc = self._km, self._kc
        self._kc = None
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()
        if km is not None:
            with contextlib.suppress(Exception):
                await km.shutdown_kernel(now=True)
        if self._log_file is not None:
            self._log_file.close()
        if self._log_path is not None:
            with contextlib.suppress(OSError):
                self._log_path.unlink()

    def is_alive(self) -> bool:
        process = self._process()
        return process is not None and process.poll() is None and not _exiting(process.pid)

    @property
    def pids(self) -> list[int]:
        process = self._process()
        return [process.pid] if process is not None else []

    def _process(self) -> Any:
        provisioner = self._km.provisioner if self._km is not None else None
        return getattr(provisioner, "process", None)

    def _death_detail(self) -> str:
        process = self._process()
        code = process.poll() if process is not None else None
        return f" (exit code {code})" if code is not None else ""

    # -- the primitives -------------------------------------------------------------------

    async def _begin(self, run: CellRun) -> None:
        if self._kc is None:
            raise InterpreterDied(self._death_detail())
        await self._drain_shell()
        self._started_in_kernel = self._interrupt_sent = self._interrupt_on_busy = False
        self._code_started = False
        self._msg_id = _send_execute(self._kc, run.code, run.max_output_chars, run.allow_stdin)

    async def _wait(self, seconds: float) -> bool:
        """Feed IOPub messages of the current request until ``idle`` or ``seconds`` pass."""
        deadline = time.perf_counter() + seconds
        while True:
            await self._take_input_requests()
            left = max(0.0, deadline - time.perf_counter())
            try:
                msg = await self._kc.get_iopub_msg(
                    timeout=min(left, _STDIN_POLL) if self._run and self._run.allow_stdin else left
                )
            except queue.Empty:
                if not self.is_alive():
                    raise InterpreterDied(self._death_detail()) from None
                if time.perf_counter() < deadline:
                    continue
                return False
            if msg["parent_header"].get("msg_id") == self._msg_id and await self._handle(msg):
                return True

    async def _take_input_requests(self) -> None:
        """The kernel's ``input_request`` (stdin channel) for this cell: to the reader."""
        run = self._run
        if run is None or not run.allow_stdin or self._kc is None:
            return
        channel = self._kc.stdin_channel
        while await channel.msg_ready():
            msg = await channel.get_msg()
            if msg["parent_header"].get("msg_id") != self._msg_id:
                continue
            await self._take_ready_outputs()
            run.ask_input(msg["content"])

    async def _take_ready_outputs(self) -> None:
        """IOPub messages already here: the kernel flushed what the cell printed before
        its ``input()`` (on another channel), and the reader must see it before the
        prompt. The kernel waits for the answer, so none of them is the cell's end."""
        channel = self._kc.iopub_channel
        while await channel.msg_ready():
            msg = await channel.get_msg()
            if msg["parent_header"].get("msg_id") == self._msg_id:
                await self._handle(msg)

    async def _answer_input(self, value: str) -> bool:
        if self._kc is None:
            return False
        self._kc.input(value)
        return True

    async def _interrupt_cell(self, again: bool = False) -> None:
        """SIGINT now if the kernel runs the cell (or a timeout must stop whatever it
        runs), else as soon as the kernel starts it (``busy``)."""
        run = self._run
        if self._started_in_kernel or run is None or run.timed_out:
            if again:
                # A SIGINT landing while the kernel is busy but before the cell's code
                # runs is swallowed, so it is repeated (as a user presses interrupt
                # twice). Once the code runs ipykernel's handler is in place and one is
                # enough: a repeat would cut into the cell's own KeyboardInterrupt
                # handling (IPython 8 formatting the traceback).
                if self._code_started:
                    return
                self._interrupt_sent = False
            await self._send_interrupt()
        else:
            self._interrupt_on_busy = True

    async def _send_interrupt(self) -> None:
        if self._km is not None and not self._interrupt_sent:
            self._interrupt_sent = True
            with contextlib.suppress(Exception):
                await self._km.interrupt_kernel()

    async def _restart(self) -> None:
        assert self._km is not None
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        await self._km.restart_kernel(now=True)
        await self._connect()

    async def _after_cell(self, run: CellRun) -> None:
        """Errors IPython reports only in the shell reply (a ``UsageError`` such as an
        unknown magic prints to stderr and sends no ``error`` message): make them errors.
        The reply left before ``idle`` was published, so this wait is normally zero."""
        deadline = time.perf_counter() + _REPLY_WAIT
        while (remaining := deadline - time.perf_counter()) > 0:
            try:
                reply = await self._kc.get_shell_msg(timeout=remaining)
            except queue.Empty:
                return
            if reply["parent_header"].get("msg_id") != self._msg_id:
                continue
            content = reply["content"]
            if content.get("status") == "error":
                run.out.handle("error", content)
            return

    async def _handle(self, msg: dict[str, Any]) -> bool:
        """Feed one IOPub message to the cell's collector; True once the kernel is idle."""
        kind, content = msg["header"]["msg_type"], msg["content"]
        if kind == "status":
            if content.get("execution_state") == "busy":
                self._started_in_kernel = True
                if self._interrupt_on_busy:
                    await self._send_interrupt()
            return content.get("execution_state") == "idle"
        if kind == "execute_input":
            self._code_started = True
        run = self._run
        if run is None:  # the rest of an abandoned cell: nobody reads its outputs
            return False
        if kind == "error" and content.get("ename") == NO_STDIN_ENAME:
            note = f"{NO_STDIN_ENAME}: {NO_STDIN}"
            content = {
                **content,
                "evalue": NO_STDIN,
                "traceback": [*content.get("traceback", []), note],
            }
        if kind == "display_data" and _DROPPED_MIME in content.get("data", {}):
            for name, count in content["data"][_DROPPED_MIME].items():
                run.out.note_dropped(str(name), int(count))
        else:
            run.out.handle(kind, content)
        return False

    async def _drain_shell(self) -> None:
        """Discard shell replies of earlier runs (we only wait on IOPub)."""
        channel = self._kc.shell_channel
        while await channel.msg_ready():
            await channel.get_msg()


class IPythonRuntime(JupyterKernelRuntime):
    """A live ``ipykernel`` whose working directory is the session's file area."""

    def _kernel_spec(self, workdir: Path, mounted: bool) -> KernelSpec:
        return KernelSpec(
            argv=kernel_command(workdir, python=self._python, mnt_data=mounted),
            display_name="remote_kernel local session",
            language="python",
            interrupt_mode="signal",
        )

    def _kernel_env(self) -> dict[str, str]:
        return kernel_env(self._python)


#: Seconds between looks at the stdin channel while a cell may ask for input.
_STDIN_POLL = 0.05


def _exiting(pid: int) -> bool:
    """Killed, but not yet reapable (its other threads still unwinding, ~5-20 ms).

    ``poll()`` says alive then, and a call arriving in that window was sent to a
    dead kernel; Linux already shows the process as a zombie in ``/proc``.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state in (b"Z", b"X")


def _send_execute(kc: Any, code: str, max_chars: int, allow_stdin: bool = False) -> str:
    """``kc.execute`` plus the output limit in the request metadata, for the kernel."""
    content = {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": allow_stdin,
        "stop_on_error": False,
    }
    msg = kc.session.msg("execute_request", content, metadata={_LIMIT_KEY: max_chars})
    kc.shell_channel.send(msg)
    return str(msg["header"]["msg_id"])


def ipython_runtime_factory(
    *, startup_timeout: float = 60.0, python: str | None = None, mnt_data: bool = True
) -> RuntimeFactory:
    """One IPython kernel per session.

    ``python``: the sessions' interpreter (needs ipykernel; default the pool's).
    ``mnt_data``: give each session a real ``/mnt/data`` where the OS allows it.
    """

    def make(state_dir: Path) -> SessionRuntime:
        return IPythonRuntime(
            state_dir, startup_timeout=startup_timeout, python=python, mnt_data=mnt_data
        )

    return make


def factory(options: RuntimeOptions) -> RuntimeFactory:
    """The registry's entry point (``--runtime python``)."""
    python = check_session_python(options.session_python) if options.session_python else None
    return ipython_runtime_factory(python=python, mnt_data=options.mnt_data)


def check_session_python(python: str) -> str:
    """The absolute path of a usable session interpreter (one with ipykernel), or a clear error."""
    found = shutil.which(python)
    if found is None:
        raise ConfigurationError(
            f"Session interpreter {python!r} not found or not executable.",
            fix="Pass the path of a Python interpreter (e.g. /path/to/venv/bin/python).",
        )
    # Not resolved further: a venv's python is a symlink whose target knows no venv.
    path = os.path.abspath(found)
    probe = "import importlib.util as u, sys; sys.exit(u.find_spec('ipykernel') is None)"
    try:
        done = subprocess.run([path, "-c", probe], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigurationError(f"Session interpreter {path} does not run ({exc}).") from exc
    if done.returncode != 0:
        raise ConfigurationError(
            f"Session interpreter {path} cannot import ipykernel.",
            fix=f"Install it there: {path} -m pip install ipykernel",
        )
    return path
