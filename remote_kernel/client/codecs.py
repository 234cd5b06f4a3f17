"""API generations as values: one codec per generation builds requests and parses answers.

Generation 1 (``2024-02-02-preview``, ``2024-08-02-preview``) wraps bodies in
``properties`` and has no execution resource; generation 2
(``2024-10-02-preview`` and later) has ``/executions`` that can be polled and
cancelled. A new api-version is one entry in :data:`CODECS`: an existing codec,
or a codec configured (or subclassed) for what that version changed.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from remote_kernel import errors, wire
from remote_kernel.client.error_map import request_id
from remote_kernel.client.messages import Request, Response
from remote_kernel.client.models import (
    ErrorInfo,
    ExecutionResult,
    ExecutionStatus,
    FileInfo,
    SessionInfo,
)
from remote_kernel.client.synthesis import TRACEBACK_HEAD, parse_traceback_text, synthesise_outputs
from remote_kernel.config import GEN1_API_VERSIONS, GEN2_API_VERSIONS

#: Margin added to an execution's own timeout before the HTTP read gives up.
READ_MARGIN = 30.0


class Codec:
    """The request shapes and answer shapes shared by every generation."""

    generation = 0
    #: Executions are resources: started asynchronously, polled and cancelled by id.
    has_executions = True
    #: Route of a multipart upload.
    upload_path = "/files"
    #: The execution id travels in Azure's ``operation-id`` request header (the
    #: versions whose documents define it); otherwise nowhere (generation 1).
    operation_id_header = False

    def __init__(self, *, stream_cap: int | None = None) -> None:
        #: The pool cuts each stream at this many characters by default
        #: (``outputStreamsMaxLength``): a stream exactly this long was cut.
        self.stream_cap = stream_cap

    def __repr__(self) -> str:
        return f"<{type(self).__name__} stream_cap={self.stream_cap}>"

    # -- requests --------------------------------------------------------------------------
    def execute_request(
        self,
        code: str,
        params: dict[str, str],
        seconds: float,
        *,
        execution_id: str | None = None,
        asynchronous: bool = False,
    ) -> Request:
        path, body = self.execution_body(code, whole_seconds(seconds), execution_id, asynchronous)
        headers = {}
        if self.operation_id_header:
            headers["operation-id"] = execution_id or str(uuid.uuid4())
        return _execution_post(path, params, body, seconds, "execute", headers)

    def execution_body(
        self, code: str, seconds: int, execution_id: str | None, asynchronous: bool
    ) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def shell_request(
        self,
        command: str,
        params: dict[str, str],
        seconds: float,
        execution_id: str | None = None,
    ) -> Request:
        """A shell command for a Shell pool (the shell tutorial's body)."""
        body = self.shell_body(command, whole_seconds(seconds), execution_id)
        return _execution_post("/executions", params, body, seconds, "execute shell command")

    def shell_body(self, command: str, seconds: int, execution_id: str | None) -> dict[str, Any]:
        """The body of a shell command; only generations with ``/executions`` have one."""
        raise errors.ConfigurationError(
            "Shell pools take commands only through /executions (api-version "
            "2025-02-02-preview or later).",
            fix="Set api_version to 2025-02-02-preview or later.",
        )

    def download_path(self, name: str) -> str:
        raise NotImplementedError

    def file_info_request(self, params: dict[str, str], name: str) -> Request:
        return Request(
            "GET", f"/files/{seg(name)}", params, operation="file metadata", idempotent=True
        )

    # -- answers ---------------------------------------------------------------------------
    def execution_payload(self, inner: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """(the dict holding stdout/stderr and the extensions, the result value)."""
        raise NotImplementedError

    def pick_file(self, infos: list[FileInfo], name: str) -> FileInfo | None:
        return next((info for info in infos if info.name == name), None)

    def parse_execution(self, response: Response, session: str) -> ExecutionResult:
        body = _execution_body(response)
        inner = body["properties"] if isinstance(body.get("properties"), dict) else body
        payload, value = self.execution_payload(inner)
        if value == "":  # both generations send "" for "no value" (the tutorial shows it)
            value = None
        status = _status(inner.get("status") or body.get("status"), response.status_code)
        stdout = str(payload.get("stdout") or "")
        stderr = str(payload.get("stderr") or "")
        error = _structured_error(payload.get(wire.ERROR))
        if payload.get(wire.TIMED_OUT_FLAG):
            status = ExecutionStatus.TIMED_OUT
        exit_code = shell_exit_code(payload, inner.get("status") or body.get("status"))
        if exit_code is not None:
            # A shell's stderr is the command's own: no traceback to read in it.
            if exit_code != 0 and error is None:
                message = f"The command exited with code {exit_code}."
                error = ErrorInfo("NonZeroExitCode", message, [])
        elif error is None and (
            status is ExecutionStatus.FAILED
            or (TRACEBACK_HEAD in stderr and wire.OUTPUTS not in payload)
        ):
            error = parse_traceback_text(stderr)
        if error is not None and status is ExecutionStatus.SUCCEEDED:
            status = ExecutionStatus.FAILED
        outputs = payload.get(wire.OUTPUTS)
        full = isinstance(outputs, list)
        if not full:
            outputs = synthesise_outputs(stdout, stderr, value, error)
        duration = payload.get("executionTimeInMilliseconds")
        return ExecutionResult(
            exit_code=exit_code,
            status=status,
            stdout=stdout,
            stderr=wire.strip_ansi(stderr),
            value=value,
            outputs=list(outputs),
            error=error,
            duration_ms=float(duration) if isinstance(duration, (int, float)) else None,
            truncated=bool(payload.get(wire.TRUNCATED)) or self.looks_truncated(stdout, stderr),
            execution_id=str(
                body.get("id")
                or inner.get("id")
                or response.header("operation-id")
                or location_id(response.header("Operation-Location"))
                or ""
            )
            or None,
            session_id=session,
            session_created=payload.get(wire.SESSION_CREATED),
            full_outputs=full,
            raw=body,
        )

    def looks_truncated(self, stdout: str, stderr: str) -> bool:
        cap = self.stream_cap
        return cap is not None and (len(stdout) == cap or len(stderr) == cap)

    def parse_file_list(self, body: Any, path: str) -> list[FileInfo]:
        if isinstance(body, dict) and "value" in body:
            items = body["value"]
        elif isinstance(body, list):
            items = body
        elif isinstance(body, dict):
            items = [body]
        else:
            items = []
        return [parse_file_entry(item, path) for item in items if isinstance(item, dict)]


class Generation1(Codec):
    """``2024-02-02-preview`` and ``2024-08-02-preview``: ``/code/execute``, ``properties``."""

    generation = 1
    has_executions = False
    upload_path = "/files/upload"

    def execution_body(
        self, code: str, seconds: int, execution_id: str | None, asynchronous: bool
    ) -> tuple[str, dict[str, Any]]:
        properties = {
            "codeInputType": "inline",
            "executionType": "synchronous",
            "code": code,
            "timeoutInSeconds": seconds,
        }
        return "/code/execute", {"properties": properties}

    def execution_payload(self, inner: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        return inner, inner.get("result")

    def download_path(self, name: str) -> str:
        return f"/files/content/{seg(name)}"

    def file_info_request(self, params: dict[str, str], name: str) -> Request:
        # Generation 1 has no metadata route: list the folder and pick.
        return Request("GET", "/files", params, operation="list files", idempotent=True)


class Generation2(Codec):
    """``2024-10-02-preview`` and later: ``/executions`` resources, flat bodies."""

    generation = 2
    operation_id_header = True

    def execution_body(
        self, code: str, seconds: int, execution_id: str | None, asynchronous: bool
    ) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "codeInputType": "Inline",
            "code": code,
            "executionType": "Asynchronous" if asynchronous else "Synchronous",
            "timeoutInSeconds": seconds,
        }
        return "/executions", body

    def shell_body(self, command: str, seconds: int, execution_id: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "codeInputType": "inline",
            "executionType": "Synchronous",
            "shellCommand": command,
            "timeoutInSeconds": seconds,
        }
        if execution_id:
            body["id"] = execution_id
        return body

    def execution_payload(self, inner: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        result = inner.get("result")
        if isinstance(result, dict) and ("stdout" in result or "executionResult" in result):
            return dict(result), result.get("executionResult")
        return inner, inner.get("result")  # still running, or a flat custom-container answer

    def download_path(self, name: str) -> str:
        return f"/files/{seg(name)}/content"

    def pick_file(self, infos: list[FileInfo], name: str) -> FileInfo | None:
        # The metadata route answers with the one file, whatever name it reports.
        found = super().pick_file(infos, name)
        return found if found is not None or len(infos) != 1 else infos[0]


GENERATION_1 = Generation1()
GENERATION_2 = Generation2()

#: api-version -> codec. 2025-10-02-preview cuts each stream at 4096 characters.
CODECS: dict[str, Codec] = {
    **dict.fromkeys(sorted(GEN1_API_VERSIONS), GENERATION_1),
    **dict.fromkeys(sorted(GEN2_API_VERSIONS), GENERATION_2),
    "2025-10-02-preview": Generation2(stream_cap=4096),
}


def codec_for(api_version: str) -> Codec:
    try:
        return CODECS[api_version]
    except KeyError:
        raise errors.ConfigurationError(
            f"Unknown api-version {api_version!r}.",
            fix=f"Use one of: {', '.join(sorted(CODECS))}.",
        ) from None


# -- shared building --------------------------------------------------------------------------


def whole_seconds(seconds: float) -> int:
    """An execution's timeout as the API takes it: whole seconds, at least one."""
    return int(round(seconds)) or 1


def _execution_post(
    path: str,
    params: dict[str, str],
    body: dict[str, Any],
    seconds: float,
    operation: str,
    headers: dict[str, str] | None = None,
) -> Request:
    """A cell's or a command's POST: the HTTP read waits out the run's own timeout."""
    return Request(
        "POST",
        path,
        params,
        body,
        headers=headers or {},
        operation=operation,
        read_timeout=seconds + READ_MARGIN,
    )


# -- shared parsing ---------------------------------------------------------------------------


def seg(value: str) -> str:
    """One URL path segment."""
    return quote(str(value), safe="")


def clean_name(name: str) -> str:
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
    ):
        raise errors.ConfigurationError(
            f"Invalid remote file name {name!r}.",
            fix="Use a plain file name; put sub-directories in path=.",
        )
    return name


def clean_subpath(path: str) -> str:
    path = (path or "").strip()
    if path.startswith("/mnt/data"):
        path = path[len("/mnt/data") :]
    path = path.strip("/")
    if not path:
        return ""
    parts = path.split("/")
    if any(p in ("", ".", "..") or "\x00" in p or "\\" in p for p in parts):
        raise errors.ConfigurationError(
            f"Invalid remote path {path!r}.", fix="Use a sub-directory of /mnt/data without '..'."
        )
    return path


def _execution_body(response: Response) -> dict[str, Any]:
    body = response.body
    if isinstance(body, list) and body:
        body = body[0]
    if not isinstance(body, dict):
        raise errors.ServerError(
            f"The pool answered the execution with an unexpected body: {str(body)[:200]!r}",
            status_code=response.status_code,
            request_id=request_id(response),
        )
    return body


def location_id(location: str | None) -> str | None:
    """The execution id in an ``Operation-Location`` (``.../executions/{id}?...``)."""
    if not location:
        return None
    path = urlsplit(location).path.rstrip("/")
    head, _, last = path.rpartition("/")
    return unquote(last) if head.endswith("/executions") and last else None


def _status(value: Any, http_status: int) -> ExecutionStatus:
    name = wire.STATUS_ALIASES.get(str(value or "").strip().lower())
    if name is not None:
        return ExecutionStatus(name)
    return ExecutionStatus.RUNNING if http_status == 202 else ExecutionStatus.SUCCEEDED


def shell_exit_code(payload: dict[str, Any], status: Any) -> int | None:
    """A Shell pool's exit code: ``result.exitCode`` (an int, Azure-Samples' shell
    container), else a numeric top-level ``status`` (as LangChain reads Azure's shell
    pools). None for code executions. See docs/protocol-extensions.md, "Session types"."""
    value = payload.get("exitCode")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(status or "").strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return None


def _structured_error(value: Any) -> ErrorInfo | None:
    if not isinstance(value, dict) or not value.get("ename"):
        return None
    tb = value.get("traceback") or []
    if isinstance(tb, str):
        tb = tb.splitlines()
    return ErrorInfo(str(value["ename"]), str(value.get("evalue", "")), [str(x) for x in tb])


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # Azure sends 7 fractional digits; Python wants at most 6.
        head, _, rest = text.partition(".")
        digits = re.match(r"\d*", rest).group(0)  # type: ignore[union-attr]
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_file_entry(item: dict[str, Any], path: str = "") -> FileInfo:
    props = item.get("properties", item) if isinstance(item.get("properties"), dict) else item
    name = props.get("name") or props.get("filename") or props.get("fileName") or ""
    size = props.get("sizeInBytes", props.get("size"))
    modified = props.get("lastModifiedAt") or props.get("lastModifiedTime")
    return FileInfo(
        name=str(name).rsplit("/", 1)[-1],
        size=int(size) if isinstance(size, (int, float)) else None,
        last_modified=parse_time(modified),
        content_type=props.get("contentType"),
        type=str(props.get("type") or "File"),
        path=clean_subpath(path) if path else "",
    )


def parse_session(item: dict[str, Any]) -> SessionInfo:
    return SessionInfo(
        identifier=str(item.get("identifier") or item.get("id") or item.get("name") or ""),
        created_at=parse_time(item.get("createdAt")),
        last_accessed_at=parse_time(item.get("lastAccessedAt")),
        expire_at=parse_time(item.get("expireAt") or item.get("expiresAt")),
        etag=item.get("etag"),
        raw=item,
    )
