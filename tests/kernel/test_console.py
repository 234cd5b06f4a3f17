"""``jupyter console`` itself drives the kernel: cells typed on stdin, one after another."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import SIGNAL_SPEC, pool_env

#: Seconds the whole console session may take (kernel start, three remote cells).
CONSOLE_TIMEOUT = 120


def run_console(prefix: Path, pool: Any, cells: list[str]) -> subprocess.CompletedProcess[str]:
    """Feed ``cells`` to ``jupyter console --simple-prompt`` on our kernel; its output."""
    env = pool_env(pool, JUPYTER_PATH=str(prefix / "share" / "jupyter"))
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [str(jupyter), "console", "--simple-prompt", "--kernel", SIGNAL_SPEC]
    return subprocess.run(
        command,
        input="\n".join([*cells, "exit", ""]),
        capture_output=True,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1", "TERM": os.environ.get("TERM", "dumb")},
        timeout=CONSOLE_TIMEOUT,
    )


def test_a_failing_cell_is_shown_and_the_next_cell_runs(
    kernel_prefix: Path, local_pool: Any
) -> None:
    done = run_console(
        kernel_prefix,
        local_pool,
        ["x = 40", "1 / 0", "print('after', x + 2)"],
    )
    output = done.stdout + done.stderr
    assert "KeyError" not in output, output  # jupyter_console's, on an incomplete reply
    assert "frozen modules" not in output  # debugpy's warning, see test_install
    assert "ZeroDivisionError" in output, output
    assert "after 42" in done.stdout, output
    assert done.returncode == 0, output
