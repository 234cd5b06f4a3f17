"""Every JSON body the local pool sends, for both API generations, in one place.

Generation 1 (``2024-02-02-preview``) wraps results in ``properties``;
generation 2 (``2024-10-02-preview`` and later) uses flat objects. The extra
fields of ``docs/protocol-extensions.md`` (``outputs``, ``error``,
``truncated``, ``sessionCreated``, ``timedOut``, ``stateLost``) sit next to
``stdout``/``stderr`` in both.
"""

from __future__ import annotations

import ast
import math
import mimetypes
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from remote_kernel import wire
from remote_kernel.server.api_errors import error_body
from remote_kernel.server.outputs import RunOutcome
from remote_kernel.server.pool import Execution, Session
from remote_kernel.wire import strip_ansi

#: ``ast.literal_eval`` of longer reprs costs more than it is worth: they stay text.
_MAX_LITERAL_CHARS = 1_000_000


def iso(moment: datetime) -> str:
    """UTC timestamp as Azure writes it: ``2024-11-03T06:59:11.815973Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- values ------------------------------------------------------------------------------


def _jsonable(value: Any) -> tuple[bool, Any]:
    """(ok, JSON form): tuples become lists; sets, bytes, NaN, non-str keys are not JSON."""
    if value is None or isinstance(value, (bool, int, str)):
        return True, value
    if isinstance(value, float):
        return math.isfinite(value), value
    if isinstance(value, (list, tuple)):
        items = [_jsonable(v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return False, None
        pairs = {k: _jsonable(v) for k, v in value.items()}
        return all(ok for ok, _ in pairs.values()), {k: v for k, (_, v) in pairs.items()}
    return False, None


def literal_value(text: str) -> Any:
    """The JSON value behind a ``text/plain`` repr, or the repr itself."""
    if len(text) <= _MAX_LITERAL_CHARS:
        try:
            ok, value = _jsonable(ast.literal_eval(text))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            ok = False
        if ok:
            return value
    return text


def _image(data: dict[str, Any]) -> dict[str, Any] | None:
    png = data.get("image/png")
    if isinstance(png, str):
        return wire.image_result(png)
    return None


def result_value(outputs: list[dict[str, Any]]) -> Any:
    """Azure's ``result``: the last expression's value, an image dict, or ``""``.

    Images come from the ``execute_result`` or, when the cell has none, from
    its last ``display_data`` holding a PNG (a plotted figure).
    """
    results = [o for o in outputs if o.get("output_type") == "execute_result"]
    if results:
        data = results[-1].get("data") or {}
        image = _image(data)
        if image is not None:
            return image
        text = data.get("text/plain")
        return literal_value(text) if isinstance(text, str) else ""
    for out in reversed(outputs):
        if out.get("output_type") == "display_data":
            image = _image(out.get("data") or {})
            if image is not None:
                return image
    return ""


def gen1_result(outputs: list[dict[str, Any]]) -> Any:
    """Generation 1's ``result``: a list or dict comes back as its text repr.

    AutoGen's ``get_available_packages`` (written against the real service) strips
    ``[]`` off ``str(result)`` and splits it on ``",\n"``: only IPython's multi-line
    text repr of a long list splits that way, a JSON list's ``str()`` does not.
    Scalars and images stay as :func:`result_value` gives them.
    """
    value = result_value(outputs)
    is_image = isinstance(value, dict) and value.get("type") == "image"
    if not isinstance(value, (list, dict)) or is_image:
        return value
    results = [o for o in outputs if o.get("output_type") == "execute_result"]
    text = (results[-1].get("data") or {}).get("text/plain") if results else None
    return text if isinstance(text, str) else value


def error_text(outcome: RunOutcome) -> str:
    """``stderr`` as Azure gives it: stream text then the traceback, without ANSI codes."""
    text = strip_ansi(outcome.stderr)
    if outcome.error:
        lines = outcome.error.get("traceback") or [
            f"{outcome.error.get('ename', 'Error')}: {outcome.error.get('evalue', '')}"
        ]
        if text and not text.endswith("\n"):
            text += "\n"
        text += strip_ansi("\n".join(lines)) + "\n"
    return text


# -- executions --------------------------------------------------------------------------


def gen2_status(outcome: RunOutcome) -> str:
    if outcome.cancelled:
        return wire.CANCELLED
    return wire.FAILED if outcome.error else wire.SUCCEEDED


def gen1_status(outcome: RunOutcome) -> str:
    return wire.GEN1_FAILURE if outcome.error or outcome.cancelled else wire.GEN1_SUCCESS


def _extensions(outcome: RunOutcome, session_created: bool) -> dict[str, Any]:
    return wire.extension_fields(
        outputs=outcome.outputs,
        error=outcome.error,
        truncated=outcome.truncated,
        session_created=session_created,
        timed_out=outcome.timed_out,
        state_lost=outcome.state_lost,
    )


@dataclass(frozen=True)
class _Common:
    stdout: str
    stderr: str
    value: Any
    ms: int


def _common(outcome: RunOutcome, limit: int | None) -> _Common:
    """``limit`` (``outputStreamsMaxLength``) is a maximum for each stream, whatever the
    runtime appended: the notice of a cut lives in ``outputs`` (issue 15 item 6)."""
    stdout, stderr = outcome.stdout, error_text(outcome)
    return _Common(
        stdout=stdout if limit is None else stdout[:limit],
        stderr=stderr if limit is None else stderr[:limit],
        value=result_value(outcome.outputs),
        ms=round(outcome.duration_ms),
    )


def gen1_execution(
    outcome: RunOutcome, *, session_created: bool, limit: int | None = None
) -> dict[str, Any]:
    """``POST /code/execute`` answer."""
    c = _common(outcome, limit)
    return {
        "$id": "1",
        "properties": {
            "$id": "2",
            "status": gen1_status(outcome),
            "stdout": c.stdout,
            "stderr": c.stderr,
            "result": gen1_result(outcome.outputs),
            "executionTimeInMilliseconds": c.ms,
            **_extensions(outcome, session_created),
        },
    }


def ends_in_value(code: str) -> bool:
    """The cell ends in an expression that is not a call, shown (no trailing ``;``).

    Such a cell with no ``execute_result`` had the value ``None``: 2025-10-02-preview
    says ``null`` for it (example ``CodeExecution_Execute_Result_None``, ``a = None;a``)
    while a cell ending in ``print(...)`` keeps ``""`` (example ``CodeExecution_Execute_Sync``).
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    last = tree.body[-1] if tree.body else None
    shown = not code.rstrip().endswith(";")
    return isinstance(last, ast.Expr) and not isinstance(last.value, ast.Call) and shown


def _valueless(outcome: RunOutcome) -> bool:
    """No ``execute_result``, no error: the last expression (if any) was ``None``."""
    kinds = {o.get("output_type") for o in outcome.outputs}
    return "execute_result" not in kinds and not outcome.error


def top_level_error(outcome: RunOutcome) -> dict[str, Any] | None:
    """Azure's ``error`` (an ``ErrorResponse``) of a failed run: the exception's name and text."""
    if not outcome.error:
        return None
    ename = str(outcome.error.get("ename") or "Error")
    evalue = str(outcome.error.get("evalue") or "")
    return error_body(ename, f"{ename}: {evalue}" if evalue else ename)


def gen2_execution(execution: Execution, *, none_is_null: bool = False) -> dict[str, Any]:
    """``/executions`` answer: finished (with ``result``) or still queued/running.

    An unfinished run has no ``result`` (the examples' ``Async_Running`` body; the
    documents type it as an object, never ``null``).
    """
    body: dict[str, Any] = {
        "id": execution.id,
        "identifier": execution.identifier,
        "sessionId": execution.identifier,
        "executionType": execution.execution_type,
        "status": execution.phase,
    }
    outcome = execution.outcome
    if outcome is None:
        return body
    c = _common(outcome, execution.max_output_chars)
    value = c.value
    if none_is_null and value == "" and _valueless(outcome) and ends_in_value(execution.code):
        value = None
    body["status"] = gen2_status(outcome)
    failure = top_level_error(outcome)
    if failure is not None:
        body["error"] = failure
    body["result"] = {
        "stdout": c.stdout,
        "stderr": c.stderr,
        "executionResult": value,
        "executionTimeInMilliseconds": c.ms,
        **_extensions(outcome, execution.session_created),
    }
    error = outcome.error or {}
    body["rawResult"] = {
        "hresult": 1 if outcome.error else 0,
        "result": value,
        "error_name": error.get("ename", ""),
        "error_message": error.get("evalue", ""),
        "error_stack_trace": strip_ansi("\n".join(error.get("traceback") or [])),
        "stdout": c.stdout,
        "stderr": c.stderr,
        "diagnosticInfo": {"executionDuration": c.ms, "identifier": execution.identifier},
        "operationId": execution.id,
    }
    return body


# -- files -------------------------------------------------------------------------------


def _file_fields(path: Path) -> tuple[int, str, bool]:
    st = path.stat()
    modified = iso(datetime.fromtimestamp(st.st_mtime, timezone.utc))
    return st.st_size, modified, path.is_dir()


def gen1_file(path: Path) -> dict[str, Any]:
    size, modified, _ = _file_fields(path)
    return {"properties": {"filename": path.name, "size": size, "lastModifiedTime": modified}}


def gen2_file(path: Path) -> dict[str, Any]:
    size, modified, is_dir = _file_fields(path)
    content_type = None if is_dir else mimetypes.guess_type(path.name)[0]
    return {
        "name": path.name,
        "sizeInBytes": 0 if is_dir else size,
        "lastModifiedAt": modified,
        "contentType": content_type or (None if is_dir else "application/octet-stream"),
        "type": "Directory" if is_dir else "File",
    }


def file_entry(path: Path, generation: int) -> dict[str, Any]:
    return gen1_file(path) if generation == 1 else gen2_file(path)


def file_list(paths: list[Path], generation: int) -> dict[str, Any]:
    """Generation 1 lists files only (its entries have no type); generation 2 adds folders."""
    if generation == 1:
        paths = [p for p in paths if not p.is_dir()]
    return {"value": [file_entry(p, generation) for p in paths]}


def upload_answer(paths: list[Path], generation: int) -> Any:
    """Generation 1: ``{"value": [...]}``; generation 2: the object (a list for several)."""
    if generation == 1:
        return {"value": [gen1_file(p) for p in paths]}
    entries = [gen2_file(p) for p in paths]
    return entries[0] if len(entries) == 1 else entries


# -- sessions ----------------------------------------------------------------------------


def session_entry(session: Session, cooldown: float) -> dict[str, Any]:
    return {
        "identifier": session.identifier,
        "createdAt": iso(session.created_at),
        "lastAccessedAt": iso(session.last_accessed_at),
        "expireAt": iso(session.expire_at(cooldown)),
        "etag": session.etag,
    }
