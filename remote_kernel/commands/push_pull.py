"""``%aca_push`` and ``%aca_pull``: variables between the local namespace and the session.

The pickling, the remote scripts and the size limit live in
:mod:`remote_kernel.variables`; here they are wired to the session's file
area, with progress bars and temporary files that are always removed.
"""

from __future__ import annotations

from typing import Any

from remote_kernel import variables
from remote_kernel.commands.base import CommandsBase, Namespace
from remote_kernel.commands.output import write_line
from remote_kernel.errors import ConfigurationError, TransferError
from remote_kernel.render import OutputSink
from remote_kernel.transfer_progress import format_size, progress_bar


class VariableCommands(CommandsBase):
    """The push/pull commands, and the pull that ``%%aca -o NAME`` uses."""

    def _require_namespace(self, command: str) -> Namespace:
        ns = self._namespace() if callable(self._namespace) else self._namespace
        if ns is None:
            raise ConfigurationError(
                f"{command} moves variables between a local Python namespace and the session; "
                "in the remote kernel every variable already lives in the session. Use it with "
                "`%load_ext remote_kernel` in a local kernel, or move data with %aca_upload/%aca_download."
            )
        return ns

    def _cmd_push(self, args: list[str], sink: OutputSink) -> None:
        names = variables.check_names(args, "%aca_push")
        namespace = self._require_namespace("%aca_push")
        payload = variables.pickle_variables(namespace, names, self.max_variable_size)
        self.emit_notices(sink)
        file_name = variables.temp_file_name("push")
        client = self.session.client
        with progress_bar(
            sink, "push", threshold=self.progress_threshold, total=len(payload)
        ) as cb:
            client.upload_file(payload, session=self.sid, remote_name=file_name, progress=cb)
        try:
            report = self._helper(variables.push_script(file_name, ""), sink, "%aca_push")
        except BaseException:
            self._delete_quietly(file_name)
            raise
        failed = report.get("failed") or {}
        if failed:
            name, why = next(iter(failed.items()))
            raise TransferError(
                f"%aca_push: {name!r} cannot be rebuilt in the session ({why}); its type must be "
                "importable there (classes defined in this notebook are not). Nothing was pushed."
            )
        write_line(
            sink, f"Pushed {', '.join(names)} to session {self.sid} ({format_size(len(payload))})."
        )

    def _cmd_pull(self, args: list[str], sink: OutputSink) -> None:
        names = variables.check_names(args, "%aca_pull")
        namespace = self._require_namespace("%aca_pull")
        self.emit_notices(sink)
        values = self._pull(names, sink, "%aca_pull")
        namespace.update(values)
        write_line(sink, f"Pulled {', '.join(names)} from session {self.sid}.")

    def _pull(
        self, names: list[str], sink: OutputSink, command: str, drop: bool = False
    ) -> dict[str, Any]:
        file_name = variables.temp_file_name("pull")
        client = self.session.client
        client.upload_file(b"", session=self.sid, remote_name=file_name)  # where to write
        try:
            script = variables.pull_script(names, file_name, "", self.max_variable_size, drop)
            report = self._helper(script, sink, command)
            _check_pull_report(report, command, self.max_variable_size)
            with progress_bar(
                sink, "pull", threshold=self.progress_threshold, total=report["size"]
            ) as cb:
                data = client.download_file(file_name, session=self.sid, progress=cb)
        finally:
            self._delete_quietly(file_name)
        return variables.unpickle_variables(data or b"", names)


def _check_pull_report(report: dict[str, Any], command: str, limit: int) -> None:
    missing = report.get("missing") or []
    if missing:
        if command == "-o":
            raise TransferError("-o: the cell's value was not kept in the session.")
        raise ConfigurationError(f"{command}: no variable named {missing[0]!r} in the session.")
    failed = report.get("failed") or {}
    if failed:
        name, (kind, why) = next(iter(failed.items()))
        what = "the cell's value" if command == "-o" else repr(name)
        raise ConfigurationError(
            f"{command}: {what} cannot be sent: objects of type {kind} cannot be pickled ({why})."
        )
    if not report.get("written"):
        sizes = report.get("sizes") or {}
        biggest = max(sizes, key=sizes.get) if sizes else None
        what = (
            "the cell's value"
            if command == "-o"
            else (repr(biggest) if len(sizes) == 1 else "the set of variables")
        )
        raise variables.limit_error(command, what, int(report.get("size") or 0), limit)
