"""What the local pool needs from a session's Python runtime.

Two runtimes implement it: an IPython kernel driven over the Jupyter protocol
(``ipython_runtime``) and Pyodide under Deno (``sandbox``). The HTTP layer
only ever talks to this interface, so both serve the same REST API.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunOutcome:
    """One execution, as the runtime saw it.

    ``outputs`` are nbformat v4 output dicts in the order they were produced
    (stream outputs included, consecutive stream chunks of the same name merged).
    """

    outputs: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    #: ``{"ename", "evalue", "traceback"}`` when the code raised.
    error: dict[str, Any] | None = None
    timed_out: bool = False
    cancelled: bool = False
    #: The runtime had to be restarted (or died): variables are gone.
    state_lost: bool = False
    truncated: bool = False
    duration_ms: float = 0.0


class SessionRuntime(abc.ABC):
    """A live Python interpreter bound to one session's file area."""

    @abc.abstractmethod
    async def start(self, workdir: Path) -> None:
        """Start the interpreter with ``workdir`` as its working directory (/mnt/data)."""

    @abc.abstractmethod
    async def execute(self, code: str, *, timeout: float, max_output_chars: int) -> RunOutcome:
        """Run ``code``; on timeout interrupt it and keep the state if possible."""

    @abc.abstractmethod
    async def interrupt(self) -> None:
        """Interrupt the running execution (KeyboardInterrupt inside the session)."""

    @abc.abstractmethod
    async def shutdown(self) -> None:
        """Stop the interpreter and every process it started."""

    @abc.abstractmethod
    def is_alive(self) -> bool: ...

    @property
    @abc.abstractmethod
    def pids(self) -> list[int]:
        """OS process ids owned by this runtime (for orphan checks)."""
