"""Turn an :class:`ExecutionResult` into front-end outputs, the same way everywhere.

The wrapper kernel and the magics both implement :class:`OutputSink`; the kernel
calls :func:`render_result`, the ``%aca_*`` commands (which the magics run) call
it, :func:`render_notices` or :func:`render_outputs` on a selection. Neither
front-end interprets outputs on its own; the kernel only adds the error reply a
failed result needs.
"""

from __future__ import annotations

from typing import Any, Protocol

from remote_kernel.client.models import ExecutionResult, Notice


class OutputSink(Protocol):
    def stream(self, name: str, text: str) -> None: ...

    def display(
        self, data: dict[str, Any], metadata: dict[str, Any], *, execute_result: bool = False
    ) -> None: ...

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None: ...


def render_outputs(outputs: list[dict[str, Any]], sink: OutputSink) -> None:
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            text = out.get("text", "")
            if isinstance(text, list):
                text = "".join(text)
            if text:
                sink.stream(out.get("name", "stdout"), text)
        elif kind in ("display_data", "execute_result"):
            sink.display(
                dict(out.get("data") or {}),
                dict(out.get("metadata") or {}),
                execute_result=kind == "execute_result",
            )
        elif kind == "error":
            sink.error(
                str(out.get("ename", "Error")),
                str(out.get("evalue", "")),
                list(out.get("traceback") or []),
            )


def render_notices(notices: list[Notice], sink: OutputSink) -> None:
    """Session notices as stderr text: seen in every front-end, apart from stdout."""
    for notice in notices:
        sink.stream("stderr", notice.text)


def render_result(result: ExecutionResult, sink: OutputSink) -> None:
    """Send ``result``'s notices, then its outputs in order, to ``sink``.

    A failed result's ``error`` output is among the outputs; a front-end that must
    also report the failure (the kernel's error reply) does that itself.
    """
    render_notices(result.notices, sink)
    render_outputs(result.outputs, sink)
