"""What the local pool needs from a session's Python runtime.

Two runtimes implement it: an IPython kernel driven over the Jupyter protocol
(``ipython_runtime``) and Pyodide under Deno (``sandbox``). The HTTP layer
only ever talks to this interface, so both serve the same REST API.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remote_kernel.wire import PACKAGES_SCRIPT as _PACKAGES_SCRIPT


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
    #: The interpreter died (not restarted): the pool must discard the whole session.
    session_lost: bool = False


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

    async def list_packages(self) -> list[dict[str, str]]:
        """``[{"name", "version"}]`` of the distributions importable in the session.

        Runs like a cell (the pool holds the session's lock), so it reports what
        the session's own interpreter sees, ``%pip install`` included.
        """
        outcome = await self.execute(_PACKAGES_SCRIPT, timeout=60.0, max_output_chars=10_000_000)
        if outcome.error or outcome.session_lost:
            raise RuntimeError(
                "could not list the session's packages: "
                + str((outcome.error or {}).get("evalue", "the interpreter was lost"))
            )
        lines = [line for line in outcome.stdout.splitlines() if line.startswith("[")]
        pairs = json.loads(lines[-1]) if lines else []
        return [{"name": name, "version": version} for name, version in pairs]


#: Builds one (not yet started) runtime; the argument is a private directory of the
#: pool (never a session's file area) for connection files, logs and caches.
RuntimeFactory = Callable[[Path], SessionRuntime]
