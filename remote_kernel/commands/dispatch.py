"""``AcaCommands``: a ``%aca_*`` line in, the right command run, one-line errors out."""

from __future__ import annotations

from collections.abc import Callable

from remote_kernel.commands.catalog import COMMANDS, commands_overview
from remote_kernel.commands.cells import CellCommands
from remote_kernel.commands.files import FileCommands
from remote_kernel.commands.output import write_line
from remote_kernel.commands.parsing import is_command_line, parse_line
from remote_kernel.commands.sessions import SessionCommands
from remote_kernel.commands.settings import SettingsCommands
from remote_kernel.errors import RemoteKernelError, TransferError
from remote_kernel.render import OutputSink


class AcaCommands(FileCommands, SessionCommands, SettingsCommands, CellCommands):
    """The ``%aca_*`` commands over one :class:`~remote_kernel.session.RemoteSession`.

    ``namespace`` is the local variable namespace for ``%aca_push``/``%aca_pull``
    (a dict, or a callable returning the current one). Without it (the wrapper
    kernel: every variable already lives in the session) those two commands
    explain why they are not available.
    """

    def is_command(self, line: str) -> bool:
        return is_command_line(line)

    def run_line(self, line: str, sink: OutputSink) -> None:
        """Run one ``%aca_*`` line; output through ``sink``; raise a one-line error on failure."""
        name, wants_help, args = parse_line(line)
        if wants_help:
            write_line(sink, COMMANDS[name].help)
            return
        handler: Callable[[list[str], OutputSink], None] = getattr(self, "_cmd_" + name[4:])
        try:
            handler(args, sink)
        except RemoteKernelError:
            raise
        except OSError as exc:  # local file system problems
            raise TransferError(
                f"%{name}: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
            ) from None

    def _cmd_help(self, args: list[str], sink: OutputSink) -> None:
        write_line(
            sink,
            "%%aca runs a cell remotely, %aca CODE one line (see %aca?).\n" + commands_overview(),
        )
