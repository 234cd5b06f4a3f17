"""What every group of commands shares: the session, the limits, and running our remote scripts.

The command groups (files, sessions, settings, push/pull, cells) are mixins
over :class:`CommandsBase`; :class:`~remote_kernel.commands.dispatch.AcaCommands`
combines them and dispatches a line to the right ``_cmd_*`` method.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from remote_kernel import variables
from remote_kernel.client.models import ExecutionEvent, ExecutionResult
from remote_kernel.errors import ExecutionCancelledError, RemoteKernelError, TransferError
from remote_kernel.render import OutputSink, render_notices, render_outputs
from remote_kernel.session import RemoteSession
from remote_kernel.transfer_progress import DEFAULT_PROGRESS_THRESHOLD

Namespace = dict[str, Any]


class CommandsBase:
    """The state every command group reads; its arguments are documented on ``AcaCommands``."""

    def __init__(
        self,
        session: RemoteSession,
        *,
        namespace: Namespace | Callable[[], Namespace] | None = None,
        progress_threshold: int = DEFAULT_PROGRESS_THRESHOLD,
        max_variable_size: int = variables.DEFAULT_MAX_VARIABLE_BYTES,
    ) -> None:
        self.session = session
        self._namespace = namespace
        self.progress_threshold = int(progress_threshold)
        self.max_variable_size = int(max_variable_size)
        #: Sessions the user chose (not created here): %aca_restart never deletes them.
        self._adopted: set[str] = set()
        if session.settings.session_id:
            self._adopted.add(session.settings.session_id)

    @property
    def sid(self) -> str:
        return self.session.session_id

    def emit_notices(self, sink: OutputSink) -> None:
        """Show one-time notices (e.g. the embedded pool just started) before a command's output."""
        render_notices(self.session.take_notices(), sink)

    def _execute(
        self,
        code: str,
        timeout: float | None,
        on_event: Callable[[ExecutionEvent], None] | None = None,
        *,
        execution_id: str | None = None,
        stdin: bool = False,
    ) -> ExecutionResult:
        """Run ``code``; ``on_event`` gets its outputs as they happen on a streaming pool.

        ``stdin``: ``on_event`` answers the run's ``input_request`` events (else the
        session's ``input()`` fails at once). Ctrl-C, or an error in ``on_event``
        (e.g. no way to ask for the input), cancels the remote run.
        """
        execution_id = execution_id or str(uuid.uuid4())
        try:
            return self.session.execute(
                code, timeout=timeout, execution_id=execution_id, on_event=on_event, stdin=stdin
            )
        except (KeyboardInterrupt, ExecutionCancelledError):
            try:
                self.session.cancel(execution_id)
            except RemoteKernelError:
                pass  # the pool cannot cancel or the run already ended: nothing more to do
            raise

    def _helper(self, code: str, sink: OutputSink, command: str) -> dict[str, Any]:
        """Run one of our remote scripts; show notices, return its JSON report."""
        result = self._execute(code, None)
        render_notices(result.notices, sink)
        render_outputs(
            [
                o
                for o in result.outputs
                if o.get("output_type") == "stream" and o.get("name") == "stderr"
            ],
            sink,
        )
        if result.error is not None:
            raise TransferError(
                f"{command} failed in the session: {result.error.ename}: {result.error.evalue}"
            )
        return variables.parse_report(result.stdout, command)

    def _delete_quietly(self, name: str, sub: str = "") -> None:
        """Remove one of our temporary files; a cleanup failure must not hide the real error."""
        try:
            self.session.client.delete_file(name, session=self.sid, path=sub)
        except RemoteKernelError:
            pass  # already gone (the remote script removed it) or the pool is unreachable
