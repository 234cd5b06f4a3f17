"""The pool: sessions by identifier, each a runtime plus its own file area.

- Sessions are created by the first call naming a new identifier, from a queue
  of prewarmed runtimes when one is ready (their file area is already their
  working directory, so claiming one costs nothing).
- At most ``max_sessions`` live sessions; idle ones are destroyed, files
  included, ``cooldown`` seconds after their last use.
- Executions of one session run one at a time, in arrival order (a per-session
  ``asyncio.Lock``, which wakes waiters first-in first-out); different
  sessions run concurrently. Each execution is a task of its own, so a client
  that disconnects does not stop it, and a cancel can reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from remote_kernel import wire
from remote_kernel.config import MAX_EXECUTION_TIMEOUT
from remote_kernel.server.api_errors import ApiError
from remote_kernel.server.outputs import OutputCollector, OutputEvent, RunOutcome
from remote_kernel.server.runtimes.base import RuntimeFactory, SessionRuntime
from remote_kernel.server.streaming import EventLog

log = logging.getLogger(__name__)

DEFAULT_MAX_SESSIONS = 32
#: Azure's longest cooldown: a notebook left alone for an hour keeps its state.
DEFAULT_COOLDOWN = 3600.0
#: Per stream (stdout, stderr) when the request names no limit.
DEFAULT_MAX_OUTPUT_CHARS = 1_000_000
#: A request without ``timeoutInSeconds`` may run as long as Azure allows any run.
DEFAULT_TIMEOUT = MAX_EXECUTION_TIMEOUT
#: Finished executions remembered per session for ``GET /executions/{id}``.
_KEPT_EXECUTIONS = 16
#: Interpreters that may boot at once (the rest queue): a boot is CPU-bound, so more at
#: once only slows each, and a kernel gets 60 s to answer from its launch. Fifty sessions
#: asked for together on 2 busy cores pushed one past that (500 SessionStartFailed).
START_CONCURRENCY = max(2, os.cpu_count() or 2)


class _StartFailed(Exception):
    """One start of an interpreter failed (its cause is the reason)."""


QUEUED, RUNNING, DONE = wire.NOT_STARTED, wire.RUNNING, "Done"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _event_log(session_created: bool) -> EventLog:
    """A streamed execution's log; a new session says so first (``wire.SESSION_EVENT``)."""
    events = EventLog()
    if session_created:
        events.append(OutputEvent(wire.SESSION_EVENT, {wire.SESSION_CREATED: True}))
    return events


def _synthetic(ename: str, evalue: str, **flags: bool) -> RunOutcome:
    """An outcome for code that never ran (dropped, session gone)."""
    out = OutputCollector(0)
    out.replace_error(ename, evalue, [])
    return out.outcome(**flags)


def _dropped() -> RunOutcome:
    return _synthetic(
        "KeyboardInterrupt", "Cancelled before it started; nothing ran.", cancelled=True
    )


@dataclass
class Execution:
    id: str
    identifier: str
    code: str
    execution_type: str
    timeout: float
    max_output_chars: int
    session_created: bool
    phase: str = QUEUED
    outcome: RunOutcome | None = None
    cancel_requested: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    #: The events of a streamed execution, numbered, for its readers (None: not streamed).
    events: EventLog | None = None
    #: ``input()`` asks the (streaming) caller instead of failing.
    allow_stdin: bool = False

    def finish(self, outcome: RunOutcome) -> None:
        self.outcome, self.phase = outcome, DONE
        if self.events is not None:
            self.events.close()
        self.done.set()


@dataclass
class Session:
    identifier: str
    runtime: SessionRuntime
    directory: Path
    created_at: datetime = field(default_factory=_now)
    last_accessed_at: datetime = field(default_factory=_now)
    last_used: float = field(default_factory=time.monotonic)
    etag: str = field(default_factory=lambda: uuid.uuid4().hex)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    executions: OrderedDict[str, Execution] = field(default_factory=OrderedDict)
    #: Executions queued or running plus file transfers in flight: never reaped while > 0.
    busy: int = 0
    closed: bool = False
    #: Runtimes of other kinds in the same file area, by name (see :meth:`SessionPool.run_beside`).
    companions: dict[str, SessionRuntime] = field(default_factory=dict)

    def touch(self) -> None:
        self.last_accessed_at, self.last_used = _now(), time.monotonic()
        self.etag = uuid.uuid4().hex

    def expire_at(self, cooldown: float) -> datetime:
        return self.last_accessed_at + timedelta(seconds=cooldown)


class SessionPool:
    """All sessions of one local pool, their prewarmed spares and the reaper."""

    def __init__(
        self,
        runtime_factory: RuntimeFactory,
        *,
        root: Path | None = None,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        cooldown: float = DEFAULT_COOLDOWN,
        prewarm: int = 1,
    ) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        if cooldown <= 0:
            raise ValueError("cooldown must be positive")
        self.runtime_factory = runtime_factory
        self.max_sessions = max_sessions
        self.cooldown = float(cooldown)
        self.prewarm = max(0, prewarm)
        self._given_root = root
        self.root: Path = Path()
        self._sessions: dict[str, Session] = {}
        self._creating: dict[str, asyncio.Future[Session]] = {}
        self._warm: deque[tuple[SessionRuntime, Path]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._fill_task: asyncio.Task[None] | None = None
        self._boots = asyncio.Semaphore(START_CONCURRENCY)
        self._started = self._closed = False

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the areas, start the reaper and the first prewarmed runtimes."""
        if self._started:
            return
        self._started = True
        if self._given_root is None:
            self.root = Path(tempfile.mkdtemp(prefix="remote-kernel-pool-"))
        else:
            self._given_root.mkdir(parents=True, exist_ok=True)
            self.root = Path(tempfile.mkdtemp(prefix="pool-", dir=self._given_root))
        (self.root / "sessions").mkdir()
        (self.root / "state").mkdir(mode=0o700)
        self._spawn(self._reap_loop())
        self._refill()

    async def close(self) -> None:
        """Stop every runtime and remove every area this pool made. Idempotent."""
        if self._closed or not self._started:
            self._closed = True
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        sessions = list(self._sessions.values())
        warm = list(self._warm)
        self._warm.clear()
        await asyncio.gather(
            *(self._destroy(s) for s in sessions),
            *(self._discard(rt, d) for rt, d in warm),
            return_exceptions=True,
        )
        await asyncio.to_thread(shutil.rmtree, self.root, True)

    def _spawn(self, coro: object) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- sessions -------------------------------------------------------------------------

    def get(self, identifier: str) -> Session | None:
        session = self._sessions.get(identifier)
        return session if session is not None and not session.closed else None

    def sessions(self) -> list[Session]:
        return [s for s in self._sessions.values() if not s.closed]

    async def acquire(self, identifier: str) -> tuple[Session, bool]:
        """The live session for ``identifier``, created if needed: (session, created)."""
        if self._closed:
            raise ApiError(503, "PoolShuttingDown", "The local pool is shutting down.")
        session = self.get(identifier)
        if session is not None and session.busy == 0 and not session.runtime.is_alive():
            # Its interpreter died between calls (killed, out of memory): like an
            # expired session, the caller gets a fresh one and is told so.
            log.warning("session %s lost its interpreter while idle", identifier)
            await self._destroy(session)
            session = None
        if session is not None:
            session.touch()
            return session, False
        pending = self._creating.get(identifier)
        if pending is not None:
            session = await asyncio.shield(pending)
            session.touch()
            return session, False
        if len(self._sessions) + len(self._creating) >= self.max_sessions:
            raise ApiError(  # 404, as Azure's documentation says (issue 15 item 12)
                404,
                "SessionPoolFull",
                f"The local pool already holds its maximum of {self.max_sessions} sessions "
                f"(--max-sessions {self.max_sessions}). Delete a session (DELETE /session) or "
                f"wait for an idle one to expire after its {self.cooldown:g} s cooldown.",
            )
        return await self._create(identifier), True

    async def _create(self, identifier: str) -> Session:
        future: asyncio.Future[Session] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._creating[identifier] = future
        try:
            runtime, directory = await self._take_runtime()
            if self._closed:  # close() already took its list of sessions
                await self._discard(runtime, directory)
                raise ApiError(503, "PoolShuttingDown", "The local pool is shutting down.")
            session = Session(identifier, runtime, directory)
            self._sessions[identifier] = session
            future.set_result(session)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
            raise
        finally:
            del self._creating[identifier]
        self._refill()
        log.info("session %s created in %s", identifier, directory)
        return session

    async def delete(self, identifier: str) -> bool:
        session = self.get(identifier)
        if session is None:
            return False
        await self._destroy(session)
        return True

    def _detach(self, session: Session) -> None:
        """Forget the session at once: no request can reach it after this."""
        session.closed = True
        if self._sessions.get(session.identifier) is session:
            del self._sessions[session.identifier]

    async def _destroy(self, session: Session) -> None:
        """Forget the session, stop its runtimes, remove its files."""
        self._detach(session)
        companions = list(session.companions.values())
        session.companions.clear()
        await asyncio.gather(*(self._stop(rt) for rt in companions))
        await self._discard(session.runtime, session.directory)

    @staticmethod
    async def _stop(runtime: SessionRuntime) -> None:
        try:
            await runtime.shutdown()
        except Exception:  # one runtime that fails to stop must not keep the others
            log.exception("stopping a session runtime failed")

    async def _discard(self, runtime: SessionRuntime, directory: Path) -> None:
        await self._stop(runtime)  # a runtime that fails to stop must not keep its files
        await asyncio.to_thread(shutil.rmtree, directory, True)

    @contextlib.asynccontextmanager
    async def using(self, identifier: str) -> AsyncIterator[tuple[Session, bool]]:
        """Hold a session (created if needed) for a file operation: no reaping meanwhile."""
        session, created = await self.acquire(identifier)
        session.busy += 1
        try:
            yield session, created
        finally:
            session.busy -= 1
            session.touch()

    def pids(self) -> list[int]:
        """Process ids of every runtime (sessions and prewarmed spares)."""
        runtimes = [
            rt for s in self._sessions.values() for rt in (s.runtime, *s.companions.values())
        ]
        runtimes += [rt for rt, _ in self._warm]
        return [pid for rt in runtimes for pid in rt.pids]

    # -- runtimes and prewarming ------------------------------------------------------------

    def _new_area(self) -> Path:
        directory = self.root / "sessions" / secrets.token_hex(8)
        directory.mkdir()
        return directory

    async def _start_runtime(self) -> tuple[SessionRuntime, Path]:
        """A started runtime in a new file area; a failed start is tried once more.

        A start can fail for a moment's reason (a port another process took between
        jupyter_client choosing it and the kernel binding it, a boot starved on busy
        cores): the caller's request should not. A second failure is the answer.
        """
        try:
            return await self._start_once()
        except _StartFailed as failed:
            log.warning("starting a session failed (%s); trying once more", failed.__cause__)
        try:
            return await self._start_once()
        except _StartFailed as failed:
            reason = failed.__cause__
            raise ApiError(
                500, "SessionStartFailed", f"Could not start the session's interpreter: {reason}"
            ) from reason

    async def _start_once(self) -> tuple[SessionRuntime, Path]:
        if self._closed:
            raise ApiError(503, "PoolShuttingDown", "The local pool is shutting down.")
        directory = self._new_area()
        runtime = self.runtime_factory(self.root / "state")
        try:
            async with self._boots:
                await runtime.start(directory)
        except BaseException as exc:
            await self._discard(runtime, directory)
            if isinstance(exc, Exception):
                raise _StartFailed() from exc
            raise
        return runtime, directory

    async def _take_runtime(self) -> tuple[SessionRuntime, Path]:
        while self._warm:
            runtime, directory = self._warm.popleft()
            if runtime.is_alive():
                return runtime, directory
            self._spawn(self._discard(runtime, directory))
        return await self._start_runtime()

    def _refill(self) -> None:
        if (
            self.prewarm
            and not self._closed
            and (self._fill_task is None or self._fill_task.done())
        ):
            self._fill_task = self._spawn(self._fill())

    async def _fill(self) -> None:
        """Start spares one at a time (kernels boot on shared cores) until enough wait."""
        while not self._closed and len(self._warm) < self.prewarm:
            try:
                spare = await self._start_runtime()
            except ApiError as exc:
                log.warning("prewarming a session failed: %s", exc.message)
                return
            self._warm.append(spare)

    # -- reaping --------------------------------------------------------------------------

    async def _reap_loop(self) -> None:
        interval = min(max(self.cooldown / 4, 0.1), 10.0)
        while True:
            await asyncio.sleep(interval)
            await self.reap()

    async def reap(self) -> None:
        """Destroy sessions idle longer than the cooldown; replace dead spares."""
        now = time.monotonic()
        expired = [s for s in self.sessions() if s.busy == 0 and now - s.last_used >= self.cooldown]
        for session in expired:
            log.info("session %s expired after %g s idle", session.identifier, self.cooldown)
            self._detach(session)
        await asyncio.gather(*(self._destroy(s) for s in expired), return_exceptions=True)
        dead = [(rt, d) for rt, d in self._warm if not rt.is_alive()]
        for spare in dead:
            self._warm.remove(spare)
            await self._discard(*spare)
        if dead:
            self._refill()

    # -- executions -----------------------------------------------------------------------

    async def submit(
        self,
        identifier: str,
        code: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
        execution_id: str | None = None,
        execution_type: str = "Synchronous",
        stream: bool = False,
        allow_stdin: bool = False,
    ) -> Execution:
        """Queue ``code`` on the session (created if needed); the run starts in order.

        ``stream``: log its events as they happen (:mod:`~remote_kernel.server.streaming`).
        """
        session, created = await self.acquire(identifier)
        execution_id = execution_id or str(uuid.uuid4())
        if execution_id in session.executions:
            raise ApiError(
                409,
                "ExecutionIdConflict",
                f"Session {identifier!r} already has an execution with id {execution_id!r}.",
            )
        execution = Execution(
            execution_id,
            identifier,
            code,
            execution_type,
            min(timeout, MAX_EXECUTION_TIMEOUT),
            max_output_chars,
            created,
            events=_event_log(created) if stream else None,
            allow_stdin=stream and allow_stdin,
        )
        self._remember(session, execution)
        session.busy += 1
        self._spawn(self._run(session, execution))
        return execution

    def _remember(self, session: Session, execution: Execution) -> None:
        session.executions[execution.id] = execution
        finished = [k for k, e in session.executions.items() if e.phase == DONE]
        for key in finished[: max(0, len(finished) - _KEPT_EXECUTIONS)]:
            del session.executions[key]

    async def _run(self, session: Session, execution: Execution) -> None:
        outcome = _synthetic(
            "SessionLost", "The local pool stopped before this code finished.", state_lost=True
        )
        try:
            outcome = await self._run_in_turn(session, execution)
        except Exception as exc:
            log.exception("execution %s failed inside the pool", execution.id)
            outcome = _synthetic(
                "SessionLost",
                f"The session's interpreter failed while running this code ({exc}); "
                "the session was discarded.",
                state_lost=True,
                session_lost=True,
            )
        finally:
            session.busy -= 1
            session.touch()
            if execution.phase != DONE:
                execution.finish(outcome)
        if outcome.session_lost and not session.closed:
            await self._destroy(session)

    async def _run_in_turn(self, session: Session, execution: Execution) -> RunOutcome:
        async with session.lock:
            if execution.outcome is not None:  # dropped by a cancel while queued
                return execution.outcome
            refusal = self._refusal(session, execution)
            if refusal is not None:
                return refusal
            execution.phase = RUNNING
            session.touch()
            return await session.runtime.execute(
                execution.code,
                timeout=execution.timeout,
                max_output_chars=execution.max_output_chars,
                sink=execution.events.append if execution.events is not None else None,
                allow_stdin=execution.allow_stdin,
            )

    @staticmethod
    def _refusal(session: Session, execution: Execution) -> RunOutcome | None:
        """The outcome of a queued execution that must not run, or None to run it."""
        if session.closed:
            return _synthetic(
                "SessionLost",
                "The session was lost or deleted before this code ran; nothing ran. "
                "The next call with this identifier starts a fresh session.",
                state_lost=True,
            )
        if execution.cancel_requested:
            return _dropped()
        return None

    async def run_beside(
        self,
        identifier: str,
        name: str,
        factory: RuntimeFactory,
        code: str,
        *,
        timeout: float,
        max_output_chars: int,
    ) -> RunOutcome:
        """Run ``code`` in a runtime of another kind beside the session (created if
        needed): the MCP server's shell in a Python pool, its Python in a shell pool.

        The companion shares the session's file area, so what one writes the other
        reads, as in one Azure session's container. It starts on first use, keeps its
        own state between calls, runs in turn with the session's executions, and stops
        with the session (expiry, delete, pool close).
        """
        async with self.using(identifier) as (session, _), session.lock:
            runtime = session.companions.get(name)
            if runtime is None or (not runtime.is_alive() and not runtime.revives):
                if runtime is not None:
                    await self._stop(runtime)
                runtime = await self._start_beside(session, name, factory)
                session.companions[name] = runtime
            return await runtime.execute(
                code, timeout=min(timeout, MAX_EXECUTION_TIMEOUT), max_output_chars=max_output_chars
            )

    async def _start_beside(
        self, session: Session, name: str, factory: RuntimeFactory
    ) -> SessionRuntime:
        runtime = factory(self.root / "state")
        try:
            async with self._boots:
                await runtime.start(session.directory)
            if session.closed or self._closed:
                raise ApiError(404, "SessionNotFound", "The session was deleted while it started.")
        except BaseException as exc:
            await self._stop(runtime)
            if isinstance(exc, ApiError) or not isinstance(exc, Exception):
                raise
            raise ApiError(
                500, "SessionStartFailed", f"Could not start the session's {name}: {exc}"
            ) from exc
        return runtime

    def find_execution(self, identifier: str, execution_id: str) -> Execution | None:
        session = self.get(identifier)
        return session.executions.get(execution_id) if session is not None else None

    async def cancel(self, identifier: str, execution_id: str) -> Execution | None:
        """Interrupt a running execution or drop a queued one; returns it once finished."""
        session = self.get(identifier)
        execution = session.executions.get(execution_id) if session else None
        if session is None or execution is None:
            return None
        execution.cancel_requested = True
        if execution.phase == QUEUED:
            execution.finish(_dropped())
        elif execution.phase == RUNNING:
            await session.runtime.interrupt()
            await execution.done.wait()
        return execution

    async def answer_input(self, identifier: str, execution_id: str, value: str) -> None:
        """Answer the ``input()`` a running streamed execution waits in."""
        session = self.get(identifier)
        execution = session.executions.get(execution_id) if session else None
        if session is None or execution is None:
            raise ApiError(
                404,
                "ExecutionNotFound",
                f"No execution {execution_id!r} in session {identifier!r}.",
            )
        if execution.phase != RUNNING or not await session.runtime.answer_input(value):
            raise ApiError(
                409,
                "NotWaitingForInput",
                f"Execution {execution_id!r} is not waiting for input (it has ended, was not "
                "streamed, or has not called input() yet).",
            )

    async def packages(self, identifier: str) -> list[dict[str, str]]:
        """Distributions in the session's interpreter (waits its turn like a cell)."""
        session, _ = await self.acquire(identifier)
        session.busy += 1
        try:
            async with session.lock:
                return await session.runtime.list_packages()
        except RuntimeError as exc:
            raise ApiError(500, "PackageListFailed", str(exc)) from exc
        finally:
            session.busy -= 1
            session.touch()
