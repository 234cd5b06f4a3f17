"""The host side of a sandboxed session: one Deno process running Pyodide.

:class:`SandboxRuntime` starts ``deno run host.mjs`` with deny-by-default
permissions (read: the cached Pyodide package and the session directory;
write: the session directory; nothing else: no network, no subprocess, no
environment, no FFI) and speaks line-delimited JSON with it over stdin/stdout.

The shim inside Pyodide (``server/inside/pyodide_shim.py``) sends each output
as it happens, as a Jupyter-shaped event line; they go to the cell's
:class:`~remote_kernel.server.outputs.OutputCollector`, as the IPython
runtime's IOPub messages do.

Interrupts are a KeyboardInterrupt through a SharedArrayBuffer (Pyodide runs in
a Worker), so variables survive; the buffer stays set until Python sees it,
so one interrupt is enough. This runtime :attr:`revives`: a cell that ignores
the interrupt, or a process that dies (a fatal Pyodide error, V8 out of
memory), costs a restart of the process, and the outcome says ``state_lost``.
Files in the session directory survive a restart.

``input()``/``getpass()`` in a run that allows stdin send an ``input_request``
event and block the worker (``Atomics.wait``) until :meth:`answer_input` puts
the answer in a shared buffer (at most 1 MiB; a longer one is a clear error in
the cell); an interrupt or the timeout wakes it as a KeyboardInterrupt.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import signal
import uuid
from pathlib import Path
from typing import Any

from remote_kernel import wire
from remote_kernel.errors import ConfigurationError
from remote_kernel.server.runtimes.base import (
    NO_STDIN,
    CellRun,
    InterpreterDied,
    RuntimeFactory,
    RuntimeOptions,
    SessionRuntime,
)
from remote_kernel.server.sandbox.environment import (
    DENO_RUN,
    HERE,
    HOST_SCRIPT,
    SHIM_SCRIPT,
    SandboxUnavailableError,
    deno_env,
    prepare,
)

log = logging.getLogger(__name__)

MEMORY_ENV = "REMOTE_KERNEL_SANDBOX_MEMORY_MB"
DEFAULT_MEMORY_MB = 1024
MIN_MEMORY_MB = 128
#: WebAssembly (32-bit) memory cannot grow past 4 GiB.
MAX_MEMORY_MB = 4096
#: One reply line may carry images: allow big lines, not unbounded ones.
_LINE_LIMIT = 256 * 1024 * 1024


class SandboxDied(Exception):
    """The Deno process exited (or broke the protocol) while we waited for it."""


def _memory_limit(value: int | None) -> int:
    if value is None:
        raw = os.environ.get(MEMORY_ENV, "").strip()
        if not raw:
            return DEFAULT_MEMORY_MB
        try:
            value = int(raw)
        except ValueError:
            raise ConfigurationError(f"{MEMORY_ENV}={raw!r} is not a whole number of MB.") from None
    if not MIN_MEMORY_MB <= value <= MAX_MEMORY_MB:
        raise ConfigurationError(
            f"Sandbox memory limit {value} MB is outside {MIN_MEMORY_MB}-{MAX_MEMORY_MB} MB."
        )
    return value


def deno_command(
    deno: str, pyodide_dir: Path, workdir: Path, memory_mb: int, snapshot: Path | None = None
) -> list[str]:
    """The exact ``deno run`` line of one session: every permission is listed here."""
    readable = [pyodide_dir, workdir, HERE] + ([snapshot] if snapshot else [])
    for path in readable:
        if "," in str(path):
            raise ConfigurationError(f"Sandbox paths may not contain ',' ({path}).")
    wasm_pages = memory_mb * 16  # 64 KiB pages
    js_heap_mb = max(512, memory_mb)
    return [
        deno,
        *DENO_RUN,
        f"--v8-flags=--wasm-max-mem-pages={wasm_pages},--max-old-space-size={js_heap_mb}",
        # HERE: the worker's own modules, loaded at run time (Deno checks read access).
        "--allow-read=" + ",".join(str(path) for path in readable),
        f"--allow-write={workdir}",
        str(HOST_SCRIPT),
    ]


class SandboxRuntime(SessionRuntime):
    """A session's Python: Pyodide in a Deno process confined to ``workdir``."""

    revives = True
    crash_ename = "SandboxCrashed"

    def __init__(
        self,
        *,
        memory_limit_mb: int | None = None,
        start_timeout: float = 120.0,
        interrupt_grace: float = 3.0,
    ) -> None:
        super().__init__()
        self.memory_limit_mb = _memory_limit(memory_limit_mb)
        self.start_timeout = start_timeout
        self.interrupt_grace = interrupt_grace
        self.workdir: Path | None = None
        self.load_ms: float | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        #: The current (or abandoned) cell: its id and the future of its result line.
        self._exec_id: str | None = None
        self._waiter: asyncio.Future[dict[str, Any]] | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self, workdir: Path) -> None:
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        await self._spawn()

    async def _spawn(self) -> None:
        assert self.workdir is not None
        prepared = await asyncio.to_thread(prepare)
        command = deno_command(
            prepared.deno,
            prepared.pyodide_dir,
            self.workdir,
            self.memory_limit_mb,
            prepared.snapshot,
        )
        self._stderr_tail.clear()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=deno_env(prepared.deno_dir),
                cwd=str(self.workdir),
                start_new_session=os.name == "posix",
                limit=_LINE_LIMIT,
            )
        except OSError as exc:
            raise SandboxUnavailableError(f"Cannot run Deno ({prepared.deno}): {exc}") from None
        self._reader = asyncio.create_task(self._read_replies(self._proc))
        self._stderr_task = asyncio.create_task(self._read_stderr(self._proc))
        ready = self._expect("ready")
        init = {
            "op": "init",
            "shim": SHIM_SCRIPT.read_text(encoding="utf-8"),
            "mount": str(self.workdir),
            "snapshot": str(prepared.snapshot) if prepared.snapshot else None,
            "noStdin": NO_STDIN,
        }
        try:
            await self._send(init)
            message = await asyncio.wait_for(ready, self.start_timeout)
        except (asyncio.TimeoutError, SandboxDied) as exc:
            await self._settle_stderr()
            await self._kill()
            why = "timed out" if isinstance(exc, asyncio.TimeoutError) else "failed"
            raise SandboxUnavailableError(
                f"The sandbox (Deno + Pyodide) {why} while starting: {self._diagnostics()}",
                fix="Run `python -m remote_kernel.server.sandbox --prepare --check` to see why.",
            ) from None
        self.load_ms = float(message.get("load_ms") or 0.0)
        await self._warm_up()

    async def _warm_up(self, rounds: int = 5) -> None:
        """A few invisible no-op cells: V8 compiles the whole path (JS and wasm) lazily,
        so without them a session's first cells take 10-50 ms instead of ~1 ms."""
        for i in range(rounds):
            exec_id = f"warm-up-{i}-{uuid.uuid4().hex}"
            waiter = self._expect(exec_id)
            try:
                await self._send(
                    {"op": "execute", "id": exec_id, "code": "1 + 1", "max_output_chars": 0}
                )
                await asyncio.wait_for(waiter, self.start_timeout)
            except (asyncio.TimeoutError, SandboxDied):
                return  # the first real cell will find out (and restart if needed)
            finally:
                self._waiters.pop(exec_id, None)

    async def shutdown(self) -> None:
        self._closing = True
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(Exception):
                await self._send({"op": "shutdown"})
            try:
                await asyncio.wait_for(proc.wait(), 2.0)
            except asyncio.TimeoutError:
                pass
        await self._kill()

    async def _kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            if hasattr(os, "killpg"):  # POSIX: Deno and any thread it started
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        for task in (self._reader, self._stderr_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if proc.stdin is not None:
            proc.stdin.close()
        self._fail_waiters(SandboxDied("the sandbox process was stopped"))

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pids(self) -> list[int]:
        return [self._proc.pid] if self.is_alive() and self._proc is not None else []

    # ------------------------------------------------------------ the primitives

    async def _begin(self, run: CellRun) -> None:
        exec_id = uuid.uuid4().hex
        self._exec_id, self._waiter = exec_id, self._expect(exec_id)
        message = {"op": "execute", "id": exec_id, "code": run.code, "allow_stdin": run.allow_stdin}
        try:
            await self._send({**message, "max_output_chars": run.max_output_chars})
        except SandboxDied as exc:
            raise InterpreterDied(await self._died_detail(exc)) from None

    async def _wait(self, seconds: float) -> bool:
        waiter = self._waiter
        if waiter is None:
            return True
        if not waiter.done():
            await asyncio.wait({waiter}, timeout=seconds)
            if not waiter.done():
                return False
        try:
            reply = waiter.result()
        except SandboxDied as exc:
            raise InterpreterDied(await self._died_detail(exc)) from None
        self._waiter = None
        if self._run is not None:
            for name, count in (reply.get("dropped") or {}).items():
                self._run.out.note_dropped(str(name), int(count))
        return True

    async def _answer_input(self, value: str) -> bool:
        """To the Deno host, which writes it into the buffer the waiting cell reads."""
        try:
            await self._send({"op": "input", "value": value})
        except SandboxDied:
            return False
        return True

    async def _interrupt_cell(self, again: bool = False) -> None:
        with contextlib.suppress(SandboxDied):
            await self._send({"op": "interrupt"})

    async def _restart(self) -> None:
        await self._kill()
        self._waiter = None
        await self._spawn()

    async def _revive_if_dead(self) -> bool:
        if self.workdir is None:
            raise ConfigurationError("SandboxRuntime.execute() called before start().")
        if self.is_alive():
            return False
        log.warning("sandbox for %s died (%s): restarting", self.workdir, self._diagnostics())
        await self._restart()
        return True

    async def _died_detail(self, exc: Exception) -> str:
        await self._settle_stderr()
        return f" ({self._diagnostics()})"

    # ------------------------------------------------------------ protocol plumbing

    async def _send(self, message: dict[str, Any]) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            raise SandboxDied("the sandbox process is not running")
        proc.stdin.write(json.dumps(message).encode("utf-8") + b"\n")
        try:
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise SandboxDied(str(exc)) from None

    def _expect(self, key: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[key] = future
        return future

    def _fail_waiters(self, exc: Exception) -> None:
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(exc)
                future.exception()  # mark retrieved: nobody may be waiting any more
        self._waiters.clear()

    async def _read_replies(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        reason = "the sandbox process exited"
        try:
            while True:
                line = await proc.stdout.readline()
                if not line:
                    break
                self._dispatch(line)
        except (ValueError, asyncio.LimitOverrunError):
            reason = "the sandbox sent a reply over the size limit"
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.wait()
        self._fail_waiters(SandboxDied(f"{reason} (code {proc.returncode})"))

    def _dispatch(self, line: bytes) -> None:
        try:
            message = json.loads(line)
            op = message["op"]
        except (ValueError, KeyError, TypeError):
            log.warning("sandbox: ignoring a malformed line: %.200r", line)
            return
        if op == "event":
            # An output of the running cell (warm-up cells have no reader).
            run = self._run
            if run is None or message.get("id") != self._exec_id:
                return
            content = message.get("content") or {}
            if message.get("msg_type") == wire.INPUT_REQUEST_EVENT:
                run.ask_input(content)
            else:
                run.out.handle(str(message.get("msg_type")), content)
            return
        if op == "log":
            log.info("sandbox: %.500r", message.get("message"))
            return
        if op == "fatal":
            self._stderr_tail.append(str(message.get("message", "")))
            return  # the process exits right after; _read_replies fails the waiters
        key = "ready" if op == "ready" else str(message.get("id"))
        future = self._waiters.pop(key, None)
        if future is not None and not future.done():
            future.set_result(message)

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while True:
            line = await proc.stderr.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()
            self._stderr_tail.append(text)
            log.debug("sandbox stderr: %s", text)

    async def _settle_stderr(self, timeout: float = 1.0) -> None:
        """A dead process's last words may still be in the pipe: read them first."""
        task = self._stderr_task
        if task is not None and not task.done() and not self.is_alive():
            await asyncio.wait({task}, timeout=timeout)

    def _diagnostics(self) -> str:
        """The telling line of Deno's last words (not its stack frames), for error messages."""
        lines = [
            line.strip()
            for entry in self._stderr_tail
            for line in str(entry).splitlines()
            if line.strip() and not line.strip().startswith(("at ", "{", "}", "pyodide_fatal"))
        ]
        telling = [
            line
            for line in lines
            if any(word in line for word in ("NotCapable", "Error", "memory", "error:"))
        ]
        chosen = (telling or lines or ["no diagnostics"])[-1]
        return chosen[:400]


def factory(options: RuntimeOptions) -> RuntimeFactory:
    """The registry's entry point (``--runtime pyodide``)."""
    if options.session_python:
        raise ConfigurationError(
            "A session interpreter applies to IPython sessions, not to the sandbox "
            "(Pyodide brings its own Python)."
        )
    return lambda state_dir: SandboxRuntime()
