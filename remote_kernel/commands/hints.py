"""One line of help on a remote error that a local file explains.

A cell that opens ``data.csv`` fails in the session with FileNotFoundError while
the file sits next to the notebook: the session cannot see this machine's files.
The error the cell already returned is enough to tell (no extra request): its
message names the missing path, and the path is looked up relative to the
working directory of the front-end (the notebook's folder under Jupyter).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path

from remote_kernel.client.models import ExecutionResult
from remote_kernel.wire import strip_ansi

#: How the session says a file is missing: open()/pandas, and IPython's %run.
_MISSING = (
    re.compile(r"No such file or directory: '([^'\n]+)'"),
    re.compile(r'No such file or directory: "([^"\n]+)"'),
    re.compile(r"File `'?([^`'\n]+)'?` not found"),
)


def missing_path(evalue: str, traceback: list[str]) -> str | None:
    """The relative path a remote error says is missing, if it says so."""
    for text in (evalue, *reversed(traceback)):
        plain = strip_ansi(str(text))
        for pattern in _MISSING:
            match = pattern.search(plain)
            if match:
                path = match.group(1)
                return None if Path(path).is_absolute() else path
    return None


def local_file_hint(evalue: str, traceback: list[str], cwd: Path | None = None) -> str | None:
    """``data.csv is on this machine, not in the session: %aca_upload data.csv``, or None."""
    path = missing_path(evalue, traceback)
    if path is None or not (Path(cwd or Path.cwd()) / path).is_file():
        return None
    return f"{path} is on this machine, not in the session: %aca_upload {shlex.quote(path)}"


def add_local_file_hint(result: ExecutionResult, cwd: Path | None = None) -> None:
    """Append the hint to ``result``'s error (its error output and ``error``), if one fits."""
    error = result.error
    if error is None:
        return
    hint = local_file_hint(error.evalue, list(error.traceback), cwd)
    if hint is None:
        return
    result.error = dataclasses.replace(error, traceback=[*error.traceback, hint])
    for out in result.outputs:
        if out.get("output_type") == "error":
            out["traceback"] = [*(out.get("traceback") or []), hint]
