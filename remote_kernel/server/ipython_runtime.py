"""A session runtime that is a real IPython kernel driven over the Jupyter protocol.

One execution is one ``execute_request``; its outputs are the IOPub messages
whose parent is that request, collected until the kernel reports ``idle``
(no extra round trip: the shell reply is drained lazily before the next run).
Timeouts and cancels interrupt the kernel; a kernel that will not stop within
a grace period is restarted (state lost); a kernel that dies is reported so
the pool can discard the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import zmq.asyncio
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from remote_kernel.config import TOKEN_ENV
from remote_kernel.in_session import IN_SESSION_ENV
from remote_kernel.server import mnt_data as mnt_data_mod
from remote_kernel.server.outputs import OutputCollector
from remote_kernel.server.runtime import RunOutcome, RuntimeFactory, SessionRuntime

log = logging.getLogger(__name__)

#: Seconds a kernel gets to stop after an interrupt before it is restarted.
INTERRUPT_GRACE = 3.0
#: Seconds between repeated interrupts while a run has not stopped.
INTERRUPT_RETRY = 0.5
#: How often a silent kernel is checked for death while a cell runs.
_POLL = 0.2
#: How long to wait for the shell reply after ``idle`` (it is normally already there).
_REPLY_WAIT = 1.0
_KERNEL_NAME = "remote-kernel-session"
#: Environment variables a session must never see (the pool's own secrets).
_HIDDEN_ENV = frozenset(TOKEN_ENV)
_INLINE_BACKEND = "module://matplotlib_inline.backend_inline"

#: Makes the kernel's stdout/stderr publish at most the execution's output limit: the
#: kernel drops the rest and reports how much (see ``_session_streams``).
_STREAMS_FILE = str(Path(__file__).with_name("_session_streams.py"))
_LIMIT_KEY = "remote_kernel_max_output_chars"
_DROPPED_MIME = "application/vnd.remote-kernel.dropped+json"
_BOUNDED_STREAMS = (
    "--IPKernelApp.exec_lines="
    f"exec(compile(open({_STREAMS_FILE!r}).read(), {_STREAMS_FILE!r}, 'exec'), {{}})"
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
    args = ["-f", "{connection_file}", "--HistoryManager.enabled=False", _BOUNDED_STREAMS]
    if mnt_data:
        return mnt_data_mod.module_command(python, "ipykernel_launcher", args, workdir)
    return [python, "-m", "ipykernel_launcher", *args]


def kernel_env(python: str | None = None) -> dict[str, str]:
    """The server's environment minus its secrets, with inline figures forced on.

    A chosen session interpreter's folder goes first on PATH, so ``!pip`` and
    ``!python`` in a cell mean that environment's.
    """
    env = {k: v for k, v in os.environ.items() if k not in _HIDDEN_ENV}
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


class IPythonRuntime(SessionRuntime):
    """A live ``ipykernel`` whose working directory is the session's file area."""

    def __init__(
        self,
        state_dir: Path,
        *,
        startup_timeout: float = 60.0,
        python: str | None = None,
        mnt_data: bool = True,
    ) -> None:
        self._state_dir = state_dir
        self._startup_timeout = startup_timeout
        self._python = python
        self._mnt_data = mnt_data
        self._km: AsyncKernelManager | None = None
        self._kc: Any = None
        self._log_path: Path | None = None
        self._log_file: Any = None
        # Set by interrupt(); read by the execute loop.
        self._cancel_requested = False
        self._running = False
        self._started_in_kernel = False
        # execute_input seen: ipykernel installs its SIGINT handler before it sends that.
        self._code_started = False
        self._interrupt_sent = False
        self._closing = False

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, workdir: Path) -> None:
        self._state_dir.mkdir(parents=True, exist_ok=True)
        name = f"kernel-{uuid.uuid4().hex}"
        mounted = self._mnt_data and await _mnt_data_available()
        spec = KernelSpec(
            argv=kernel_command(workdir, python=self._python, mnt_data=mounted),
            display_name="remote_kernel local session",
            language="python",
            interrupt_mode="signal",
        )
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
            env=kernel_env(self._python),
            stdout=self._log_file,
            stderr=self._log_file,
        )
        try:
            await self._connect()
        except BaseException:
            await self.shutdown()
            raise

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
        if self._running and self._km is not None:
            # Kill first so a running execute() sees the death and returns, before
            # its sockets are closed under it.
            with contextlib.suppress(Exception):
                await self._km.signal_kernel(signal.SIGKILL)
            for _ in range(50):
                if not self._running:
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

    # -- execution ------------------------------------------------------------------------

    async def interrupt(self) -> None:
        """Cancel the running execution (sent now, or as soon as the kernel starts it)."""
        if not self._running:
            return
        self._cancel_requested = True
        if self._started_in_kernel:
            await self._send_interrupt()

    async def _send_interrupt(self) -> None:
        if self._km is not None and not self._interrupt_sent:
            self._interrupt_sent = True
            with contextlib.suppress(Exception):
                await self._km.interrupt_kernel()

    async def execute(self, code: str, *, timeout: float, max_output_chars: int) -> RunOutcome:
        if self._kc is None or not self.is_alive():
            return self._lost(OutputCollector(max_output_chars), 0.0, "before the code ran")
        self._running, self._cancel_requested = True, False
        self._started_in_kernel = self._code_started = self._interrupt_sent = False
        try:
            return await self._execute(code, timeout, max_output_chars)
        finally:
            self._running = False

    async def _execute(self, code: str, timeout: float, max_chars: int) -> RunOutcome:
        kc = self._kc
        await self._drain_shell()
        out = OutputCollector(max_chars)
        start = time.perf_counter()
        msg_id = _send_execute(kc, code, max_chars)
        deadline, stop_by, retry_at = start + timeout, None, None
        timed_out = False
        while True:
            now = time.perf_counter()
            if stop_by is None and (now >= deadline or self._cancel_requested):
                timed_out = not self._cancel_requested
                if self._started_in_kernel or timed_out:
                    await self._send_interrupt()
                stop_by, retry_at = now + INTERRUPT_GRACE, now + INTERRUPT_RETRY
            elif stop_by is not None and now >= stop_by:
                return await self._restart_after_stuck(out, start, timeout, timed_out)
            elif retry_at is not None and now >= retry_at and self._interrupt_sent:
                # A SIGINT that lands while the kernel is busy but before the cell's own
                # code runs is swallowed; another one stops the cell (as a user presses
                # interrupt twice) before the grace runs out and the state is lost.
                # Once the code runs one is enough: a repeat would cut into the cell's
                # own KeyboardInterrupt handling (IPython 8 formatting the traceback).
                if self._code_started:
                    retry_at = None
                    continue
                self._interrupt_sent = False
                await self._send_interrupt()
                retry_at = now + INTERRUPT_RETRY
            wake = min(stop_by or deadline, retry_at or deadline)
            wait = min(_POLL, max(0.0, wake - now))
            try:
                msg = await kc.get_iopub_msg(timeout=wait)
            except queue.Empty:
                if not self.is_alive():
                    return self._lost(out, start, "while running this code")
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if await self._handle(msg, out):
                break
        if out.error is None and not timed_out:
            await self._error_from_reply(msg_id, out)
        return self._finish(out, start, timeout, timed_out)

    async def _error_from_reply(self, msg_id: str, out: OutputCollector) -> None:
        """Errors IPython reports only in the shell reply (a ``UsageError`` such as an
        unknown magic prints to stderr and sends no ``error`` message): make them errors.
        The reply left before ``idle`` was published, so this wait is normally zero."""
        deadline = time.perf_counter() + _REPLY_WAIT
        while (remaining := deadline - time.perf_counter()) > 0:
            try:
                reply = await self._kc.get_shell_msg(timeout=remaining)
            except queue.Empty:
                return
            if reply["parent_header"].get("msg_id") != msg_id:
                continue
            content = reply["content"]
            if content.get("status") == "error":
                out.add_error(
                    str(content.get("ename") or "Error"),
                    str(content.get("evalue") or ""),
                    list(content.get("traceback") or []),
                )
            return

    async def _handle(self, msg: dict[str, Any], out: OutputCollector) -> bool:
        """Feed one IOPub message to ``out``; True once the kernel is idle again."""
        kind, content = msg["header"]["msg_type"], msg["content"]
        if kind == "status":
            if content.get("execution_state") == "busy":
                self._started_in_kernel = True
                if self._cancel_requested:
                    await self._send_interrupt()
            return content.get("execution_state") == "idle"
        if kind == "execute_input":
            self._code_started = True
        elif kind == "stream":
            out.stream(content.get("name", "stdout"), content.get("text", ""))
        elif kind == "display_data" and _DROPPED_MIME in content.get("data", {}):
            for name, count in content["data"][_DROPPED_MIME].items():
                out.note_dropped(str(name), int(count))
        elif kind in ("display_data", "execute_result"):
            display_id = (content.get("transient") or {}).get("display_id")
            out.rich(
                kind,
                content.get("data", {}),
                content.get("metadata", {}),
                execution_count=content.get("execution_count"),
                display_id=display_id,
            )
        elif kind == "update_display_data":
            display_id = (content.get("transient") or {}).get("display_id")
            if display_id:
                out.update_display(display_id, content.get("data", {}), content.get("metadata"))
        elif kind == "clear_output":
            out.clear(bool(content.get("wait")))
        elif kind == "error":
            out.add_error(
                content.get("ename", "Error"),
                content.get("evalue", ""),
                content.get("traceback", []),
            )
        return False

    def _finish(
        self, out: OutputCollector, start: float, timeout: float, timed_out: bool
    ) -> RunOutcome:
        cancelled = self._cancel_requested and not timed_out
        if timed_out:
            out.replace_error(
                "TimeoutError",
                f"The execution passed its {timeout:g} s timeout and was interrupted; "
                "the session kept its state.",
            )
        elif cancelled and (out.error or {}).get("ename") != "KeyboardInterrupt":
            out.replace_error("KeyboardInterrupt", "The execution was cancelled.")
        return out.outcome(timed_out=timed_out, cancelled=cancelled, duration_ms=_ms_since(start))

    async def _restart_after_stuck(
        self, out: OutputCollector, start: float, timeout: float, timed_out: bool
    ) -> RunOutcome:
        """The kernel ignored the interrupt: restart it (its variables are gone)."""
        why = f"passed its {timeout:g} s timeout" if timed_out else "was cancelled"
        message = (
            f"The execution {why} and did not stop within {INTERRUPT_GRACE:g} s of an "
            "interrupt, so the session's interpreter was restarted: its variables are gone "
            "(files are kept)."
        )
        try:
            await self._restart()
        except Exception as exc:  # a kernel that cannot come back is a lost session
            log.warning("kernel restart failed: %s", exc)
            return self._lost(out, start, "while being restarted")
        out.replace_error("TimeoutError" if timed_out else "KeyboardInterrupt", message, [])
        return out.outcome(
            timed_out=timed_out,
            cancelled=not timed_out,
            state_lost=True,
            duration_ms=_ms_since(start),
        )

    async def _restart(self) -> None:
        assert self._km is not None
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        await self._km.restart_kernel(now=True)
        await self._connect()

    def _lost(self, out: OutputCollector, start: float, when: str) -> RunOutcome:
        """The kernel process is gone: report it so the pool discards the session."""
        code = None
        process = self._process()
        if process is not None:
            code = process.poll()
        detail = f" (exit code {code})" if code is not None else ""
        what = (
            "The session was deleted"
            if self._closing
            else f"The session's Python interpreter died{detail}"
        )
        out.replace_error(
            "SessionLost",
            f"{what} {when}; its variables and files are gone. "
            "The next call with this identifier starts a fresh session.",
            [],
        )
        return out.outcome(
            state_lost=True, session_lost=True, duration_ms=_ms_since(start) if start else 0.0
        )

    async def _drain_shell(self) -> None:
        """Discard shell replies of earlier runs (we only wait on IOPub)."""
        channel = self._kc.shell_channel
        while await channel.msg_ready():
            await channel.get_msg()


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


def _send_execute(kc: Any, code: str, max_chars: int) -> str:
    """``kc.execute`` plus the output limit in the request metadata, for the kernel."""
    content = {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": False,
    }
    msg = kc.session.msg("execute_request", content, metadata={_LIMIT_KEY: max_chars})
    kc.shell_channel.send(msg)
    return str(msg["header"]["msg_id"])


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


async def _mnt_data_available() -> bool:
    """Whether kernels get a real /mnt/data here (checked once per process, off the loop)."""
    return (await asyncio.to_thread(mnt_data_mod.support)).available


def ipython_runtime_factory(
    *, startup_timeout: float = 60.0, python: str | None = None, mnt_data: bool = True
) -> RuntimeFactory:
    """The default :data:`RuntimeFactory`: one IPython kernel per session.

    ``python``: the sessions' interpreter (needs ipykernel; default the pool's).
    ``mnt_data``: give each session a real ``/mnt/data`` where the OS allows it.
    """

    def make(state_dir: Path) -> SessionRuntime:
        return IPythonRuntime(
            state_dir, startup_timeout=startup_timeout, python=python, mnt_data=mnt_data
        )

    return make
