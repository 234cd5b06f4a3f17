"""``%%aca`` answers the session's ``input()`` from a real IPython shell's own stdin.

The shell runs in a subprocess (its stdin a pipe, no terminal); the test writes
each answer only once the prompt has reached the shell's output, so the remote
cell is known to be waiting. Ctrl-C (SIGINT) at the prompt cancels the remote run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from pool_env import pool_env

#: Runs each cell given as JSON in argv in one IPython shell, a marker after each.
SHELL = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "remote_kernel")
for cell in json.loads(sys.argv[1]):
    ip.run_cell(cell)
    print("<<cell done>>", flush=True)
"""
WAIT = 90.0


class ShellProcess:
    """The shell subprocess, its merged output collected by a thread as it comes."""

    def __init__(self, cells: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SHELL, json.dumps(cells)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**env, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # no controlling terminal: getpass reads stdin too
        )
        self.output = ""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := os.read(self.proc.stdout.fileno(), 4096):
            with self._lock:
                self.output += chunk.decode("utf-8", "replace")

    def wait_for(self, text: str, count: int = 1) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self._lock:
                if self.output.count(text) >= count:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"{text!r} never came; output so far:\n{self.output}")

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def finish(self) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(WAIT)
        self._reader.join(5)
        return self.output

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_input_and_getpass_are_answered_from_the_shells_stdin(local_pool: Any) -> None:
    cell = (
        "%%aca --timeout 120\nimport getpass\nprint('before')\nname = input('who? ')\n"
        "key = getpass.getpass('Key: ')\nprint('hello', name, len(key))"
    )
    shell = ShellProcess([cell], pool_env(local_pool))
    try:
        shell.wait_for("who? ")
        assert "before\n" in shell.output  # the remote print came before the prompt
        shell.type("Ada")
        shell.wait_for("Key: ")
        shell.type("s3cr3t")
        shell.wait_for("<<cell done>>")
        output = shell.finish()
    finally:
        shell.kill()
    assert "hello Ada 6\n" in output, output
    assert "s3cr3t" not in output  # the hidden answer is not echoed by anyone
    assert "Traceback" not in output, output


def test_ctrl_c_at_the_prompt_cancels_the_remote_cell(local_pool: Any) -> None:
    cells = [
        "%%aca --timeout 120\nkept = 41\nname = input('who? ')",
        "%%aca --timeout 120\nprint('kept', kept + 1)",
    ]
    shell = ShellProcess(cells, pool_env(local_pool))
    try:
        shell.wait_for("who? ")
        shell.proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        shell.wait_for("<<cell done>>", count=2)
        took = time.monotonic() - started
        output = shell.finish()
    finally:
        shell.kill()
    assert "KeyboardInterrupt" in output
    # The remote run was cancelled, not left waiting for its answer until its
    # 120 s timeout (the next cell would have queued behind it): state kept.
    assert "kept 42\n" in output, output
    assert took < 60, f"the next cell waited {took:.0f} s"
