"""The wrapper kernel: every cell runs in a remote session, outputs come back as Jupyter messages.

A translation table, nothing more: HTTP, auth, retries, lost-state detection
and the local pool live in :class:`~remote_kernel.session.RemoteSession`;
result-to-output mapping lives in :mod:`remote_kernel.render`. What is left
here is what only a kernel can do: the asyncio task per cell, interrupts,
the shell messages answered locally, and shutdown.
"""

from __future__ import annotations

import asyncio
import platform
import threading
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from ipykernel.kernelbase import Kernel

from remote_kernel import __version__
from remote_kernel.config import PoolSettings
from remote_kernel.errors import ConfigurationError, RemoteKernelError
from remote_kernel.kernel import introspect
from remote_kernel.kernel.history import History
from remote_kernel.kernel.interrupt import CancelOnInterrupt
from remote_kernel.kernel.live import NOT_STREAMING_AFTER, NOT_STREAMING_NOTICE, LiveCell
from remote_kernel.kernel.routing import Route, route_cell, usage_errors
from remote_kernel.kernel.sink import KernelSink
from remote_kernel.server.inside.quick_flush import skip_empty_flushes

if TYPE_CHECKING:
    from remote_kernel.client.models import ExecutionResult
    from remote_kernel.commands import AcaCommands
    from remote_kernel.session import RemoteSession

T = TypeVar("T")

#: Seconds an interrupted cell may spend asking the pool to cancel its run.
CANCEL_BUDGET = 1.0
#: Seconds a "cannot cancel" answer is retried (the run may not have reached the pool).
CANCEL_RETRY_WINDOW = 0.3
#: Seconds shutdown may spend deleting the session and stopping the local pool
#: (jupyter_client kills the kernel after 5 s).
SHUTDOWN_BUDGET = 4.0
#: Seconds a cell waits for completions still running in its session (one that finds a
#: recycled session may first have to start it: a few seconds on a loaded machine).
LATE_CALLS_WAIT = 15.0

CANNOT_CANCEL = (
    "The session pool cannot cancel a running execution (Azure has no cancel): the remote "
    "run may still be going, and the session stays busy until it ends or times out.\n"
)


class RemoteKernel(Kernel, PoolSettings):
    """Python (remote session): cells run in an Azure dynamic session or the local pool."""

    implementation = "remote_kernel"
    implementation_version = __version__
    language_info = {
        "name": "python",
        # The remote version is only known after a remote call; none is made at start.
        "version": platform.python_version(),
        "mimetype": "text/x-python",
        "codemirror_mode": {"name": "ipython", "version": 3},
        "pygments_lexer": "ipython3",
        "nbconvert_exporter": "python",
        "file_extension": ".py",
    }
    help_links = [
        {"text": "Python Reference", "url": "https://docs.python.org/3/"},
        {
            "text": "Azure Container Apps dynamic sessions",
            "url": "https://learn.microsoft.com/azure/container-apps/sessions",
        },
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._remote: RemoteSession | None = None
        self._remote_lock = threading.Lock()
        self._ready = False
        self._warm_started = False
        self._commands: AcaCommands | None = None
        self._running = False
        self._main_loop: asyncio.AbstractEventLoop | None = None
        self._guard: CancelOnInterrupt | None = None
        #: This kernel's inputs (the remote IPython's history is not reachable over REST).
        self.history = History()
        #: The running cell's live outputs (a pool that streams).
        self._live: LiveCell | None = None
        self._live_silent = False
        self._live_stdin = False
        #: The one-line "this pool cannot stream" note was given (once per kernel).
        self._said_not_streaming = False
        skip_empty_flushes()  # nothing writes to this process's streams: no round trips
        #: Completions past their budget, still running in the session (see _settle_late_calls).
        self._late_calls: set[asyncio.Future[Any]] = set()

    @property
    def kernel_info(self) -> dict[str, Any]:  # type: ignore[override]
        """No debugger here: ipykernel 7 advertises one whenever debugpy is importable."""
        info = dict(super().kernel_info)
        features = [f for f in info.get("supported_features", []) if f != "debugger"]
        if "supported_features" in info:
            info["supported_features"] = features
        info["debugger"] = False
        return info

    #: The banner's words; the other languages' kernels (kernel/languages.py) set theirs.
    display_language = "Python"
    #: The session type the banner names ("" for Python's, the default).
    banner_session = ""

    @property
    def banner(self) -> str:  # type: ignore[override]
        where = self.pool_endpoint or "the embedded local session pool"
        kind = f"{self.banner_session} " if self.banner_session else ""
        return (
            f"{self.display_language} (remote session) - remote_kernel {__version__}\n"
            f"Every cell runs in a remote {kind}session on {where}."
        )

    # ------------------------------------------------------------------ setup

    def start(self) -> None:
        super().start()
        self._main_loop = self.io_loop.asyncio_loop  # type: ignore[attr-defined]

    @property
    def remote(self) -> RemoteSession:
        """The RemoteSession (made on first use, from any thread)."""
        with self._remote_lock:
            if self._remote is None:
                from remote_kernel.session import RemoteSession

                self._remote = RemoteSession(self)
            return self._remote

    def _warm_up(self) -> RemoteSession:
        """Import the client, start the local pool if there is no endpoint (blocking).

        Done off the event loop before a cell whenever the clients are missing: at
        first, and after a ``%aca_config pool_endpoint=`` change dropped them.
        """
        remote = self.remote
        _ = remote.aclient
        self._ready = True
        return remote

    def _start_warm_up(self) -> None:
        """Get the session ready in a thread, so the first cell does not wait for it."""
        if self._warm_started:
            return
        self._warm_started = True
        threading.Thread(
            target=self._warm_up_quietly, name="remote-kernel-warm-up", daemon=True
        ).start()

    def _warm_up_quietly(self) -> None:
        try:
            self._warm_up()
        except Exception as exc:  # the first cell reports it properly
            self.log.warning("Could not prepare the remote session: %s", exc)

    async def _remote_ready(self) -> RemoteSession:
        """The session, its clients made off the loop when they are not there yet (a
        thread hop costs every cell a few tenths of a millisecond when they are)."""
        self._warm_started = True
        remote = self._remote
        if remote is not None and remote.ready:
            return remote
        return await asyncio.to_thread(self._warm_up)

    async def kernel_info_request(self, stream: Any, ident: Any, parent: Any) -> None:
        await super().kernel_info_request(stream, ident, parent)
        # Start after the first reply: front-ends see "ready" without waiting for it.
        self._start_warm_up()

    # ------------------------------------------------------------- interrupts

    def pre_handler_hook(self) -> None:
        """While a shell message is handled, SIGINT cancels the watched task (or nothing).

        ipykernel would raise KeyboardInterrupt, which kills a kernel waiting on the loop.
        """
        loop = self._main_loop or asyncio.get_event_loop()
        self._guard = CancelOnInterrupt(loop).__enter__()

    def post_handler_hook(self) -> None:
        guard, self._guard = self._guard, None
        if guard is not None:
            guard.__exit__(None, None, None)

    async def _run_interruptible(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run ``coro`` as a task that SIGINT cancels; return the finished task."""
        task = asyncio.ensure_future(coro)
        with CancelOnInterrupt(asyncio.get_running_loop()) as guard:
            guard.watch(task)
            await asyncio.wait({task})
        return task

    # -------------------------------------------------------------- execution

    async def do_execute(  # type: ignore[override]
        self,
        code: str,
        silent: bool,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        sink = KernelSink(self, silent=silent)
        self._live, self._live_silent, self._live_stdin = None, silent, allow_stdin
        if not code.strip():  # front-ends send "" with user_expressions to evaluate them
            return await self._with_user_expressions(self._ok_reply(), user_expressions)
        if store_history and not silent:
            self.history.record(self.execution_count, code)
        try:
            with usage_errors():
                route = route_cell(code)
        except ConfigurationError as exc:
            return self._failed(sink, exc)
        plain = route.code == code
        page = introspect.page_request(code) if plain else None
        execution_id = None
        if route.commands and not route.has_code:
            work: Coroutine[Any, Any, Any] = self._run_commands(route.commands, sink)
        elif page is not None:
            work = self._run_pager(*page, sink)
        else:
            execution_id = str(uuid.uuid4())
            work = self._run_routed(route, sink, execution_id)
        self._running = True
        try:
            task = await self._run_interruptible(work)
            if task.cancelled():
                return await self._interrupted(sink, execution_id)
            exc = task.exception()
            if exc is not None:
                return self._failed(sink, exc)
            reply = self._reply_for(task.result(), sink)
        finally:
            self._running = False
        return await self._with_user_expressions(reply, user_expressions)

    def _reply_for(self, outcome: Any, sink: KernelSink) -> dict[str, Any]:
        """An ExecutionResult is rendered; a dict is the reply itself; None is success."""
        if outcome is None:
            return self._ok_reply()
        if isinstance(outcome, dict):
            return outcome
        reply = self._render(outcome, sink)
        for out in outcome.outputs:
            if out.get("output_type") == "execute_result":
                self.history.record_output(self.execution_count, out.get("data") or {})
        return reply

    async def _run_routed(self, route: Route, sink: KernelSink, execution_id: str) -> Any:
        """Notes on ignored %%aca options, then the cell's %aca_* lines here, then its code."""
        for note in route.notes:
            sink.stream("stderr", note)
        if route.commands:
            await self._run_commands(route.commands, sink)
        return await self._run_cell(route.code, execution_id, timeout=route.timeout)

    async def _run_cell(
        self, code: str, execution_id: str | None, timeout: float | None = None
    ) -> ExecutionResult:
        from remote_kernel.commands.hints import add_local_file_hint

        remote = await self._remote_ready()
        await self._settle_late_calls()
        answer = None
        if self._live_stdin and execution_id is not None:
            ran = execution_id

            async def answer(value: str) -> None:
                await remote.aanswer_input(ran, value)

        live = self._live = LiveCell(self, silent=self._live_silent, answer=answer)
        note = self._note_when_slow(remote)
        try:
            result = await remote.aexecute(
                code,
                execution_id=execution_id,
                timeout=timeout,
                on_event=None if self._live_silent else live,
                stdin=answer is not None,
            )
        finally:
            live.cancel()
            if note is not None:
                note.cancel()
        add_local_file_hint(result)  # the session cannot see this machine's files
        return result

    def _note_when_slow(self, remote: RemoteSession) -> asyncio.TimerHandle | None:
        """On a pool known not to stream, say so once, when a cell first runs a while."""
        if self._said_not_streaming or remote.streams() is not False:
            return None
        parent_sink = KernelSink(self)

        def say() -> None:
            self._said_not_streaming = True
            parent_sink.stream("stderr", NOT_STREAMING_NOTICE)

        return asyncio.get_running_loop().call_later(NOT_STREAMING_AFTER, say)

    def _render(self, result: ExecutionResult, sink: KernelSink) -> dict[str, Any]:
        from remote_kernel.render import render_notices, render_result

        if sink.silent:  # front-ends run silent set-up code first: keep notices for later
            self.remote.defer_notices(result.notices)
        if result.streamed or (self._live is not None and self._live.sent):
            render_notices(result.notices, sink)  # its outputs went out as they happened
        else:
            render_result(result, sink)
        if sink.error_content is None and not result.ok:
            info = result.error
            if info is not None:
                sink.error(info.ename, info.evalue, info.traceback)
            else:
                status = getattr(result.status, "value", result.status)
                sink.error("RemoteError", f"The remote execution ended with status {status}.", [])
        return self._ok_reply() if sink.error_content is None else sink.error_reply()

    def _ok_reply(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "execution_count": self.execution_count,
            "payload": [],
            "user_expressions": {},
        }

    async def _with_user_expressions(
        self, reply: dict[str, Any], expressions: dict[str, Any] | None
    ) -> dict[str, Any]:
        """An ok reply with a result for each requested user expression, evaluated remotely.

        The spec wants one result per name; a failed evaluation is an error result.
        """
        if reply.get("status") != "ok" or not expressions:
            return reply
        try:
            remote = await self._remote_ready()
            code = introspect.user_expressions_code(expressions)
            result = await remote.aexecute(code, execution_id=str(uuid.uuid4()))
            remote.defer_notices(result.notices)  # the next cell shows them
            if not result.ok:
                raise ValueError("the remote evaluation failed")
            values = introspect.user_expressions_reply(result.stdout, expressions)
        except (RemoteKernelError, ValueError) as exc:
            values = introspect.failed_expressions(expressions, str(exc))
        return {**reply, "user_expressions": values}

    def _send_abort_reply(self, stream: Any, msg: Any, idents: Any) -> None:
        """An aborted ``execute_reply`` still carries ``execution_count`` (ipykernel 6 and 7
        send ``status`` alone; front-ends read the count from every execute_reply)."""
        if msg["header"]["msg_type"] != "execute_request" or not self.session:
            super()._send_abort_reply(stream, msg, idents)
            return
        self.log.info("Aborting %s: execute_request", msg["header"]["msg_id"])
        content = {"status": "aborted", "execution_count": self.execution_count}
        metadata = self.finish_metadata(msg, self.init_metadata(msg), content)
        metadata["status"] = "aborted"
        self.session.send(
            stream, "execute_reply", content, parent=msg, metadata=metadata, ident=idents
        )

    def _failed(self, sink: KernelSink, exc: BaseException) -> dict[str, Any]:
        """Our own failure (pool unreachable, bad command...): one error, no Python traceback."""
        if not isinstance(exc, RemoteKernelError):
            self.log.error("Unexpected failure running a cell", exc_info=exc)
        ename = type(exc).__name__
        evalue = str(exc)
        sink.error(ename, evalue, [f"{ename}: {evalue}"])
        return sink.error_reply()

    async def _interrupted(self, sink: KernelSink, execution_id: str | None) -> dict[str, Any]:
        """One KeyboardInterrupt error; the remote run is cancelled where the pool can.

        After a cancel, the run's own record (output printed before the interrupt, the
        remote traceback) is shown when the pool returns it within the budget.
        """
        if execution_id is not None and self._ready:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + CANCEL_BUDGET
            if await self._cancel_remote(execution_id, deadline):
                result = await self._finished_run(execution_id, deadline)
                if result is not None:
                    return self._render(result, sink)
            else:
                sink.stream("stderr", CANNOT_CANCEL)
        sink.error("KeyboardInterrupt", "", ["KeyboardInterrupt: the cell was interrupted"])
        return sink.error_reply()

    async def _cancel_remote(self, execution_id: str, deadline: float) -> bool:
        """Ask the pool to cancel ``execution_id`` before ``deadline``; False if it cannot.

        A pool that can cancel may not know the run yet (the interrupt beat the request
        there), so a "no such execution" answer is retried for a short while.
        """
        loop = asyncio.get_running_loop()
        retry_until = loop.time() + CANCEL_RETRY_WINDOW
        while True:
            try:
                remaining = max(0.05, deadline - loop.time())
                cancelled = await asyncio.wait_for(self.remote.acancel(execution_id), remaining)
            except (asyncio.TimeoutError, RemoteKernelError) as exc:
                self.log.warning("Cancelling the remote execution failed: %s", exc)
                return False
            if cancelled or loop.time() >= retry_until:
                return bool(cancelled)
            await asyncio.sleep(0.05)

    async def _finished_run(self, execution_id: str, deadline: float) -> ExecutionResult | None:
        """The cancelled run's final record, if the pool has it before ``deadline``."""
        remote = self.remote
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return None
        try:
            call = remote.aclient.get_execution(execution_id, session=remote.session_id)
            result = await asyncio.wait_for(call, remaining)
        except (asyncio.TimeoutError, RemoteKernelError):
            return None
        return result if result.finished else None

    async def _run_pager(self, name: str, detail: int, sink: KernelSink) -> dict[str, Any]:
        """``name?``: the remote inspection, shown in the front-end's pager."""
        from remote_kernel.render import render_notices

        remote = await self._remote_ready()
        code = introspect.inspect_name_code(name, detail)
        result = await remote.aexecute(code, execution_id=str(uuid.uuid4()))
        render_notices(result.notices, sink)
        try:
            reply = introspect.inspection_reply(result.stdout) if result.ok else None
        except ValueError:
            reply = None
        if not reply or not reply["found"]:
            sink.stream("stdout", f"Object `{name}` not found.\n")
            return self._ok_reply()
        page = {"source": "page", "data": reply["data"], "start": 0}
        return {**self._ok_reply(), "payload": [page]}

    # --------------------------------------------------------------- commands

    def _command_runner(self) -> AcaCommands:
        if self._commands is None:
            try:
                from remote_kernel.commands import AcaCommands
            except ImportError:
                raise ConfigurationError(
                    "The %aca_* commands are not available in this installation."
                ) from None
            self._commands = AcaCommands(self.remote)
        return self._commands

    async def _run_commands(self, lines: list[str], sink: KernelSink) -> None:
        """Kernel controls (%aca_upload, %aca_files...) run here, in a worker thread."""
        commands = await asyncio.to_thread(self._command_runner)
        with usage_errors():
            for line in lines:  # a typo on the last line must not half-run the cell
                if not commands.is_command(line):
                    commands.run_line(line, sink)  # raises the "unknown command" error
                    raise ConfigurationError(f"Unknown command {line.split()[0]!r}.")
            for line in lines:
                await asyncio.to_thread(commands.run_line, line, sink)

    # --------------------------------------------------- local and remote help

    async def do_history(  # type: ignore[override]
        self,
        hist_access_type: str,
        output: bool,
        raw: bool,
        session: int | None = None,
        start: int | None = None,
        stop: int | None = None,
        n: int | None = None,
        pattern: str | None = None,
        unique: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        entries = self.history.query(
            hist_access_type,
            session=session,
            start=start,
            stop=stop,
            n=n,
            pattern=pattern,
            unique=unique,
        )
        return {"status": "ok", "history": [e.as_reply(output) for e in entries]}

    async def do_is_complete(self, code: str) -> dict[str, Any]:  # type: ignore[override]
        from IPython.core.inputtransformer2 import TransformerManager

        status, indent = TransformerManager().check_complete(code)
        reply: dict[str, Any] = {"status": status}
        if status == "incomplete":
            reply["indent"] = " " * (indent or 0)
        return reply

    async def do_complete(self, code: str, cursor_pos: int | None) -> dict[str, Any]:  # type: ignore[override]
        cursor_pos = len(code) if cursor_pos is None else cursor_pos
        stdout = await self._introspect(lambda: introspect.completion_code(code, cursor_pos))
        try:
            if stdout:
                return introspect.completion_reply(stdout, cursor_pos)
        except Exception:
            pass
        return introspect.empty_completion(cursor_pos)

    async def do_inspect(  # type: ignore[override]
        self, code: str, cursor_pos: int, detail_level: int = 0, omit_sections: Any = ()
    ) -> dict[str, Any]:
        stdout = await self._introspect(
            lambda: introspect.inspection_code(code, cursor_pos, detail_level)
        )
        try:
            if stdout:
                return introspect.inspection_reply(stdout)
        except Exception:
            pass
        return introspect.empty_inspection()

    async def _introspect(self, make_code: Any) -> str | None:
        """Run a completion/inspection statement remotely; its stdout, or None on any failure.

        Never while a cell runs, never past ``completion_timeout``.
        """
        if not self.remote_completion or self._running:
            return None
        try:
            code = make_code()
        except Exception:
            return None
        if not code:
            return None
        return await self._on_main_loop(self._introspect_remote(code))

    async def _introspect_remote(self, code: str) -> str | None:
        """Wait at most ``completion_timeout``; a late call finishes in the background.

        Not cancelled: the call may be the one that finds the session recycled, and
        its warning must still reach the next cell.
        """
        budget = max(0.1, float(self.completion_timeout))
        call = asyncio.ensure_future(self._run_cell_quietly(code, str(uuid.uuid4()), budget))
        self._running = True
        try:
            await self._run_interruptible(asyncio.wait({call}, timeout=budget))
        finally:
            self._running = False
        if not call.done():
            self._late_calls.add(call)
            call.add_done_callback(self._late_calls.discard)
            call.add_done_callback(_consume)
            return None
        if call.cancelled() or call.exception() is not None:
            return None
        return call.result()

    async def _settle_late_calls(self) -> None:
        """Let completions still running in the session finish before a cell is sent.

        The session runs one thing at a time, so the cell would wait for them there anyway;
        waiting here puts what they found (the session was recycled: variables gone) before
        the cell's own output instead of after it. Bounded: a stuck call does not hold a cell.
        """
        if self._late_calls:
            await asyncio.wait(set(self._late_calls), timeout=LATE_CALLS_WAIT)

    async def _run_cell_quietly(self, code: str, execution_id: str, timeout: float) -> str | None:
        remote = await self._remote_ready()
        result = await remote.aexecute(code, timeout=timeout, execution_id=execution_id)
        remote.defer_notices(result.notices)  # the next cell shows them
        return result.stdout if result.ok else None

    async def _on_main_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the shell's loop (the async client belongs to it).

        Control-channel handlers (shutdown; any request sent there) run on another loop.
        """
        main = self._main_loop
        if main is None or main is asyncio.get_running_loop() or not main.is_running():
            return await coro
        future = asyncio.run_coroutine_threadsafe(coro, main)
        return await asyncio.wrap_future(future)

    # --------------------------------------------------------------- shutdown

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:  # type: ignore[override]
        """Delete the session this kernel made and stop the local pool it started."""
        remote = self._remote
        if remote is not None:
            try:
                await asyncio.wait_for(self._close_remote(remote), SHUTDOWN_BUDGET)
            except BaseException as exc:  # never fail a shutdown
                self.log.warning("Closing the remote session failed: %s", exc)
        return {"status": "ok", "restart": restart}

    async def _close_remote(self, remote: RemoteSession) -> None:
        # Shutdown arrives on the control thread; the async client lives on the shell's loop.
        await self._on_main_loop(remote.aclose())


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a background task's outcome so asyncio does not log it as lost."""
    if not task.cancelled():
        task.exception()


def launch(kernel_class: type[RemoteKernel] | None = None) -> None:
    """``python -m remote_kernel -f CONNECTION_FILE`` (the language's kernel; see languages)."""
    if kernel_class is None:
        from remote_kernel.kernel.languages import kernel_class as chosen

        kernel_class = chosen()
    from ipykernel.kernelapp import IPKernelApp

    options: dict[str, Any] = {}
    # The kernel's own process runs no user code: do not forward OS-level output
    # (e.g. from the local pool's processes) into cells.
    if "capture_fd_output" in IPKernelApp.class_trait_names():
        options["capture_fd_output"] = False
    IPKernelApp.launch_instance(kernel_class=kernel_class, **options)
