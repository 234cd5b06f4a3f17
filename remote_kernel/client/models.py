"""Typed results of session-pool calls.

Outputs use the nbformat v4 output dict shapes (``{"output_type": "stream",
"name", "text"}``, ``display_data``/``execute_result`` with ``data`` and
``metadata``, ``error`` with ``ename``/``evalue``/``traceback``) because that is
what every Jupyter front-end already knows how to render.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from remote_kernel import wire


class ExecutionStatus(str, enum.Enum):
    SUCCEEDED = wire.SUCCEEDED
    FAILED = wire.FAILED
    CANCELLED = wire.CANCELLED
    RUNNING = wire.RUNNING
    NOT_STARTED = wire.NOT_STARTED
    TIMED_OUT = wire.TIMED_OUT

    @property
    def finished(self) -> bool:
        return self not in (ExecutionStatus.RUNNING, ExecutionStatus.NOT_STARTED)


@dataclass(frozen=True)
class ErrorInfo:
    """A structured remote exception (from the pool, or parsed from traceback text)."""

    ename: str
    evalue: str
    traceback: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Notice:
    """Something the user must be told that the cell did not print (the embedded pool is
    in use, the session's state was lost). Kept apart from ``outputs`` so a front-end
    never has to recognise it in a cell's own stderr; every front-end shows it the same
    way (:func:`remote_kernel.render.render_notices`)."""

    #: ``"local_pool"`` or ``"lost_state"`` (:mod:`remote_kernel.session`).
    kind: str
    text: str


@dataclass
class ExecutionResult:
    """What one execution produced.

    ``outputs`` is always the complete, ordered list of nbformat outputs: taken
    from the pool when it sends them (the local pool does), otherwise
    synthesised from ``stdout``/``stderr``/``value``/``error`` (Azure), so a
    front-end renders this one list and nothing else.
    """

    status: ExecutionStatus
    stdout: str = ""
    stderr: str = ""
    #: JSON value of the last expression, its text repr, an image dict, or None.
    value: Any = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: ErrorInfo | None = None
    duration_ms: float | None = None
    #: The pool cut stdout/stderr (outputStreamsMaxLength or a server cap).
    truncated: bool = False
    execution_id: str | None = None
    session_id: str | None = None
    #: The pool says this call created the session (local pool extension; None = unknown).
    session_created: bool | None = None
    #: True when the pool sent the full output list (not synthesised).
    full_outputs: bool = False
    #: What the front-end must show before the outputs (filled by RemoteSession).
    notices: list[Notice] = field(default_factory=list)
    #: The outputs already reached ``on_event`` as they happened (a streamed run): a
    #: front-end shows only the notices and the error from this result.
    streamed: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    #: A shell command's exit code (Shell pools; None for code).
    exit_code: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is ExecutionStatus.SUCCEEDED and self.error is None

    @property
    def finished(self) -> bool:
        return self.status.finished


@dataclass(frozen=True)
class ExecutionEvent:
    """One live event of a streamed execution, in Jupyter terms.

    ``kind`` is the IOPub ``msg_type`` (``stream``, ``display_data``,
    ``update_display_data``, ``clear_output``, ``execute_result``, ``error``,
    ``input_request``) and ``content`` its content; ``id`` the pool's event id.
    The last event of :meth:`AsyncSessionPoolClient.stream` has ``kind ==
    "result"`` and the finished :class:`ExecutionResult` in ``result``.
    """

    kind: str
    content: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    result: ExecutionResult | None = None


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int | None = None
    last_modified: datetime | None = None
    content_type: str | None = None
    #: "File" or "Directory".
    type: str = "File"
    #: Sub-directory of /mnt/data the file lives in ("" for the top).
    path: str = ""

    @property
    def remote_path(self) -> str:
        base = "/mnt/data" + (f"/{self.path.strip('/')}" if self.path.strip("/") else "")
        return f"{base}/{self.name}"


@dataclass(frozen=True)
class SessionInfo:
    identifier: str
    created_at: datetime | None = None
    last_accessed_at: datetime | None = None
    expire_at: datetime | None = None
    etag: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class PackageInfo:
    name: str
    version: str
