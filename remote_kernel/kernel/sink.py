"""The kernel's :class:`~remote_kernel.render.OutputSink`: outputs become IOPub messages.

The parent message is captured when the sink is made, so a worker thread (the
``%aca_*`` commands run in one) attributes its outputs to the right cell. The
IOPub socket ipykernel hands out is thread-safe (it queues onto its IO thread).
"""

from __future__ import annotations

from typing import Any


def send_iopub(kernel: Any, parent: dict[str, Any], msg_type: str, content: dict[str, Any]) -> None:
    """One IOPub message, attributed to ``parent`` (the cell's request), on the topic
    ipykernel gives it: how every output of ours reaches the front-end."""
    kernel.session.send(
        kernel.iopub_socket, msg_type, content, parent=parent, ident=kernel._topic(msg_type)
    )


class KernelSink:
    """Send one cell's outputs to the front-end; remember the first error."""

    def __init__(self, kernel: Any, *, silent: bool = False) -> None:
        self._kernel = kernel
        self._parent = kernel.get_parent("shell")
        self._silent = silent
        self.error_content: dict[str, Any] | None = None

    @property
    def silent(self) -> bool:
        return self._silent

    def _send(self, msg_type: str, content: dict[str, Any]) -> None:
        if not self._silent:
            send_iopub(self._kernel, self._parent, msg_type, content)

    def stream(self, name: str, text: str) -> None:
        if text:
            self._send("stream", {"name": name, "text": text})

    def display(
        self, data: dict[str, Any], metadata: dict[str, Any], *, execute_result: bool = False
    ) -> None:
        if execute_result:
            content = {
                "execution_count": self._kernel.execution_count,
                "data": data,
                "metadata": metadata,
            }
            self._send("execute_result", content)
        else:
            self._send("display_data", {"data": data, "metadata": metadata, "transient": {}})

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        """Send the cell's error; a cell has exactly one, so later ones are dropped."""
        if self.error_content is not None:
            return
        self.error_content = {"ename": ename, "evalue": evalue, "traceback": list(traceback)}
        self._send("error", dict(self.error_content))

    def error_reply(self) -> dict[str, Any]:
        """The ``execute_reply`` content for the error this sink sent.

        ``execution_count`` is in every execute_reply, whatever its status:
        front-ends read it to number the next prompt (``jupyter console`` died
        without it). ``user_expressions`` and ``payload`` are empty, as ipykernel
        sends them, for front-ends that read them unconditionally.
        """
        assert self.error_content is not None
        return {
            "status": "error",
            "execution_count": self._kernel.execution_count,
            **self.error_content,
            "user_expressions": {},
            "payload": [],
        }
