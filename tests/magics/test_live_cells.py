"""``%%aca`` in a real IPython shell writes a streamed cell's output as it arrives.

Proven by a handshake: the cell prints ``line 1`` and waits for a marker file that
the test creates only when ``line 1`` is written to the shell's stdout.
"""

from __future__ import annotations

import io
import sys
import uuid
from pathlib import Path

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


def test_input_in_aca_fails_at_once_saying_what_it_needs(shell: Shell) -> None:
    ran = shell.run("%%aca --timeout 120\ninput('x? ')")
    assert not ran.success
    assert "need a front-end that streams" in ran.text
