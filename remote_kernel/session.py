"""One front-end's remote session: which pool, which identifier, and what the
user must be told (the embedded pool is in use; the session's state was lost).

Shared by the wrapper kernel and the magics so both behave the same.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict

from remote_kernel import errors, wire
from remote_kernel.client import (
    AsyncSessionPoolClient,
    ExecutionEvent,
    ExecutionResult,
    SessionPoolClient,
)
from remote_kernel.client.messages import Step
from remote_kernel.client.methods import ClientMethods
from remote_kernel.client.models import Notice
from remote_kernel.client.operations import Protocol
from remote_kernel.config import PoolSettings
from remote_kernel.identifiers import new_identifier, validate_identifier

if TYPE_CHECKING:  # typing.Unpack is 3.11+
    from typing_extensions import Unpack

LOCAL_POOL_NOTICE = (
    "Note: no pool endpoint is configured, so cells run in the embedded local session pool "
    "on this machine (local processes, not Azure's sandboxes). To run in Azure, set "
    "ACA_POOL_ENDPOINT (or c.PoolSettings.pool_endpoint, or %aca_config pool_endpoint=...).\n"
)
LOST_STATE_NOTICE = (
    "Warning: the remote session {session!r} was recycled (idle past the pool's cooldown, "
    "or its interpreter was lost). Variables, imports and files from before are gone; "
    "re-run the cells that set them up.\n"
)
#: ``on_event`` kind of a session notice known before a streamed run (``content``:
#: ``kind``, ``text``): shown at once, before the run's output, and not in the result.
NOTICE_EVENT = "notice"
#: Notice kinds (``Notice.kind``).
LOCAL_POOL = "local_pool"
LOST_STATE = "lost_state"
#: Azure's shortest cooldown is 300 s: after this much idle time, check the session.
IDLE_PROBE_AFTER = 240.0
MARKER = "_remote_kernel_session_marker"
#: Per pool type: the code printing the session's marker, and the code setting it.
_MARKER_CODE = {
    "python": (f"print(globals().get({MARKER!r}))", MARKER + " = {value!r}"),
    "javascript": (
        f"console.log(String(globalThis.{MARKER}))",
        f"globalThis.{MARKER} = " + "{value!r};",
    ),
    "shell": (f'echo "${{{MARKER}:-None}}"', MARKER + "={value}"),
}


#: What the embedded local pool speaks: known before its first answer, so the very
#: first cell already streams and takes input.
EMBEDDED_POOL_FEATURES = frozenset({wire.STREAM_FEATURE, wire.STDIN_FEATURE, wire.CANCEL_FEATURE})


class ExecuteOptions(TypedDict, total=False):
    """What :meth:`RemoteSession.execute` and ``aexecute`` take besides the code: one
    signature for both."""

    #: Seconds the pool lets the code run (default: the configured execution timeout).
    timeout: float | None
    #: The id to run under (the kernel's, so an interrupt can cancel it).
    execution_id: str | None
    #: The run's outputs as they happen, where the pool streams.
    on_event: Callable[[ExecutionEvent], None] | None
    #: Whether ``input()`` in the session may ask the front-end.
    stdin: bool


class RemoteSession:
    """Endpoint resolution (auto-starting the local pool), identifier, clients, notices."""

    def __init__(
        self, settings: PoolSettings | None = None, *, idle_probe_after: float = IDLE_PROBE_AFTER
    ) -> None:
        self.settings = settings or PoolSettings()
        self.idle_probe_after = idle_probe_after
        self._lock = threading.RLock()
        self._pool: Any = None
        self._endpoint: str | None = None
        self._client: SessionPoolClient | None = None
        self._aclient: AsyncSessionPoolClient | None = None
        configured = self.settings.session_id
        self._session_id = validate_identifier(configured) if configured else new_identifier()
        self._created: set[str] = set() if configured else {self._session_id}
        #: Notices not shown yet: the next result (or %aca_* command) carries them.
        self._notices: list[Notice] = []
        #: session id -> marker value, for pools that don't say when a session is new (Azure).
        self._markers: dict[str, str] = {}
        self._used: set[str] = set()
        #: Sessions an execution was sent to, finished or not (an interrupted first cell
        #: still created the session on the pool): what close() deletes.
        self._sent: set[str] = set()
        self._last_call: dict[str, float] = {}
        #: Dropped async clients still closing (a task must be referenced until it ends).
        self._closing: set[asyncio.Task[None]] = set()

    # ---------------------------------------------------------------- endpoint
    @property
    def endpoint(self) -> str:
        with self._lock:
            if self._endpoint is None:
                # A settings change (e.g. a timeout) keeps the embedded pool already running.
                local = self._pool.url if self._pool is not None else None
                self._endpoint = self.settings.pool_endpoint or local or self._start_local_pool()
            return self._endpoint

    @property
    def is_local(self) -> bool:
        return not self.settings.pool_endpoint

    def _start_local_pool(self) -> str:
        from remote_kernel.server import start_local_pool

        kind = self.settings.pool_type
        self._pool = start_local_pool(
            token=secrets.token_urlsafe(24),
            # A shell or JavaScript front-end needs that runtime; Python ones may choose.
            runtime=self.settings.local_pool_runtime if kind == "python" else kind,
            session_python=self.settings.local_pool_session_python or None,
        )
        self._notices.append(Notice(LOCAL_POOL, LOCAL_POOL_NOTICE))
        return self._pool.url

    def _client_kwargs(self) -> dict[str, Any]:
        endpoint = self.endpoint
        kwargs: dict[str, Any] = {}
        if self._pool is not None:
            kwargs = {"auth": "token", "token": self._pool.token}
        return {"settings": self.settings, "endpoint": endpoint, **kwargs}

    @property
    def client(self) -> SessionPoolClient:
        return self._shell("_client", SessionPoolClient)  # type: ignore[no-any-return]

    @property
    def aclient(self) -> AsyncSessionPoolClient:
        return self._shell("_aclient", AsyncSessionPoolClient)  # type: ignore[no-any-return]

    @property
    def ready(self) -> bool:
        """The async client exists: using it blocks on nothing (no pool to start)."""
        return self._aclient is not None

    def _shell(self, attribute: str, cls: type[ClientMethods]) -> ClientMethods:
        """The client kept in ``attribute``, made on first use (the two shells alike)."""
        with self._lock:
            if getattr(self, attribute) is None:
                client = cls.from_settings(**self._client_kwargs())
                if self._pool is not None:  # the embedded pool is this package's own
                    client.protocol.features = EMBEDDED_POOL_FEATURES
                setattr(self, attribute, client)
            return getattr(self, attribute)  # type: ignore[no-any-return]

    def reconfigure(self) -> None:
        """Drop clients (and a local pool no longer wanted) after a settings change."""
        with self._lock:
            old = (self._client, self._aclient)
            self._client = self._aclient = None
            if self.settings.pool_endpoint and self._pool is not None:
                self._pool.stop()
                self._pool = None
            self._endpoint = None
        if old[0] is not None:
            old[0].close()
        if old[1] is not None:
            self._aclose_later(old[1])

    def _aclose_later(self, aclient: AsyncSessionPoolClient) -> None:
        """Close a dropped async client on the loop it serves (the kernel's, running this
        call), so its connections do not wait for the garbage collector and aiohttp does
        not warn of an unclosed session; with no loop running there is nothing to do it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(aclient.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # ----------------------------------------------------------------- session
    @property
    def session_id(self) -> str:
        return self._session_id

    def new_session(self) -> str:
        with self._lock:
            self._session_id = new_identifier()
            self._created.add(self._session_id)
            return self._session_id

    def use_session(self, identifier: str) -> None:
        with self._lock:
            self._session_id = validate_identifier(identifier)

    def take_notices(self) -> list[Notice]:
        """One-time messages not yet shown (touches the endpoint, so the pool starts)."""
        _ = self.endpoint
        with self._lock:
            notices, self._notices = self._notices, []
            return notices

    def defer_notices(self, notices: list[Notice]) -> None:
        """Give back notices a hidden call received (completion, silent code), so the
        next result or command shows them first instead of losing them."""
        with self._lock:
            self._notices[:0] = notices

    # --------------------------------------------------------------- execution
    def _needs_probe(self, session: str) -> bool:
        last = self._last_call.get(session)
        return (
            session in self._markers
            and last is not None
            and time.monotonic() - last > self.idle_probe_after
        )

    def _probe_code(self) -> str:
        return _MARKER_CODE[self.settings.pool_type][0]

    def _run(
        self, protocol: Protocol, code: str, session: str, timeout: float | None, eid: str | None
    ) -> Step:
        """One execution in the pool's language: ``shellCommand`` for a shell pool."""
        if self.settings.pool_type == "shell":
            return protocol.execute_shell(code, session, timeout=timeout, execution_id=eid)
        return protocol.execute(code, session, timeout=timeout, execution_id=eid)

    def _probe_says_lost(self, session: str, result: ExecutionResult) -> bool:
        return result.stdout.strip() != self._markers.get(session)

    def _after(
        self, session: str, result: ExecutionResult, lost: bool, announced: bool = False
    ) -> str | None:
        """Record a result; return marker code to run when the pool can't tell us.

        ``announced``: the lost-state notice already went out live, before the output."""
        self._last_call[session] = time.monotonic()
        if result.session_created and session in self._used:
            lost = True
        self._used.add(session)
        notices = self.take_notices()
        if lost and not announced:
            notices.append(_lost_notice(session))
        result.notices[:0] = notices
        if result.session_created is None and (lost or session not in self._markers):
            self._markers[session] = secrets.token_hex(8)
            return _MARKER_CODE[self.settings.pool_type][1].format(value=self._markers[session])
        return None

    def _on_error(self, session: str, exc: BaseException) -> None:
        if isinstance(exc, errors.SessionExpiredError):
            self._used.discard(session)
            self._markers.pop(session, None)

    def _execute_step(
        self,
        protocol: Protocol,
        code: str,
        *,
        timeout: float | None = None,
        execution_id: str | None = None,
        on_event: Callable[[ExecutionEvent], None] | None = None,
        stdin: bool = True,
    ) -> Step:
        """Run ``code`` in the current session: probe, execution and marker in one step.

        ``on_event``: the run's outputs as they happen, where the pool streams.
        """
        session = self.session_id
        lost, shell = False, self.settings.pool_type == "shell"
        live = None if on_event is None else _LiveNotices(on_event, session)
        if live is not None:  # live output follows: what is known now goes first
            for notice in self.take_notices():
                live.notice(notice)
        if self._needs_probe(session):
            probe = yield from self._run(protocol, self._probe_code(), session, 30, None)
            lost = self._probe_says_lost(session, probe)
            if lost and live is not None:
                live.lost()
        elif stdin and live is not None and protocol.features is None and not shell:
            # Only a pool whose answers name ``stdin`` is offered input(): learn that
            # (once per client) from a tiny run, or a first cell's input() would fail.
            yield from self._run(protocol, self._probe_code(), session, 30, None)
        self._sent.add(session)
        try:
            if live is None or shell:
                run = self._run(protocol, code, session, timeout, execution_id)
            else:
                had_state = session in self._used
                run = protocol.execute_streamed(
                    code,
                    session,
                    live.outputs(had_state),
                    timeout=timeout,
                    execution_id=execution_id,
                    stdin=stdin,
                )
            result = yield from run
        except errors.RemoteKernelError as exc:
            self._on_error(session, exc)
            raise
        marker = self._after(session, result, lost, live is not None and live.said_lost)
        if marker:
            yield from self._run(protocol, marker, session, 30, None)
        return result

    def execute(self, code: str, **options: Unpack[ExecuteOptions]) -> ExecutionResult:
        """Run ``code`` in the current session (options: :class:`ExecuteOptions`)."""
        return self.client.run(self._execute_step(self.client.protocol, code, **options))

    async def aexecute(self, code: str, **options: Unpack[ExecuteOptions]) -> ExecutionResult:
        """:meth:`execute` for the kernel's event loop."""
        return await self.aclient.run(self._execute_step(self.aclient.protocol, code, **options))

    def answer_input(self, execution_id: str, value: str) -> None:
        """Answer the ``input()`` the current session's streamed run waits in."""
        self.client.answer_input(execution_id, value, session=self.session_id)

    async def aanswer_input(self, execution_id: str, value: str) -> None:
        """:meth:`answer_input` for the kernel's event loop."""
        await self.aclient.answer_input(execution_id, value, session=self.session_id)

    def streams(self, *, asynchronous: bool = True) -> bool | None:
        """Whether the pool streams output: True, False, or None while not yet known."""
        features = (self.aclient if asynchronous else self.client).protocol.features
        return None if features is None else wire.STREAM_FEATURE in features

    def cancel(self, execution_id: str) -> bool:
        return self.client.cancel_execution(execution_id, session=self.session_id)

    async def acancel(self, execution_id: str) -> bool:
        return await self.aclient.cancel_execution(execution_id, session=self.session_id)

    # --------------------------------------------------------------- lifecycle
    def _to_delete(self, delete_session: bool | None) -> list[str]:
        delete = (
            self.settings.delete_session_on_shutdown if delete_session is None else delete_session
        )
        sent = self._used | self._sent
        if self._client is not None or self._aclient is not None:
            # %aca_* commands (uploads...) reach the pool through the client directly.
            sent = sent | {self._session_id}
        return sorted(self._created & sent) if delete and self._pool is None else []

    def _finish(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.stop()  # stops every session's kernel with it
                self._pool = None
            self._endpoint = None
            self._client = self._aclient = None

    def _delete_step(self, protocol: Protocol, delete_session: bool | None) -> Step:
        """Delete the sessions this object created (best effort: the cooldown reclaims them)."""
        for session in self._to_delete(delete_session):
            try:
                yield from protocol.delete_session(session)
            except errors.RemoteKernelError:
                pass

    def close(self, delete_session: bool | None = None) -> None:
        """Delete the sessions this object created (unless told not to) and stop the pool."""
        if self._to_delete(delete_session):
            self.client.run(self._delete_step(self.client.protocol, delete_session))
        if self._client is not None:
            self._client.close()
        self._finish()

    async def aclose(self, delete_session: bool | None = None) -> None:
        if self._to_delete(delete_session):
            await self.aclient.run(self._delete_step(self.aclient.protocol, delete_session))
        if self._aclient is not None:
            await self._aclient.aclose()
        if self._client is not None:
            self._client.close()
        self._finish()


def _lost_notice(session: str) -> Notice:
    return Notice(LOST_STATE, LOST_STATE_NOTICE.format(session=session))


class _LiveNotices:
    """A live run's notices, sent before its output: the pending ones, and "your variables
    are gone" the moment it is known (a probe, or the pool's ``session`` event)."""

    def __init__(self, on_event: Callable[[ExecutionEvent], None], session: str) -> None:
        self.on_event = on_event
        self.session = session
        self.said_lost = False

    def notice(self, notice: Notice) -> None:
        self.on_event(ExecutionEvent(NOTICE_EVENT, {"kind": notice.kind, "text": notice.text}))

    def lost(self) -> None:
        if not self.said_lost:
            self.said_lost = True
            self.notice(_lost_notice(self.session))

    def outputs(self, had_state: bool) -> Callable[[ExecutionEvent], None]:
        """The run's events to ``on_event``; the pool's ``session`` event is read here."""

        def on_event(event: ExecutionEvent) -> None:
            if event.kind != wire.SESSION_EVENT:
                self.on_event(event)
            elif had_state and event.content.get(wire.SESSION_CREATED):
                self.lost()

        return on_event
