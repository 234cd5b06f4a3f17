"""What one execution produced: its output events as they happen, then its outcome.

Every runtime (the IPython kernel, the Pyodide sandbox) feeds what the cell
produces, as Jupyter messages (``msg_type`` plus ``content``), into one
:class:`OutputCollector`. The collector applies the output limits, passes each
event it keeps to an optional :data:`OutputSink` at once (live output), and
freezes into a :class:`RunOutcome` when the cell ends, so truncation and
merging behave the same whatever runs the code.

Memory stays bounded even when a cell prints 100 MB: each stream keeps at most
``max_stream_chars`` characters (the rest is counted and dropped while the
runtime keeps draining its channel) and rich outputs share a byte budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
    #: The interpreter died (not restarted): the pool must discard the whole session.
    session_lost: bool = False


@dataclass(frozen=True)
class OutputEvent:
    """One output the moment it is kept, in Jupyter terms: an IOPub ``msg_type`` and its
    ``content`` (``stream``, ``display_data``, ``update_display_data``, ``clear_output``,
    ``execute_result``, ``error``).

    Stream text is already cut to the limit; truncation notices come as ``stream``
    events at the end. An ``error`` may be followed by another that replaces it (an
    interrupt that becomes a ``TimeoutError``): the :class:`RunOutcome` is the final word.
    """

    msg_type: str
    content: dict[str, Any]


#: Called on the event loop with each event as it happens; must not block.
OutputSink = Callable[[OutputEvent], None]

#: Rich outputs (images, HTML, ...) kept per execution before further ones are dropped.
DEFAULT_MAX_RICH_BYTES = 64 * 1024 * 1024


def _size(data: dict[str, Any]) -> int:
    return sum(len(v) if isinstance(v, str) else len(str(v)) for v in data.values())


class OutputCollector:
    """Accumulate one execution's outputs in order, merging consecutive stream chunks."""

    def __init__(
        self,
        max_stream_chars: int,
        *,
        max_rich_bytes: int = DEFAULT_MAX_RICH_BYTES,
        sink: OutputSink | None = None,
    ) -> None:
        self.max_stream_chars = max(0, int(max_stream_chars))
        self.max_rich_bytes = max_rich_bytes
        self._sink = sink
        #: Outputs; a stream output's text is a list of chunks until :meth:`outcome`.
        self._outputs: list[dict[str, Any]] = []
        self._streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._kept: dict[str, int] = {}
        self._dropped: dict[str, int] = {}
        self._rich_bytes = 0
        self._rich_dropped = 0
        self._display_index: dict[str, int] = {}
        self._clear_pending = False
        self.error: dict[str, Any] | None = None

    # -- feeding ---------------------------------------------------------------------------

    def handle(self, msg_type: str, content: dict[str, Any]) -> None:
        """Feed one Jupyter output message (IOPub ``msg_type`` and ``content``).

        The one translation from Jupyter messages to outputs: the IPython runtime
        passes its IOPub messages here, the Pyodide shim sends the same shapes.
        Other message types (``status``, ``execute_input``...) are not outputs.
        """
        display_id = (content.get("transient") or {}).get("display_id")
        if msg_type == "stream":
            self.stream(str(content.get("name") or "stdout"), str(content.get("text") or ""))
        elif msg_type in ("display_data", "execute_result"):
            self.rich(
                msg_type,
                content.get("data") or {},
                content.get("metadata") or {},
                execution_count=content.get("execution_count"),
                display_id=display_id,
            )
        elif msg_type == "update_display_data" and display_id:
            self.update_display(display_id, content.get("data") or {}, content.get("metadata"))
        elif msg_type == "clear_output":
            self.clear(bool(content.get("wait")))
        elif msg_type == "error":
            self.add_error(
                str(content.get("ename") or "Error"),
                str(content.get("evalue") or ""),
                list(content.get("traceback") or []),
            )

    def _emit(self, msg_type: str, content: dict[str, Any]) -> None:
        if self._sink is not None:
            self._sink(OutputEvent(msg_type, content))

    def stream(self, name: str, text: str) -> None:
        """Add stream text, keeping at most ``max_stream_chars`` per stream name."""
        if not text:
            return
        self._apply_pending_clear()
        kept = self._kept.get(name, 0)
        room = self.max_stream_chars - kept
        if room < len(text):
            self._dropped[name] = self._dropped.get(name, 0) + len(text) - max(room, 0)
            text = text[: max(room, 0)]
            if not text:
                return
        self._kept[name] = kept + len(text)
        self._emit("stream", {"name": name, "text": text})
        self._streams.setdefault(name, []).append(text)
        last = self._outputs[-1] if self._outputs else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"].append(text)
        else:
            self._outputs.append({"output_type": "stream", "name": name, "text": [text]})

    def input_request(self, prompt: str, password: bool) -> None:
        """The cell waits in ``input()``/``getpass()``: tell the live reader (not an output)."""
        self._emit("input_request", {"prompt": prompt, "password": password})

    def note_dropped(self, name: str, count: int) -> None:
        """Count stream text the runtime dropped at the source (it passed the limit there)."""
        if count > 0:
            self._dropped[name] = self._dropped.get(name, 0) + count

    def rich(
        self,
        output_type: str,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        *,
        execution_count: int | None = None,
        display_id: str | None = None,
    ) -> None:
        """Add a ``display_data`` or ``execute_result`` output."""
        self._apply_pending_clear()
        if not self._reserve(data):
            return
        out: dict[str, Any] = {
            "output_type": output_type,
            "data": dict(data),
            "metadata": dict(metadata or {}),
        }
        if output_type == "execute_result":
            out["execution_count"] = execution_count
        if display_id:
            self._display_index[display_id] = len(self._outputs)
        self._outputs.append(out)
        content = {k: v for k, v in out.items() if k != "output_type"}
        if display_id:
            content["transient"] = {"display_id": display_id}
        self._emit(output_type, content)

    def update_display(
        self, display_id: str, data: dict[str, Any], metadata: dict[str, Any] | None = None
    ) -> None:
        """Replace the output shown earlier in this execution under ``display_id``."""
        index = self._display_index.get(display_id)
        if index is None or index >= len(self._outputs) or not self._reserve(data):
            return
        self._outputs[index]["data"] = dict(data)
        self._outputs[index]["metadata"] = dict(metadata or {})
        self._emit(
            "update_display_data",
            {
                "data": dict(data),
                "metadata": dict(metadata or {}),
                "transient": {"display_id": display_id},
            },
        )

    def clear(self, wait: bool = False) -> None:
        """``clear_output``: drop the outputs so far (now, or at the next output)."""
        self._emit("clear_output", {"wait": wait})
        if wait:
            self._clear_pending = True
        else:
            self._clear_now()

    def _clear_now(self) -> None:
        self._outputs.clear()
        self._display_index.clear()

    def add_error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        """Record the exception; it is also an output, in its place."""
        self._apply_pending_clear()
        self.error = {"ename": ename, "evalue": evalue, "traceback": list(traceback)}
        self._outputs.append({"output_type": "error", **self.error})
        self._emit("error", dict(self.error))

    def replace_error(self, ename: str, evalue: str, traceback: list[str] | None = None) -> None:
        """Swap the recorded error (e.g. KeyboardInterrupt -> TimeoutError), or add one."""
        lines = list(
            traceback if traceback is not None else (self.error or {}).get("traceback", [])
        )
        lines.append(f"{ename}: {evalue}")
        self._outputs = [o for o in self._outputs if o["output_type"] != "error"]
        self.add_error(ename, evalue, lines)

    # -- result ----------------------------------------------------------------------------

    @property
    def truncated(self) -> bool:
        return bool(self._dropped) or self._rich_dropped > 0

    def outcome(self, **flags: Any) -> RunOutcome:
        """Freeze into a :class:`RunOutcome`; truncation notices go to ``outputs`` only.

        ``stdout``/``stderr`` stay cut at ``max_stream_chars`` exactly: Azure's
        ``outputStreamsMaxLength`` is a maximum (issue 15 item 6), and ``truncated``
        says they were cut. The stream outputs (our extension) carry the notice.
        """
        for name, dropped in self._dropped.items():
            notice = (
                f"\n[output truncated: {dropped} more characters of {name} were dropped; "
                f"the limit is {self.max_stream_chars} characters per stream]\n"
            )
            self._emit("stream", {"name": name, "text": notice})
            for out in reversed(self._outputs):
                if out["output_type"] == "stream" and out["name"] == name:
                    out["text"].append(notice)
                    break
            else:
                self._outputs.append({"output_type": "stream", "name": name, "text": [notice]})
        if self._rich_dropped:
            notice = (
                f"\n[{self._rich_dropped} rich outputs were dropped: the cell's rich outputs "
                f"passed {self.max_rich_bytes} bytes]\n"
            )
            self._emit("stream", {"name": "stderr", "text": notice})
            self._outputs.append({"output_type": "stream", "name": "stderr", "text": [notice]})
        outputs = [
            {**o, "text": "".join(o["text"])} if o["output_type"] == "stream" else o
            for o in self._outputs
        ]
        return RunOutcome(
            outputs=outputs,
            stdout="".join(self._streams.get("stdout", [])),
            stderr="".join(self._streams.get("stderr", [])),
            error=self.error,
            truncated=self.truncated,
            **flags,
        )

    # -- helpers ---------------------------------------------------------------------------

    def _reserve(self, data: dict[str, Any]) -> bool:
        size = _size(data)
        if self._rich_bytes + size > self.max_rich_bytes:
            self._rich_dropped += 1
            return False
        self._rich_bytes += size
        return True

    def _apply_pending_clear(self) -> None:
        if self._clear_pending:
            self._clear_pending = False
            self._clear_now()
