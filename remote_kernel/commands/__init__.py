"""The ``%aca_*`` commands: one implementation for the IPython magics and the wrapper kernel.

Both front-ends hand a line such as ``%aca_upload data.csv`` to
:meth:`AcaCommands.run_line` together with an :class:`~remote_kernel.render.OutputSink`;
everything the command shows goes through that sink (stream text, and mime
bundles with ``text/plain`` + ``text/html`` for tables), and every failure is
a :class:`~remote_kernel.errors.RemoteKernelError` whose ``str()`` is one line.
Bad input is checked before anything is sent, so a mistake never changes the
session.

Modules, one job each:

- :mod:`.catalog`: every command's usage and help text (``COMMANDS``).
- :mod:`.parsing`: a line into a command and its arguments; usage errors.
- :mod:`.output`: text lines, tables and timestamps through a sink.
- :mod:`.results`: how a remote result looks locally (``%aca`` values).
- :mod:`.base`: the state every command group shares; running our remote scripts.
- :mod:`.files`: ``%aca_upload``/``download``/``files``/``rm``.
- :mod:`.sessions`: ``%aca_session``/``restart``/``packages``.
- :mod:`.settings`: ``%aca_config``.
- :mod:`.push_pull`: ``%aca_push``/``pull`` over :mod:`remote_kernel.variables`.
- :mod:`.cells`: ``run_cell`` for ``%%aca``.
- :mod:`.dispatch`: :class:`AcaCommands`, which combines them and runs a line.
"""

from remote_kernel.commands.catalog import COMMANDS
from remote_kernel.commands.dispatch import AcaCommands
from remote_kernel.commands.files import split_remote
from remote_kernel.commands.output import table
from remote_kernel.commands.parsing import parse_line
from remote_kernel.commands.results import RemoteValue, line_value

__all__ = [
    "COMMANDS",
    "AcaCommands",
    "RemoteValue",
    "line_value",
    "parse_line",
    "split_remote",
    "table",
]
