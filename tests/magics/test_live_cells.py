"""``%%aca`` in a real IPython shell writes a streamed cell's output as it arrives.

Proven by a handshake: the cell prints ``line 1`` and waits for a marker file that
the test creates only when ``line 1`` is written to the shell's stdout.
"""

from __future__ import annotations

import io
import sys
import uuid
from pathlib import Path

import pytest

from .conftest import Shell


class Watcher(io.StringIO):
    """A stdout that creates ``marker`` once ``line 1`` was written to it."""

    def __init__(self, marker: Path) -> None:
        super().__init__()
        self.marker = marker

    def write(self, text: str) -> int:
        written = super().write(text)
        if "line 1" in self.getvalue():
            self.marker.touch()
        return written


def test_aca_writes_output_while_the_cell_runs(shell: Shell, tmp_path: Path) -> None:
    marker = tmp_path / f"go-{uuid.uuid4().hex}"
    cell = (
        "%%aca\nimport os, time\nprint('line 1', flush=True)\ndeadline = time.time() + 60\n"
        f"while not os.path.exists({str(marker)!r}) and time.time() < deadline:\n"
        "    time.sleep(0.02)\n"
        f"print('line 2' if os.path.exists({str(marker)!r}) else 'not live')\n"
    )
    watcher, saved = Watcher(marker), sys.stdout
    sys.stdout = watcher
    try:
        result = shell.ip.run_cell(cell)
    finally:
        sys.stdout = saved
    assert result.success, result.error_in_exec
    assert watcher.getvalue() == "line 1\nline 2\n"  # live, and not repeated at the end


def test_input_in_aca_is_answered_from_this_shells_stdin(
    shell: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("Ada\n"))
    ran = shell.run("%%aca --timeout 120\nname = input('who? ')\nprint('hello', name)")
    assert ran.success, ran.text
    assert ran.stdout == "who? hello Ada\n"  # the local prompt, then the remote print


def test_input_that_cannot_be_answered_cancels_the_cell_clearly(
    shell: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # end of input: nothing to answer
    ran = shell.run("%%aca --timeout 120\nkept = 'yes'\ninput('x? ')")
    assert not ran.success
    assert "asked for input() but it cannot be answered here (EOFError" in ran.text
    assert "Traceback" not in ran.text and "remote_kernel" not in ran.text  # one line, ours
    # The remote run was cancelled (not left waiting): the session answers at once.
    assert shell.run("%%aca --timeout 120\nprint(kept)").stdout == "yes\n"
