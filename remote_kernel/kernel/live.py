"""A streamed cell's events become IOPub messages the moment they arrive.

The pool streams Jupyter-shaped events (docs/protocol-extensions.md); each is
sent on as the message of the same type, so ``display(..., display_id=True)``
updates, ``clear_output(wait=True)`` animations and tqdm bars behave as in a
local kernel. The cell's ``error`` is not sent here: a later event or the final
result may replace it (an interrupt that became a timeout), so the kernel sends
the one error from the result, as for a cell that did not stream.
"""

from __future__ import annotations

from typing import Any

from remote_kernel.client.models import ExecutionEvent

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


class LiveCell:
    """``on_event`` for one cell: forwards its events to the cell's front-end."""

    def __init__(self, kernel: Any, *, silent: bool = False) -> None:
        self._kernel = kernel
        self._parent = kernel.get_parent("shell")
        self._silent = silent
        #: Some output went out live: the result's outputs must not be shown again.
        self.sent = False

    def __call__(self, event: ExecutionEvent) -> None:
        if event.kind not in _FORWARDED or self._silent:
            return
        content = dict(event.content)
        if event.kind == "execute_result":
            content["execution_count"] = self._kernel.execution_count
        elif event.kind == "display_data":
            content.setdefault("transient", {})
        self.sent = True
        kernel = self._kernel
        kernel.session.send(
            kernel.iopub_socket,
            event.kind,
            content,
            parent=self._parent,
            ident=kernel._topic(event.kind),
        )
