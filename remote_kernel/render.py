"""Turn an :class:`ExecutionResult` into front-end outputs, the same way everywhere.

The wrapper kernel and the magics both implement :class:`OutputSink` and call
:func:`render_result`; neither interprets results on its own.
"""

from __future__ import annotations

from typing import Any, Protocol

from remote_kernel.client.models import ExecutionResult


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


def render_result(result: ExecutionResult, sink: OutputSink) -> None:
    """Send every output of ``result`` to ``sink``, the error (if any) last, once."""
    render_outputs(result.outputs, sink)
