"""Cell execution for ``%%aca`` / ``%aca``: run code remotely and render what it produced."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from remote_kernel import variables, wire
from remote_kernel.client.models import ExecutionEvent, ExecutionResult
from remote_kernel.commands.hints import add_local_file_hint
from remote_kernel.commands.parsing import check_timeout
from remote_kernel.commands.push_pull import VariableCommands
from remote_kernel.errors import ExecutionCancelledError
from remote_kernel.identifiers import validate_identifier
from remote_kernel.render import OutputSink, render_notices, render_result
from remote_kernel.session import NOTICE_EVENT


class CellCommands(VariableCommands):
    """``run_cell``; a push/pull group underneath, since ``-o NAME`` pulls the cell's value."""

    def run_cell(
        self,
        code: str,
        sink: OutputSink,
        *,
        session: str | None = None,
        timeout: float | None = None,
        quiet: bool = False,
        output_name: str | None = None,
    ) -> ExecutionResult:
        """Run ``code`` remotely and render its outputs; the caller raises on ``result.error``.

        ``quiet`` hides the outputs but never the session notices. ``output_name``
        stores the cell's final expression in the local namespace (pickled).
        """
        if output_name is not None:
            variables.check_names([output_name], "-o")
            self._require_namespace("-o NAME")
            code = variables.last_expression_code(code)
        timeout = check_timeout(timeout) or self.session.settings.execution_timeout
        execution_id = str(uuid.uuid4())
        live = None if quiet else LiveOutputs(sink)
        with self._in_session(session):
            if live is not None and _accepts_input(sink):
                live.answer = functools.partial(self.session.answer_input, execution_id)
            result = self._execute(
                code,
                timeout,
                live,
                execution_id=execution_id,
                stdin=live is not None and live.answer is not None,
            )
            add_local_file_hint(result)  # the session cannot see this machine's files
            if quiet or result.streamed or (live is not None and live.sent):
                render_notices(result.notices, sink)  # the outputs were shown as they came
            else:
                render_result(result, sink)
            if output_name is not None and result.ok:
                values = self._pull([variables.LAST_VALUE_NAME], sink, "-o", drop=True)
                self._require_namespace("-o NAME")[output_name] = values[variables.LAST_VALUE_NAME]
        return result

    @contextmanager
    def _in_session(self, session: str | None) -> Iterator[None]:
        if not session:
            yield
            return
        validate_identifier(session)
        previous = self.sid
        self.session.use_session(session)
        try:
            yield
        finally:
            self.session.use_session(previous)


def _accepts_input(sink: OutputSink) -> bool:
    """The sink can ask its user for the session's ``input()`` (``ask_input``), now."""
    accepts = getattr(sink, "accepts_input", None)
    return callable(getattr(sink, "ask_input", None)) and callable(accepts) and bool(accepts())


class LiveOutputs:
    """``on_event`` of a ``%%aca`` cell: each streamed output to the sink as it arrives.

    Display updates and clears reach sinks that can show them (``update_display``,
    ``clear_output``); the error waits for the result (a later event may replace it).
    An ``input_request`` is put to the user by the sink's ``ask_input`` and the
    answer sent with :attr:`answer` (set when the sink accepts input).
    """

    def __init__(self, sink: OutputSink) -> None:
        self.sink = sink
        #: Some output was shown live: the result's outputs must not be shown again.
        self.sent = False
        #: ``answer(value)``: send the answer to the session's ``input()``.
        self.answer: Callable[[str], None] | None = None

    def __call__(self, event: ExecutionEvent) -> None:
        content, sink = event.content, self.sink
        display_id = (content.get("transient") or {}).get("display_id")
        if event.kind == NOTICE_EVENT:  # the session's, before the run's output
            sink.stream("stderr", str(content.get("text", "")))
            return
        if event.kind == wire.INPUT_REQUEST_EVENT:
            self._ask(content)
            return
        if event.kind == "stream":
            sink.stream(str(content.get("name") or "stdout"), str(content.get("text") or ""))
        elif event.kind in ("display_data", "execute_result"):
            data, metadata = dict(content.get("data") or {}), dict(content.get("metadata") or {})
            if display_id and hasattr(sink, "display_with_id"):
                sink.display_with_id(data, metadata, display_id)
            else:
                sink.display(data, metadata, execute_result=event.kind == "execute_result")
        elif event.kind == "update_display_data" and hasattr(sink, "update_display"):
            sink.update_display(
                dict(content.get("data") or {}), dict(content.get("metadata") or {}), display_id
            )
        elif event.kind == "clear_output" and hasattr(sink, "clear_output"):
            sink.clear_output(bool(content.get("wait")))
        else:
            return
        self.sent = True

    def _ask(self, content: dict[str, Any]) -> None:
        """Ask the user here (on this thread: where ``input()`` works) and send the answer.

        Ctrl-C raises KeyboardInterrupt, which cancels the run. A front-end that
        cannot answer after all (no stdin, end of input) cancels it with a clear error.
        """
        if self.answer is None:
            return  # the run was told it may not ask: the pool fails its input() at once
        prompt, password = str(content.get("prompt", "")), bool(content.get("password"))
        try:
            value = self.sink.ask_input(prompt, password)  # type: ignore[attr-defined]
        # NotImplementedError: IPython's StdinNotImplementedError (a front-end that said no).
        except (NotImplementedError, EOFError, OSError) as exc:
            raise ExecutionCancelledError(
                "The remote cell asked for input() but it cannot be answered here "
                f"({type(exc).__name__}: {exc}), so it was cancelled.",
                ename="StdinNotImplementedError",
                evalue=str(exc),
            ) from None
        self.answer(value)
