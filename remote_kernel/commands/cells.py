"""Cell execution for ``%%aca`` / ``%aca``: run code remotely and render what it produced."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from remote_kernel import variables
from remote_kernel.client.models import ExecutionResult
from remote_kernel.commands.hints import add_local_file_hint
from remote_kernel.commands.parsing import check_timeout
from remote_kernel.commands.push_pull import VariableCommands
from remote_kernel.identifiers import validate_identifier
from remote_kernel.render import OutputSink, render_notices, render_result


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
        with self._in_session(session):
            result = self._execute(code, timeout)
            add_local_file_hint(result)  # the session cannot see this machine's files
            if quiet:
                render_notices(result.notices, sink)
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
