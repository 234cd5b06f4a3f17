"""A session runtime that is one bash process per session (Azure's ``Shell`` pools).

The session's state is the shell's: ``cd``, exported variables, functions and
aliases persist between executions because every command runs in the same
bash (``. FILE`` inside a small function, never a subshell). Each execution
writes its command to a file in the pool's private state directory and sends
bash one line; a random end marker on stdout (with the exit code) and on
stderr says the command is over, so no output is mistaken for the end.

bash leads its own process group, and its foreground commands share it (no job
control, as in any script). A timeout or a cancel is SIGINT to that group: the
command's processes stop, and bash, which traps INT while a command runs,
returns from the command instead of exiting, so the shell and its state stay.
A command that ignores SIGINT is handled by the base's rule: after the grace,
the shell is restarted (files kept, shell state lost). Background jobs
(``cmd &``) ignore SIGINT, as in any non-interactive shell.

The exit code travels in the outcome as an error (``ename`` :data:`EXIT_ENAME`)
when it is not zero; :func:`exit_code` reads it back for the HTTP answer.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import re
import shutil
import signal
import time
import uuid
from pathlib import Path

from remote_kernel.errors import ConfigurationError
from remote_kernel.server import mnt_data as mnt_data_mod
from remote_kernel.server.outputs import RunOutcome
from remote_kernel.server.runtimes.base import (
    CellRun,
    InterpreterDied,
    RuntimeFactory,
    RuntimeOptions,
    SessionRuntime,
    refuse_session_python,
    server_env,
)

#: ``ename`` of the error a command that exits non-zero ends with.
EXIT_ENAME = "NonZeroExitCode"
_EXIT_VALUE = re.compile(r"exited with code (-?\d+)")
#: Conventional codes for a command stopped by its timeout (as ``timeout(1)``) or cancelled.
TIMEOUT_EXIT = 124
INTERRUPT_EXIT = 130
_READ_CHUNK = 65536
#: Seconds to wait for bash's exit code once its output has closed.
_REAP_WAIT = 5.0

#: Defined once in the shell. ``$1``: the command file; ``$2``: the end marker.
#: ``return`` in the INT trap ends the sourced command (not bash); ``$?`` is then 130.
#: Between commands INT is trapped too (a no-op), so a late interrupt cannot kill bash;
#: a trapped signal, unlike an ignored one, is back to its default in child processes.
_PRELUDE = r"""
trap : INT
__rk_run() {
  trap 'trap : INT; return 130' INT
  . "$1" </dev/null
  local __rk_rc=$?
  trap : INT
  printf '%s:%d\n' "$2" "$__rk_rc"
  printf '%s\n' "$2" >&2
}
"""


def exit_code(outcome: RunOutcome) -> int:
    """The shell command's exit code, as the HTTP answer gives it."""
    if outcome.timed_out:
        return TIMEOUT_EXIT
    if outcome.cancelled:
        return INTERRUPT_EXIT
    error = outcome.error
    if error is None:
        return 0
    found = _EXIT_VALUE.search(str(error.get("evalue", "")))
    return int(found.group(1)) if found else 1


def _exit_error(code: int) -> dict[str, object]:
    message = f"The command exited with code {code}."
    return {"ename": EXIT_ENAME, "evalue": message, "traceback": [f"{EXIT_ENAME}: {message}"]}


def shell_env() -> dict[str, str]:
    """The server's environment minus its secrets; a plain, prompt-less bash."""
    env = server_env()
    env.pop("BASH_ENV", None)
    env.pop("ENV", None)
    env["PS1"] = env["PS2"] = ""
    return env


class ShellRuntime(SessionRuntime):
    """A live ``bash`` whose working directory is the session's file area."""

    interrupt_grace = 3.0
    #: SIGINT again while the command runs on: a loop of commands gets one per command.
    interrupt_retry = 0.5
    #: ``exit N`` in a command ends the shell, as in a terminal: the answer's exit code
    #: is N, and a new shell starts in its place (files kept, shell state lost).
    revives = True
    crash_ename = "ShellExited"

    def __init__(self, state_dir: Path, *, mnt_data: bool = True, bash: str = "bash") -> None:
        super().__init__()
        self._state_dir = state_dir
        self._mnt_data = mnt_data
        self._bash = bash
        self._workdir: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._chunks: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
        self._marker = ""
        self._pending: dict[str, str] = {}
        self._ended: set[str] = set()
        self._rc: int | None = None
        self._command_file: Path | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, workdir: Path) -> None:
        self._state_dir.mkdir(parents=True, exist_ok=True)
        self._workdir = workdir
        argv = [self._bash, "--noprofile", "--norc"]
        mounted = self._mnt_data and await mnt_data_mod.available()
        if mounted:
            argv = mnt_data_mod.wrap(argv, workdir)
        self._chunks = asyncio.Queue()
        self._proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(workdir),
            env=shell_env(),
            start_new_session=True,  # bash leads a process group: the one interrupts hit
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._readers = [
            asyncio.create_task(self._read("stdout", self._proc.stdout)),
            asyncio.create_task(self._read("stderr", self._proc.stderr)),
        ]
        await self._send(_PRELUDE)

    async def _read(self, name: str, stream: asyncio.StreamReader) -> None:
        """Pump one pipe into the queue as text (``None`` once the pipe closes)."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while chunk := await stream.read(_READ_CHUNK):
            text = decoder.decode(chunk)
            if text:
                await self._chunks.put((name, text))
        await self._chunks.put((name, None))

    async def _send(self, text: str) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            raise InterpreterDied(self._death_detail())
        try:
            proc.stdin.write(text.encode())
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise InterpreterDied(self._death_detail()) from exc

    async def shutdown(self) -> None:
        self._closing = True
        await self._kill()
        if self._command_file is not None:
            with contextlib.suppress(OSError):
                self._command_file.unlink()

    async def _kill(self) -> None:
        """SIGKILL the shell's whole process group and reap it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        for reader in self._readers:
            reader.cancel()
        for reader in self._readers:
            with contextlib.suppress(BaseException):
                await reader
        self._readers = []

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pids(self) -> list[int]:
        return [self._proc.pid] if self._proc is not None else []

    def _death_detail(self) -> str:
        """``exit N`` in a command ends bash: N is the command's exit code (see exit_code)."""
        code = self._proc.returncode if self._proc is not None else None
        return f" (bash exited with code {code})" if code is not None else ""

    async def _exit_detail(self) -> str:
        """Why the output closed: bash's exit code once it is reaped (``exit N`` gives N).

        The pipes can close a moment before the exit is collected: wait for it briefly
        rather than report an unknown code (which the answer would give as 1)."""
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), _REAP_WAIT)
        return self._death_detail() or " (its output closed)"

    # -- the primitives -------------------------------------------------------------------

    async def _begin(self, run: CellRun) -> None:
        self._marker = f"__remote_kernel_end_{uuid.uuid4().hex}"
        self._pending = {"stdout": "", "stderr": ""}
        self._ended = set()
        self._rc = None
        self._command_file = self._state_dir / f"command-{id(self)}.sh"
        self._command_file.write_text(run.code if run.code.endswith("\n") else run.code + "\n")
        await self._send(f"__rk_run {_quote(str(self._command_file))} {self._marker}\n")

    async def _wait(self, seconds: float) -> bool:
        """Feed the command's output until both end markers came, or ``seconds`` pass."""
        deadline = time.perf_counter() + seconds
        while len(self._ended) < 2:
            try:
                name, text = await asyncio.wait_for(
                    self._chunks.get(), max(0.0, deadline - time.perf_counter())
                )
            except asyncio.TimeoutError:
                return False
            if text is None:
                self._emit(name, self._pending.pop(name, ""))
                raise InterpreterDied(await self._exit_detail())
            self._take(name, text)
        run = self._run
        if run is not None and self._rc not in (None, 0) and not run.cancel_requested:
            if not run.timed_out:
                run.out.handle("error", _exit_error(self._rc))
        return True

    def _take(self, name: str, text: str) -> None:
        """Pass the command's text on; hold back only what could be the marker's start."""
        if name in self._ended:
            return
        buffered = self._pending[name] + text
        at = buffered.find(self._marker)
        if at >= 0:
            rest = buffered[at + len(self._marker) :]
            if name == "stdout" and "\n" not in rest:
                self._emit(name, buffered[:at])  # the exit code is still on its way
                self._pending[name] = buffered[at:]
                return
            self._emit(name, buffered[:at])
            self._ended.add(name)
            if name == "stdout":
                found = re.match(r":(-?\d+)", rest)
                self._rc = int(found.group(1)) if found else None
            return
        held = _marker_start(buffered, self._marker)
        self._emit(name, buffered[: len(buffered) - held])
        self._pending[name] = buffered[len(buffered) - held :]

    def _emit(self, name: str, text: str) -> None:
        if text and self._run is not None:
            self._run.out.stream(name, text)

    async def _interrupt_cell(self, again: bool = False) -> None:
        """SIGINT to the shell's process group: the command stops, bash returns from it."""
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGINT)

    async def _restart(self) -> None:
        assert self._workdir is not None
        await self._kill()
        await self.start(self._workdir)

    async def list_packages(self) -> list[dict[str, str]]:
        """A shell session has no Python distributions of its own to report."""
        raise RuntimeError("a shell session has no Python packages to list")


def _marker_start(text: str, marker: str) -> int:
    """Length of the longest end of ``text`` that begins ``marker`` (0 if none)."""
    for size in range(min(len(text), len(marker)), 0, -1):
        if text.endswith(marker[:size]):
            return size
    return 0


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def factory(options: RuntimeOptions) -> RuntimeFactory:
    """The registry's entry point (``--runtime shell``)."""
    refuse_session_python(options, "shell")
    bash = shutil.which("bash")
    if bash is None:
        raise ConfigurationError(
            "The shell runtime needs bash, and none is on PATH.", fix="Install bash."
        )

    def make(state_dir: Path) -> SessionRuntime:
        return ShellRuntime(state_dir, mnt_data=options.mnt_data, bash=bash)

    return make
