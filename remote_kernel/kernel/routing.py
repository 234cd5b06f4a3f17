"""What a cell typed into the remote kernel asks for: ``%aca_*`` commands, remote code, or both.

Every cell already runs in the session, so the magics' syntax means this here:

- ``%aca_*`` lines at the top level run in the kernel (they act on this machine's
  files and on the session), in the cell's order, before the rest of the cell is
  sent. Their lines are sent as blank lines, so remote tracebacks keep the cell's
  line numbers.
- ``%%aca [options]`` on the first line runs the body like any cell. ``--timeout``
  applies to it; the other options have no meaning here and are named as ignored.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from remote_kernel.commands.parsing import check_timeout
from remote_kernel.errors import ConfigurationError, UsageError

#: %%aca options with no meaning in the remote kernel, and why.
IGNORED_HINT = "every cell already runs in the session"


@dataclass
class Route:
    """The parts of one cell: commands to run here, code to send, and its options."""

    commands: list[str] = field(default_factory=list)
    code: str = ""
    timeout: float | None = None
    #: One-line notes shown before the cell runs (ignored %%aca options).
    notes: list[str] = field(default_factory=list)

    @property
    def has_code(self) -> bool:
        return any(
            line.strip() and not line.lstrip().startswith("#") for line in self.code.split("\n")
        )


class _CellParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigurationError(f"%%aca: {message}. Usage: %%aca [-t S] (first line of the cell)")


def _cell_options(line: str) -> argparse.Namespace:
    parser = _CellParser(prog="%%aca", add_help=False, allow_abbrev=False)
    parser.add_argument("-t", "--timeout", type=float)
    parser.add_argument("-s", "--session")
    parser.add_argument("-o", "--output")
    parser.add_argument("-q", "--quiet", action="store_true")
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise ConfigurationError(f"%%aca: cannot parse the options ({exc}).") from None
    return parser.parse_args(words)


def _aca_cell(first: str, route: Route) -> None:
    """``%%aca [options]``: keep ``--timeout``, name the options that do nothing here."""
    options = _cell_options(first[len("%%aca") :])
    route.timeout = check_timeout(options.timeout)
    ignored = [
        flag
        for flag, value in (("-s", options.session), ("-o", options.output), ("-q", options.quiet))
        if value
    ]
    if ignored:
        route.notes.append(
            f"%%aca in the remote kernel: {', '.join(ignored)} ignored ({IGNORED_HINT}; "
            "use %aca_session use ID to switch sessions).\n"
        )


def route_cell(code: str) -> Route:
    """Split ``code`` into commands, remote code and ``%%aca`` options (one-line errors)."""
    route = Route()
    lines = code.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].split(None, 1)[0] == "%%aca":
        _aca_cell(lines[first].strip(), route)
        lines[first] = ""
    kept = []
    for line in lines:
        if line.strip().startswith("%aca_"):
            route.commands.append(line.strip())
            kept.append("")
        else:
            kept.append(line)
    route.code = "\n".join(kept)
    return route


@contextmanager
def usage_errors() -> Iterator[None]:
    """A command's bad input leaves as :class:`UsageError`, the name the magics show in
    IPython for the same mistake (a missing local file, a bad option)."""
    try:
        yield
    except UsageError:
        raise
    except ConfigurationError as exc:
        raise UsageError(exc.message, fix=exc.fix) from None
