"""A streamed cell's events become IOPub messages the moment they arrive.

The pool streams Jupyter-shaped events (docs/protocol-extensions.md); each is
sent on as the message of the same type, so ``display(..., display_id=True)``
updates, ``clear_output(wait=True)`` animations and tqdm bars behave as in a
local kernel. The cell's ``error`` is not sent here: a later event or the final
result may replace it (an interrupt that became a timeout), so the kernel sends
the one error from the result, as for a cell that did not stream.

An ``input_request`` (the session's ``input()``/``getpass()``) goes to the
front-end over the stdin channel when it allows stdin (``getpass`` hides the
typing there), and the answer back to the session.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from remote_kernel.client.models import ExecutionEvent
from remote_kernel.kernel.sink import send_iopub
from remote_kernel.session import NOTICE_EVENT

#: Event kinds sent on as IOPub messages of the same name.
_FORWARDED = frozenset(
    {"stream", "display_data", "update_display_data", "clear_output", "execute_result"}
)

#: Said once per kernel when a cell runs this long on a pool that cannot stream.
NOT_STREAMING_AFTER = 3.0
NOT_STREAMING_NOTICE = (
    "Note: this pool sends a cell's output when the cell ends (it cannot stream), "
    "so nothing shows until then.\n"
)


#: ``answer(value)``: send the front-end's answer to the session's ``input()``.
Answer = Callable[[str], Awaitable[None]]


class LiveCell:
    """``on_event`` for one cell: forwards its events to the cell's front-end."""

    def __init__(self, kernel: Any, *, silent: bool = False, answer: Answer | None = None) -> None:
        self._kernel = kernel
        self._parent = kernel.get_parent("shell")
        self._ident = getattr(kernel, "_parent_ident", {}).get("shell", b"")
        self._silent = silent
        #: Set when the front-end allows stdin: input requests go to it.
        self._answer = answer
        self._asking: set[asyncio.Future[None]] = set()
        #: Some output went out live: the result's outputs must not be shown again.
        self.sent = False

    def __call__(self, event: ExecutionEvent) -> None:
        if event.kind == "input_request":
            self._ask(event.content)
            return
        if event.kind == NOTICE_EVENT:  # the session's, not the run's: sent stays as it is
            self._send("stream", {"name": "stderr", "text": str(event.content.get("text", ""))})
            return
        if event.kind not in _FORWARDED or self._silent:
            return
        content = dict(event.content)
        if event.kind == "execute_result":
            content["execution_count"] = self._kernel.execution_count
        elif event.kind == "display_data":
            content.setdefault("transient", {})
        self.sent = True
        self._send(event.kind, content)

    def _send(self, msg_type: str, content: dict[str, Any]) -> None:
        if not self._silent:
            send_iopub(self._kernel, self._parent, msg_type, content)

    def _ask(self, content: dict[str, Any]) -> None:
        """The session waits in ``input()``: ask the front-end over stdin, send the answer."""
        if self._answer is None:
            return  # the request said no stdin; a pool that asks anyway times out clearly
        task = asyncio.ensure_future(self._ask_front_end(content, self._answer))
        self._asking.add(task)
        task.add_done_callback(self._asking.discard)

    async def _ask_front_end(self, content: dict[str, Any], answer: Answer) -> None:
        # ipykernel's _input_request blocks until the reply: off the event loop.
        ask = functools.partial(
            self._kernel._input_request,
            str(content.get("prompt", "")),
            self._ident,
            self._parent,
            password=bool(content.get("password")),
        )
        try:
            value = await asyncio.get_running_loop().run_in_executor(None, ask)
            await answer(value)
        except Exception as exc:  # the cell then ends with the pool's timeout error
            self._kernel.log.warning("Answering the session's input() failed: %s", exc)

    def cancel(self) -> None:
        """The cell ended or was interrupted: stop sending answers."""
        for task in list(self._asking):
            task.cancel()
