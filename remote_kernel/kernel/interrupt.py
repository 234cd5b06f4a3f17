"""Turn SIGINT into cancelling one asyncio task, for the duration of a remote call.

ipykernel's default (``KeyboardInterrupt`` raised wherever the main thread is)
kills a kernel whose handler awaits on the event loop: the exception escapes
the loop. In both interrupt modes the signal reaches this process (message
mode: ipykernel sends SIGINT to itself), so one handler covers both. It only
schedules ``task.cancel()`` through the loop, which is safe from a signal
handler; the previous handler comes back when the block ends.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from types import FrameType, TracebackType
from typing import Any


class CancelOnInterrupt:
    """``with CancelOnInterrupt(loop) as guard: guard.watch(task)``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._task: asyncio.Future[Any] | None = None
        self._previous: Any = None
        self._installed = False
        #: Set once SIGINT arrived while this guard was active.
        self.interrupted = False

    def watch(self, task: asyncio.Future[Any] | None) -> None:
        """Cancel ``task`` on the next SIGINT (None: just record the interrupt)."""
        self._task = task

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.interrupted = True
        task = self._task
        if task is not None and not task.done():
            self._loop.call_soon_threadsafe(task.cancel)

    def __enter__(self) -> CancelOnInterrupt:
        # signal.signal works only in the main thread; ipykernel runs the shell there.
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
