"""A real IPython InteractiveShell with ``%load_ext remote_kernel``, pointed at the shared local pool.

IPython's shell is a singleton: one shell per test module, cleared afterwards,
configured the way users configure it (``c.AcaMagics.*`` traits).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Ran:
    """What one cell did: IPython's ExecutionResult plus everything it showed (ANSI removed)."""

    result: Any
    stdout: str
    stderr: str
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return bool(self.result.success)

    @property
    def error(self) -> BaseException | None:
        return self.result.error_in_exec or self.result.error_before_exec

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def html(self) -> str:
        return "".join(o.get("text/html", "") for o in self.outputs)


class Shell:
    def __init__(self, ip: InteractiveShell) -> None:
        self.ip = ip

    def run(self, source: str) -> Ran:
        with capture_output() as cap:
            result = self.ip.run_cell(source, store_history=True)
        out, err = _ANSI.sub("", cap.stdout), _ANSI.sub("", cap.stderr)
        return Ran(result, out, err, [o.data for o in cap.outputs])

    @property
    def ns(self) -> dict[str, Any]:
        return self.ip.user_ns

    @property
    def magics(self) -> Any:
        from remote_kernel.magics import _loaded

        return _loaded[id(self.ip)]


@pytest.fixture(scope="module")
def shell(local_pool: Any) -> Iterator[Shell]:
    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance()
    ip.config.AcaMagics.pool_endpoint = local_pool.url
    ip.config.AcaMagics.token = local_pool.token
    ip.run_line_magic("load_ext", "remote_kernel")
    try:
        yield Shell(ip)
    finally:
        ip.run_line_magic("unload_ext", "remote_kernel")
        InteractiveShell.clear_instance()


def one_line_error(ran: Ran) -> str:
    """The error text a failed magic showed, asserting it is short and shows none of our code."""
    assert not ran.success
    text = ran.text.strip()
    assert "Traceback" not in text and "remote_kernel/" not in text, text
    assert len(text.splitlines()) == 1, text
    return text
