"""Argument handling: a ``%aca_*`` line into a command name and its arguments.

Every mistake is a one-line :class:`~remote_kernel.errors.ConfigurationError`
that names the command and its usage, raised before anything is sent (argparse
would print and exit instead).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
from typing import Any

from remote_kernel.commands.catalog import COMMANDS
from remote_kernel.config import MAX_EXECUTION_TIMEOUT
from remote_kernel.errors import ConfigurationError

_LINE_RE = re.compile(r"^\s*%(aca_[A-Za-z_]+)(\?{0,2})(?=\s|$)(.*)$", re.DOTALL)
_GLOB_CHARS = re.compile(r"[*?\[]")


def usage_error(name: str, message: str, action: str = "") -> ConfigurationError:
    """``%name[ action]: message. Usage: ...``, the one shape of every usage mistake."""
    where = f"%{name} {action}" if action else f"%{name}"
    return ConfigurationError(f"{where}: {message}. Usage: {COMMANDS[name].usage}")


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as a one-line ConfigurationError instead of exiting."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise usage_error(self.prog, message)

    def exit(self, status: int = 0, message: str | None = None) -> Any:  # type: ignore[override]
        raise ConfigurationError(f"%{self.prog}: {(message or 'invalid arguments').strip()}")


def parse_args(name: str, args: list[str], **positionals: str | None) -> argparse.Namespace:
    """Parse ``args`` of command ``name``; each keyword is a positional argument and its nargs."""
    parser = _Parser(prog=name, usage=COMMANDS[name].usage, add_help=False, allow_abbrev=False)
    for dest, nargs in positionals.items():
        parser.add_argument(dest, nargs=nargs)
    return parser.parse_args(args)


def is_command_line(line: str) -> bool:
    """Whether ``line`` is a known ``%aca_*`` command (parse_line says why when it is not)."""
    match = _LINE_RE.match(line)
    return bool(match and match.group(1) in COMMANDS)


def parse_line(line: str) -> tuple[str, bool, list[str]]:
    """``"%aca_rm a b"`` -> ``("aca_rm", wants_help, ["a", "b"])``; one-line error if unknown."""
    match = _LINE_RE.match(line)
    if not match:
        raise ConfigurationError(f"Not an %aca command: {line.strip()[:60]!r}.")
    name, question, rest = match.groups()
    if name not in COMMANDS:
        known = ", ".join(f"%{n}" for n in COMMANDS)
        raise ConfigurationError(f"Unknown command %{name}. Known commands: {known}.")
    try:
        args = shlex.split(rest, posix=os.name != "nt")
    except ValueError as exc:
        raise ConfigurationError(f"%{name}: cannot parse the arguments ({exc}).") from None
    if os.name == "nt":  # non-POSIX shlex keeps backslashes, and the quotes too
        args = [a[1:-1] if len(a) > 1 and a[0] == a[-1] and a[0] in "'\"" else a for a in args]
    wants_help = bool(question) or any(a in ("-h", "--help") for a in args)
    return name, wants_help, args


def is_glob(text: str) -> bool:
    """Whether a file or package argument is a pattern rather than a name."""
    return bool(_GLOB_CHARS.search(text))


def check_timeout(timeout: float | None) -> float | None:
    """A cell timeout within what the pool allows (``--timeout`` and ``%aca_config``)."""
    if timeout is None:
        return None
    if not timeout > 0 or timeout > MAX_EXECUTION_TIMEOUT:
        raise ConfigurationError(
            f"--timeout must be between 0 and {MAX_EXECUTION_TIMEOUT:g} seconds, got {timeout:g}."
        )
    return float(timeout)
