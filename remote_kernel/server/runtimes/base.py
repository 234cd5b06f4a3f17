"""The runtime contract, and the rules of running a cell that every runtime shares.

The pool only ever talks to :class:`SessionRuntime`: ``start``, ``execute``,
``interrupt``, ``shutdown``, ``is_alive``, ``pids``, ``list_packages``. What
happens around a cell is decided here, once, for every runtime:

- a cell that passes its timeout is interrupted and ends as a ``TimeoutError``
  that says the state was kept; a cancelled one ends as a ``KeyboardInterrupt``;
- a cell that ignores the interrupt for :attr:`~SessionRuntime.interrupt_grace`
  seconds costs a restart of the interpreter (``state_lost``, files kept);
- an interpreter that dies costs the session (``session_lost``), or, for a
  runtime that :attr:`~SessionRuntime.revives`, a restart in place;
- a caller that gives up (its task is cancelled) stops the cell too;
- outputs go through one :class:`~remote_kernel.server.outputs.OutputCollector`
  (limits, truncation notices), and each one reaches the caller's
  :data:`~remote_kernel.server.outputs.OutputSink` as it happens.

A runtime implements only the primitives: start the cell, wait a little for
it (feeding the collector), interrupt it, restart the interpreter.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remote_kernel.config import TOKEN_ENV
from remote_kernel.errors import ConfigurationError
from remote_kernel.server.outputs import OutputCollector, OutputSink, RunOutcome
from remote_kernel.wire import PACKAGES_SCRIPT, parse_packages

log = logging.getLogger(__name__)

#: Longest a runtime's :meth:`~SessionRuntime._wait` blocks: how soon a cancel is seen.
POLL = 0.2


#: The error of ``input()``/``getpass()`` in a request that cannot answer it (every
#: runtime with input says exactly this; ``StdinNotImplementedError`` is its name).
NO_STDIN = (
    "input() and getpass() need a front-end that streams: the remote kernel or "
    "%%aca on a pool whose answers carry 'x-remote-kernel-features: stream, stdin' "
    "(this request was not streamed, or its front-end does not allow input)."
)
NO_STDIN_ENAME = "StdinNotImplementedError"


class InterpreterDied(Exception):
    """Raised by a runtime's primitives: the interpreter is gone (the message says how)."""


@dataclass
class CellRun:
    """One execution in progress: what the shared rules and the primitives both read."""

    code: str
    timeout: float
    max_output_chars: int
    out: OutputCollector
    started: float = field(default_factory=time.perf_counter)
    cancel_requested: bool = False
    timed_out: bool = False
    #: The interpreter was brought back before this cell ran: its variables were gone.
    state_lost_before: bool = False
    #: ``input()`` may ask the caller (a streamed request): input_request events.
    allow_stdin: bool = False
    #: The cell waits for an answer to ``input()`` (set by :meth:`ask_input`).
    waiting_for_input: bool = False

    def ask_input(self, request: Mapping[str, Any]) -> None:
        """The cell waits in ``input()``: the interpreter's request (``prompt``,
        ``password``) goes to the live reader, and an answer is now expected."""
        self.waiting_for_input = True
        self.out.input_request(str(request.get("prompt", "")), bool(request.get("password")))

    @property
    def deadline(self) -> float:
        return self.started + self.timeout

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0


class SessionRuntime(abc.ABC):
    """A live interpreter bound to one session's file area (what the pool talks to)."""

    #: Seconds a cell gets to stop after an interrupt before the interpreter is restarted.
    interrupt_grace: float = 3.0
    #: Re-send the interrupt this often while the cell runs on (None: one is enough,
    #: e.g. when an interrupt cannot be swallowed).
    interrupt_retry: float | None = None
    #: A dead interpreter is started again in place (variables lost, files kept);
    #: otherwise the pool discards the whole session.
    revives: bool = False
    #: ``ename`` of the error a cell that crashed a reviving interpreter ends with.
    crash_ename: str = "InterpreterCrashed"

    def __init__(self) -> None:
        self._cell_lock = asyncio.Lock()
        self._run: CellRun | None = None
        #: A cell whose caller gave up: the next one waits for its end first.
        self._abandoned = False
        self._closing = False

    # -- the contract: lifecycle (each runtime) ----------------------------------------------

    @abc.abstractmethod
    async def start(self, workdir: Path) -> None:
        """Start the interpreter with ``workdir`` as its working directory (/mnt/data)."""

    @abc.abstractmethod
    async def shutdown(self) -> None:
        """Stop the interpreter and every process it started (a running cell ends lost)."""

    @abc.abstractmethod
    def is_alive(self) -> bool: ...

    @property
    @abc.abstractmethod
    def pids(self) -> list[int]:
        """OS process ids owned by this runtime (for orphan checks)."""

    # -- the primitives (each runtime) --------------------------------------------------------

    @abc.abstractmethod
    async def _begin(self, run: CellRun) -> None:
        """Hand the cell to the interpreter (do not wait for it). May raise InterpreterDied."""

    @abc.abstractmethod
    async def _wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the current cell, feeding ``run.out`` as outputs come.

        True once the cell has ended; raises :class:`InterpreterDied` if the interpreter did.
        """

    @abc.abstractmethod
    async def _interrupt_cell(self, again: bool = False) -> None:
        """KeyboardInterrupt in the running cell (``again``: the earlier one went unheeded)."""

    @abc.abstractmethod
    async def _restart(self) -> None:
        """A fresh interpreter in place of the current one (files stay). Raises on failure."""

    async def _revive_if_dead(self) -> bool:
        """Before a cell: bring a dead interpreter back if this runtime revives; True if
        that lost the state. A runtime that does not revive raises InterpreterDied."""
        if self.is_alive():
            return False
        if not self.revives:
            raise InterpreterDied(self._death_detail())
        await self._restart()
        return True

    async def _after_cell(self, run: CellRun) -> None:
        """Hook once the cell has ended without an error or a timeout (late errors)."""
        return None

    def _death_detail(self) -> str:
        """Why the interpreter is gone, for the error message (e.g. its exit code)."""
        return ""

    # -- the contract: executions (shared) --------------------------------------------------

    async def execute(
        self,
        code: str,
        *,
        timeout: float,
        max_output_chars: int,
        sink: OutputSink | None = None,
        allow_stdin: bool = False,
    ) -> RunOutcome:
        """Run ``code``; its outputs reach ``sink`` as they happen, the outcome at the end.

        On timeout the cell is interrupted and the state kept if possible. Cells of
        one runtime run one at a time. ``max_output_chars`` caps each stream.
        ``allow_stdin``: ``input()`` sends an ``input_request`` event to ``sink`` and
        waits for :meth:`answer_input` (until the timeout); otherwise it fails at once.
        """
        async with self._cell_lock:
            run = CellRun(
                code, timeout, max_output_chars, OutputCollector(max_output_chars, sink=sink)
            )
            run.allow_stdin = allow_stdin and sink is not None
            self._run = run
            try:
                return await self._execute(run)
            except asyncio.CancelledError:
                # The caller gave up: stop the cell too; the next execute waits for its end.
                self._abandoned = True
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._interrupt_cell())
                raise
            finally:
                self._run = None

    async def answer_input(self, value: str) -> bool:
        """Answer the running cell's ``input()``; False when no cell waits for one."""
        run = self._run
        if run is None or not run.waiting_for_input:
            return False
        run.waiting_for_input = False
        return await self._answer_input(value)

    async def _answer_input(self, value: str) -> bool:
        """The runtime's primitive for :meth:`answer_input` (False: it cannot)."""
        return False

    async def interrupt(self) -> None:
        """Cancel the running execution: it ends as a KeyboardInterrupt (state kept)."""
        if self._run is not None:
            self._run.cancel_requested = True

    async def _execute(self, run: CellRun) -> RunOutcome:
        began = False
        try:
            await self._settle_abandoned()
            run.state_lost_before = await self._revive_if_dead()
            await self._begin(run)
            began = True
            return await self._drive(run)
        except InterpreterDied as died:
            if not began and not self.revives:
                return self._lost(run, "before the code ran", str(died))
            return await self._died(run, str(died))

    async def _settle_abandoned(self) -> None:
        """A given-up cell was interrupted: let it end (or restart) before the next one."""
        if not self._abandoned:
            return
        self._abandoned = False
        if not self.is_alive():
            return
        deadline = time.perf_counter() + self.interrupt_grace
        # Its outputs go nowhere: the current run must not see them.
        current, self._run = self._run, CellRun("", 0.0, 0, OutputCollector(0))
        try:
            while (left := deadline - time.perf_counter()) > 0:
                if await self._wait(min(POLL, left)):
                    return
        except InterpreterDied:
            return
        finally:
            self._run = current
        log.warning("a cancelled cell did not stop: restarting the session's interpreter")
        await self._restart()

    async def _drive(self, run: CellRun) -> RunOutcome:
        """Wait for the cell; on timeout or cancel interrupt it, after the grace restart."""
        stop_by: float | None = None
        retry_at: float | None = None
        while True:
            now = time.perf_counter()
            if stop_by is None and (now >= run.deadline or run.cancel_requested):
                run.timed_out = not run.cancel_requested
                await self._interrupt_cell()
                stop_by = now + self.interrupt_grace
                if self.interrupt_retry is not None:
                    retry_at = now + self.interrupt_retry
            elif stop_by is not None and now >= stop_by:
                return await self._stuck(run)
            elif retry_at is not None and now >= retry_at:
                # An interrupt that lands before the cell's own code runs can be
                # swallowed; another one stops the cell (as a user presses it twice).
                await self._interrupt_cell(again=True)
                retry_at = now + (self.interrupt_retry or 0.0)
            wake = min(t for t in (stop_by or run.deadline, retry_at) if t is not None)
            if await self._wait(min(POLL, max(0.0, wake - now))):
                break
        if run.out.error is None and not run.timed_out:
            await self._after_cell(run)
        return self._finish(run)

    def _finish(self, run: CellRun) -> RunOutcome:
        cancelled = run.cancel_requested and not run.timed_out
        if run.timed_out:
            waiting = (
                " while waiting for an answer to input() (none came)"
                if run.waiting_for_input
                else ""
            )
            run.out.replace_error(
                "TimeoutError",
                f"The execution passed its {run.timeout:g} s timeout{waiting} and was "
                "interrupted; the session kept its state.",
            )
        elif cancelled and (run.out.error or {}).get("ename") != "KeyboardInterrupt":
            run.out.replace_error("KeyboardInterrupt", "The execution was cancelled.")
        return run.out.outcome(
            timed_out=run.timed_out,
            cancelled=cancelled,
            state_lost=run.state_lost_before,
            duration_ms=run.elapsed_ms(),
        )

    async def _stuck(self, run: CellRun) -> RunOutcome:
        """The cell ignored the interrupt: restart the interpreter (its variables are gone)."""
        why = f"passed its {run.timeout:g} s timeout" if run.timed_out else "was cancelled"
        message = (
            f"The execution {why} and did not stop within {self.interrupt_grace:g} s of an "
            "interrupt, so the session's interpreter was restarted: its variables are gone "
            "(files are kept)."
        )
        try:
            await self._restart()
        except Exception as exc:  # an interpreter that cannot come back is a lost session
            log.warning("restarting a session's interpreter failed: %s", exc)
            return self._lost(run, "while being restarted")
        run.out.replace_error("TimeoutError" if run.timed_out else "KeyboardInterrupt", message, [])
        return run.out.outcome(
            timed_out=run.timed_out,
            cancelled=not run.timed_out,
            state_lost=True,
            duration_ms=run.elapsed_ms(),
        )

    async def _died(self, run: CellRun, detail: str) -> RunOutcome:
        """The interpreter died: revive it in place, or report the session lost."""
        if self._closing or not self.revives:
            return self._lost(run, "while running this code", detail)
        try:
            await self._restart()
        except Exception as exc:
            log.warning("restarting a session's interpreter failed: %s", exc)
            return self._lost(run, "while being restarted", detail)
        run.out.replace_error(
            self.crash_ename,
            f"The execution crashed the session's interpreter{detail}, so it was restarted: "
            "its variables are gone (files are kept).",
            [],
        )
        return run.out.outcome(
            timed_out=run.timed_out,
            cancelled=run.cancel_requested and not run.timed_out,
            state_lost=True,
            duration_ms=run.elapsed_ms(),
        )

    def _lost(self, run: CellRun, when: str, detail: str | None = None) -> RunOutcome:
        """The interpreter is gone for good: the pool discards the session."""
        if detail is None:
            detail = self._death_detail()
        what = (
            "The session was deleted"
            if self._closing
            else f"The session's Python interpreter died{detail}"
        )
        run.out.replace_error(
            "SessionLost",
            f"{what} {when}; its variables and files are gone. "
            "The next call with this identifier starts a fresh session.",
            [],
        )
        return run.out.outcome(state_lost=True, session_lost=True, duration_ms=run.elapsed_ms())

    async def list_packages(self) -> list[dict[str, str]]:
        """``[{"name", "version"}]`` of the distributions importable in the session.

        Runs like a cell (the pool holds the session's lock), so it reports what
        the session's own interpreter sees, ``%pip install`` included.
        """
        outcome = await self.execute(PACKAGES_SCRIPT, timeout=60.0, max_output_chars=10_000_000)
        if outcome.error or outcome.session_lost:
            raise RuntimeError(
                "could not list the session's packages: "
                + str((outcome.error or {}).get("evalue", "the interpreter was lost"))
            )
        try:
            pairs = parse_packages(outcome.stdout)
        except ValueError as exc:
            raise RuntimeError(f"could not list the session's packages: {exc}") from exc
        return [{"name": name, "version": version} for name, version in pairs]


@dataclass(frozen=True)
class RuntimeOptions:
    """What the pool's user chose about sessions; each runtime takes what applies to it
    and refuses, with a clear error, what cannot (a session interpreter for Pyodide)."""

    session_python: str | None = None
    #: A private ``/mnt/data`` mount per session where the OS allows it.
    mnt_data: bool = True


def refuse_session_python(options: RuntimeOptions, runtime: str) -> None:
    """A clear error for ``--session-python`` given to a runtime that runs no Python."""
    if options.session_python:
        raise ConfigurationError(
            f"--session-python does not apply to the {runtime} runtime.",
            fix="Drop --session-python, or use --runtime python.",
        )


#: Environment variables a session must never see (the pool's own secrets).
HIDDEN_ENV = frozenset(TOKEN_ENV)


def server_env() -> dict[str, str]:
    """The server's environment minus its secrets: what every session process starts from."""
    return {k: v for k, v in os.environ.items() if k not in HIDDEN_ENV}


#: Builds one (not yet started) runtime; the argument is a private directory of the
#: pool (never a session's file area) for connection files, logs and caches.
RuntimeFactory = Callable[[Path], SessionRuntime]
