"""The session-pool REST protocol as plain data (sans-I/O, like h11).

Every API generation and every response shape lives here, once. Functions
turn an operation into a :class:`Request` and a :class:`Response` into a typed
result or a typed error. Multi-step operations (an execution answered with
202 and polled, a package listing that falls back to running a script) are
generators: they yield :class:`Request` or :class:`Sleep` instructions and
receive :class:`Response` objects, so the sync and async clients only drive
them (see ``base.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from remote_kernel import errors
from remote_kernel.client.models import (
    ErrorInfo,
    ExecutionResult,
    ExecutionStatus,
    FileInfo,
    PackageInfo,
    SessionInfo,
)
from remote_kernel.config import MAX_EXECUTION_TIMEOUT, is_generation1
from remote_kernel.identifiers import validate_identifier


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Operation name used in error messages ("execute", "upload", ...).
    operation: str = ""
    #: Another try cannot repeat a side effect (GET, DELETE, polling).
    idempotent: bool = False
    #: Multipart upload: (field name, filename, file object, content type).
    upload: tuple[str, str, Any, str] | None = None
    #: Read timeout for this request (seconds), None: the client's default.
    read_timeout: float | None = None


@dataclass(frozen=True)
class Response:
    status_code: int
    headers: dict[str, str]
    body: Any  # parsed JSON, text, or bytes

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lname:
                return value
        return None


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = Generator["Request | Sleep", Response, Any]

#: Margin added to an execution's own timeout before the HTTP read gives up.
READ_MARGIN = 30.0
POLL_INTERVALS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0)
PACKAGES_SCRIPT = (
    "import json, importlib.metadata as _m\n"
    "print(json.dumps(sorted({(d.metadata['Name'] or '', d.version) "
    "for d in _m.distributions() if d.metadata['Name']})))"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_TRACEBACK_HEAD = "Traceback (most recent call last):"
_EXC_LINE = re.compile(
    r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning|Iteration)?)(?::\s?(.*))?$"
)


class Protocol:
    """Builds requests and parses responses for one pool and one api-version."""

    def __init__(self, endpoint: str, api_version: str, *, default_timeout: float = 220.0):
        self.endpoint = endpoint.rstrip("/")
        self.api_version = api_version
        self.gen1 = is_generation1(api_version)
        self.default_timeout = default_timeout
        #: "azure", "token" or "none": picks the fix a 401 names.
        self.auth_mode = "azure"

    # ------------------------------------------------------------------ helpers
    def _params(self, session: str | None = None, **extra: str) -> dict[str, str]:
        params = {"api-version": self.api_version}
        if session is not None:
            params["identifier"] = validate_identifier(session)
        params.update({k: v for k, v in extra.items() if v})
        return params

    def _timeout(self, timeout: float | None) -> float:
        value = self.default_timeout if timeout is None else float(timeout)
        if value <= 0:
            raise errors.ConfigurationError(f"Timeout must be positive, got {value:g} s.")
        return min(value, MAX_EXECUTION_TIMEOUT)

    @property
    def pool_name(self) -> str:
        path = urlsplit(self.endpoint).path.rstrip("/")
        return path.rsplit("/", 1)[-1] or self.endpoint

    # ---------------------------------------------------------------- execution
    def execute_request(
        self,
        code: str,
        session: str,
        *,
        timeout: float | None = None,
        execution_id: str | None = None,
        asynchronous: bool = False,
    ) -> Request:
        if not isinstance(code, str):
            raise errors.ConfigurationError("Code to execute must be a string.")
        seconds = self._timeout(timeout)
        params = self._params(session)
        if self.gen1:
            body: dict[str, Any] = {
                "properties": {
                    "codeInputType": "inline",
                    "executionType": "synchronous",
                    "code": code,
                    "timeoutInSeconds": int(round(seconds)) or 1,
                }
            }
            return Request(
                "POST",
                "/code/execute",
                params,
                body,
                operation="execute",
                read_timeout=seconds + READ_MARGIN,
            )
        body = {
            "code": code,
            "executionType": "Asynchronous" if asynchronous else "Synchronous",
            "timeoutInSeconds": int(round(seconds)) or 1,
        }
        if execution_id:
            body["id"] = execution_id
        return Request(
            "POST",
            "/executions",
            params,
            body,
            operation="execute",
            read_timeout=seconds + READ_MARGIN,
        )

    def get_execution_request(self, execution_id: str, session: str) -> Request:
        self._require_gen2("get an execution")
        return Request(
            "GET",
            f"/executions/{_seg(execution_id)}",
            self._params(session),
            operation="execution status",
            idempotent=True,
        )

    def cancel_request(self, execution_id: str, session: str) -> Request:
        return Request(
            "POST",
            f"/executions/{_seg(execution_id)}/cancel",
            self._params(session),
            operation="cancel",
            idempotent=True,
        )

    def execute(
        self,
        code: str,
        session: str,
        *,
        timeout: float | None = None,
        execution_id: str | None = None,
    ) -> Step:
        """Run code synchronously; follow a 202 by polling (never by re-posting)."""
        response = yield self.execute_request(
            code, session, timeout=timeout, execution_id=execution_id
        )
        result = self.parse_execution(response, session)
        if result.finished or self.gen1:
            return result
        return (yield from self._poll(result, session, self._timeout(timeout)))

    def start_execution(
        self,
        code: str,
        session: str,
        *,
        timeout: float | None = None,
        execution_id: str | None = None,
    ) -> Step:
        self._require_gen2("start an asynchronous execution")
        response = yield self.execute_request(
            code, session, timeout=timeout, execution_id=execution_id, asynchronous=True
        )
        return self.parse_execution(response, session)

    def get_execution(self, execution_id: str, session: str) -> Step:
        response = yield self.get_execution_request(execution_id, session)
        return self.parse_execution(response, session)

    def wait_execution(self, execution_id: str, session: str, timeout: float | None = None) -> Step:
        result = yield from self.get_execution(execution_id, session)
        if result.finished:
            return result
        return (yield from self._poll(result, session, self._timeout(timeout)))

    def _poll(self, result: ExecutionResult, session: str, timeout: float) -> Step:
        if not result.execution_id:
            raise errors.ServerError(
                "The pool accepted the execution but sent no execution id to poll.", status_code=202
            )
        waited = 0.0
        for attempt in range(10**6):
            delay = POLL_INTERVALS[min(attempt, len(POLL_INTERVALS) - 1)]
            yield Sleep(delay)
            waited += delay
            response = yield self.get_execution_request(result.execution_id, session)
            result = self.parse_execution(response, session)
            if result.finished:
                return result
            if waited > timeout + READ_MARGIN:
                break
        raise errors.PoolTimeoutError(
            f"Execution {result.execution_id} in session {session!r} was still running after "
            f"{waited:.0f} s; it was not re-sent.",
            fix="Raise the timeout, or split the work into shorter cells.",
        )

    def cancel(self, execution_id: str, session: str) -> Step:
        """True when the pool stopped the run; False when it cannot cancel (Azure)."""
        response = yield self.cancel_request(execution_id, session)
        if response.status_code in (404, 405, 501):
            return False
        self.raise_for_status(response, "cancel", session=session)
        return True

    def parse_execution(self, response: Response, session: str) -> ExecutionResult:
        self.raise_for_status(response, "execute", session=session)
        body = response.body
        if isinstance(body, list) and body:
            body = body[0]
        if not isinstance(body, dict):
            raise errors.ServerError(
                f"The pool answered the execution with an unexpected body: {str(body)[:200]!r}",
                status_code=response.status_code,
                request_id=_request_id(response),
            )
        if "properties" in body and isinstance(body["properties"], dict):
            inner = body["properties"]
        else:
            inner = body
        if isinstance(inner.get("result"), dict) and (
            "stdout" in inner["result"] or "executionResult" in inner["result"]
        ):
            payload = dict(inner["result"])  # generation 2: details under "result"
            value = payload.get("executionResult")
        else:
            payload = inner  # generation 1: flat
            value = inner.get("result")
        if value == "":  # both generations send "" for "no value" (the tutorial shows it)
            value = None
        status = _status(inner.get("status") or body.get("status"), response.status_code)
        stdout = str(payload.get("stdout") or "")
        stderr = str(payload.get("stderr") or "")
        error = _structured_error(payload.get("error"))
        if payload.get("timedOut"):
            status = ExecutionStatus.TIMED_OUT
        if (
            error is None
            and status is ExecutionStatus.FAILED
            or (error is None and _TRACEBACK_HEAD in stderr and "outputs" not in payload)
        ):
            error = parse_traceback_text(stderr)
        if error is not None and status is ExecutionStatus.SUCCEEDED:
            status = ExecutionStatus.FAILED
        outputs = payload.get("outputs")
        full = isinstance(outputs, list)
        if not full:
            outputs = synthesise_outputs(stdout, stderr, value, error)
        truncated = bool(payload.get("truncated")) or self._looks_truncated(stdout, stderr)
        duration = payload.get("executionTimeInMilliseconds")
        return ExecutionResult(
            status=status,
            stdout=stdout,
            stderr=_ANSI.sub("", stderr),
            value=value,
            outputs=list(outputs),
            error=error,
            duration_ms=float(duration) if isinstance(duration, (int, float)) else None,
            truncated=truncated,
            execution_id=str(body.get("id") or inner.get("id") or "") or None,
            session_id=session,
            session_created=payload.get("sessionCreated") if "sessionCreated" in payload else None,
            full_outputs=full,
            raw=body,
        )

    def _looks_truncated(self, stdout: str, stderr: str) -> bool:
        # 2025-10-02-preview cuts each stream at outputStreamsMaxLength (4096 by default).
        return self.api_version >= "2025-10-02-preview" and (
            len(stdout) == 4096 or len(stderr) == 4096
        )

    # -------------------------------------------------------------------- files
    def _file_params(self, session: str, path: str) -> dict[str, str]:
        return self._params(session, path=_clean_subpath(path))

    def upload_request(self, session: str, name: str, fileobj: Any, path: str = "") -> Request:
        name = _clean_name(name)
        route = "/files/upload" if self.gen1 else "/files"
        return Request(
            "POST",
            route,
            self._file_params(session, path),
            operation="upload",
            upload=("file", name, fileobj, "application/octet-stream"),
        )

    def parse_upload(self, response: Response, session: str, name: str, path: str) -> FileInfo:
        self.raise_for_status(response, "upload", session=session, name=name)
        infos = self._file_list(response.body, path)
        return next(
            (i for i in infos if i.name == name), infos[0] if infos else FileInfo(name, path=path)
        )

    def download_request(self, session: str, name: str, path: str = "") -> Request:
        name = _clean_name(name)
        route = f"/files/content/{_seg(name)}" if self.gen1 else f"/files/{_seg(name)}/content"
        return Request(
            "GET", route, self._file_params(session, path), operation="download", idempotent=True
        )

    def file_info_request(self, session: str, name: str, path: str = "") -> Request:
        if self.gen1:  # generation 1 has no metadata route: list and pick
            return self.list_files_request(session, path)
        return Request(
            "GET",
            f"/files/{_seg(_clean_name(name))}",
            self._file_params(session, path),
            operation="file metadata",
            idempotent=True,
        )

    def parse_file_info(self, response: Response, session: str, name: str, path: str) -> FileInfo:
        self.raise_for_status(response, "file metadata", session=session, name=name)
        infos = self._file_list(response.body, path)
        for info in infos:
            if info.name == name:
                return info
        if not self.gen1 and len(infos) == 1:
            return infos[0]
        raise errors.NotFoundError(
            f"No file {name!r} in session {session!r}.",
            status_code=404,
            fix="List the session's files with `%aca_files` (or list_files()).",
        )

    def list_files_request(self, session: str, path: str = "") -> Request:
        return Request(
            "GET",
            "/files",
            self._file_params(session, path),
            operation="list files",
            idempotent=True,
        )

    def parse_list_files(self, response: Response, session: str, path: str) -> list[FileInfo]:
        self.raise_for_status(response, "list files", session=session)
        return self._file_list(response.body, path)

    def delete_file_request(self, session: str, name: str, path: str = "") -> Request:
        return Request(
            "DELETE",
            f"/files/{_seg(_clean_name(name))}",
            self._file_params(session, path),
            operation="delete file",
            idempotent=True,
        )

    def parse_delete_file(self, response: Response, session: str, name: str) -> None:
        self.raise_for_status(response, "delete file", session=session, name=name)

    def _file_list(self, body: Any, path: str) -> list[FileInfo]:
        if isinstance(body, dict) and "value" in body:
            items = body["value"]
        elif isinstance(body, list):
            items = body
        elif isinstance(body, dict):
            items = [body]
        else:
            items = []
        return [parse_file_entry(item, path) for item in items if isinstance(item, dict)]

    # ----------------------------------------------------------------- sessions
    def list_sessions_request(self) -> Request:
        return Request(
            "GET", "/listSessions", self._params(), operation="list sessions", idempotent=True
        )

    def parse_list_sessions(self, response: Response) -> list[SessionInfo]:
        self.raise_for_status(response, "list sessions")
        body = response.body
        items = body.get("sessions", body.get("value", [])) if isinstance(body, dict) else body
        return [parse_session(item) for item in items or [] if isinstance(item, dict)]

    def get_session_request(self, session: str) -> Request:
        return Request(
            "GET", "/session", self._params(session), operation="get session", idempotent=True
        )

    def parse_get_session(self, response: Response, session: str) -> SessionInfo:
        self.raise_for_status(response, "get session", session=session)
        body = response.body if isinstance(response.body, dict) else {}
        body = body.get("properties", body)
        return parse_session({"identifier": session, **body})

    def delete_session(self, session: str) -> Step:
        response = yield Request(
            "DELETE", "/session", self._params(session), operation="delete session", idempotent=True
        )
        if response.status_code in (404, 405) and not _error_code(response):
            # Custom-container pools stop sessions through the management route.
            response = yield Request(
                "POST",
                "/.management/stopSession",
                self._params(session),
                operation="delete session",
                idempotent=True,
            )
        self.raise_for_status(response, "delete session", session=session)

    def list_packages(self, session: str) -> Step:
        response = yield Request(
            "GET", "/packages", self._params(session), operation="list packages", idempotent=True
        )
        if response.status_code < 400 and isinstance(response.body, dict):
            return sorted(
                (
                    PackageInfo(str(p["name"]), str(p.get("version", "")))
                    for p in response.body.get("value", [])
                ),
                key=lambda p: p.name.lower(),
            )
        # Azure has no such route: ask the session's interpreter.
        result = yield from self.execute(PACKAGES_SCRIPT, session, timeout=60)
        if not result.ok:
            message = result.error.evalue if result.error else result.stderr.strip()
            raise errors.ExecutionError(f"Listing the session's packages failed: {message}")
        try:
            pairs = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError) as exc:
            raise errors.ExecutionError(
                "Listing the session's packages gave unreadable output."
            ) from exc
        return sorted((PackageInfo(n, v) for n, v in pairs), key=lambda p: p.name.lower())

    # ------------------------------------------------------------------- errors
    def _require_gen2(self, what: str) -> None:
        if self.gen1:
            raise errors.ConfigurationError(
                f"api-version {self.api_version} cannot {what}.",
                fix="Use a generation-2 api-version such as 2024-10-02-preview.",
            )

    def raise_for_status(
        self,
        response: Response,
        operation: str,
        *,
        session: str | None = None,
        name: str | None = None,
    ) -> None:
        if response.status_code < 400:
            return
        raise self.error_for(response, operation, session=session, name=name)

    def error_for(
        self,
        response: Response,
        operation: str,
        *,
        session: str | None = None,
        name: str | None = None,
    ) -> errors.PoolHTTPError:
        status = response.status_code
        code = _error_code(response)
        detail = _error_message(response)
        request_id = _request_id(response)
        where = f" (session {session!r})" if session else ""
        head = f"{operation.capitalize()} failed{where}: HTTP {status}"
        head += f" {code}" if code else ""
        head += f": {detail}" if detail else "."
        kw: dict[str, Any] = {
            "status_code": status,
            "code": code,
            "request_id": request_id,
            "body": response.body,
        }
        lowered = f"{code} {detail}".lower()
        if status == 401:
            return errors.AuthenticationError(head, fix=STATIC_TOKEN_FIX.get(self.auth_mode), **kw)
        if status == 403:
            return errors.PermissionDeniedError(
                head,
                fix=f"Your identity needs the role 'Azure ContainerApps Session Executor' "
                f"on the session pool '{self.pool_name}' (az role assignment create --role "
                '"Azure ContainerApps Session Executor" --assignee <you> --scope <pool id>).',
                **kw,
            )
        if status == 413:
            return errors.PayloadTooLargeError(head, **kw)
        if status == 429:
            return errors.RateLimitedError(head, retry_after=_retry_after(response), **kw)
        if (
            "full" in lowered
            or "maxconcurrentsessions" in lowered
            or "max-sessions" in lowered
            or "capacity" in lowered
            or status == 409
        ):
            return errors.PoolFullError(head, **kw)
        if status == 404:
            if operation == "execute":
                return errors.SessionExpiredError(
                    head,
                    fix="The session expired after its cooldown (or the endpoint is wrong):"
                    " run the cell again to start a fresh session; earlier variables and files "
                    "are gone.",
                    **kw,
                )
            if name:
                return errors.NotFoundError(head, fix="List the files with `%aca_files`.", **kw)
            return errors.NotFoundError(head, fix=ENDPOINT_FIX, **kw)
        if status >= 500:
            rid = f" Request id: {request_id}." if request_id else ""
            return errors.ServerError(
                head + rid,
                fix="Retry later; if it persists, report the request id to the pool's owner.",
                **kw,
            )
        if status == 400 and "identifier" in lowered:
            return errors.BadRequestError(head, fix=errors.InvalidIdentifierError.fix, **kw)
        return errors.BadRequestError(head, **kw)


STATIC_TOKEN_FIX = {
    "token": "The pool rejected the static token: check ACA_POOL_TOKEN (or c.PoolSettings.token) "
    "against the token the pool expects (`remote-kernel serve --token`); an Azure access token "
    "pasted by hand expires after about an hour.",
    "none": "The pool wants a bearer token: set ACA_POOL_TOKEN, or use auth='azure' for Azure.",
}

ENDPOINT_FIX = (
    "Check the pool endpoint: `az containerapp sessionpool show -n <pool> -g <group> "
    "--query properties.poolManagementEndpoint -o tsv`."
)


# ------------------------------------------------------------------ pure parsing
def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _clean_name(name: str) -> str:
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


def _clean_subpath(path: str) -> str:
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


def _status(value: Any, http_status: int) -> ExecutionStatus:
    text = str(value or "").strip().lower()
    mapping = {
        "success": ExecutionStatus.SUCCEEDED,
        "succeeded": ExecutionStatus.SUCCEEDED,
        "failure": ExecutionStatus.FAILED,
        "failed": ExecutionStatus.FAILED,
        "cancelled": ExecutionStatus.CANCELLED,
        "canceled": ExecutionStatus.CANCELLED,
        "running": ExecutionStatus.RUNNING,
        "notstarted": ExecutionStatus.NOT_STARTED,
        "timedout": ExecutionStatus.TIMED_OUT,
    }
    if text in mapping:
        return mapping[text]
    return ExecutionStatus.RUNNING if http_status == 202 else ExecutionStatus.SUCCEEDED


def _structured_error(value: Any) -> ErrorInfo | None:
    if not isinstance(value, dict) or not value.get("ename"):
        return None
    tb = value.get("traceback") or []
    if isinstance(tb, str):
        tb = tb.splitlines()
    return ErrorInfo(str(value["ename"]), str(value.get("evalue", "")), [str(x) for x in tb])


def parse_traceback_text(text: str) -> ErrorInfo:
    """ename/evalue from a plain Python traceback (what Azure sends in stderr)."""
    clean = _ANSI.sub("", text or "").rstrip()
    lines = clean.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith(_TRACEBACK_HEAD)), None)
    body = lines[start:] if start is not None else lines
    for line in reversed(body):
        match = _EXC_LINE.match(line.strip())
        if match and not line.startswith(" "):
            return ErrorInfo(match.group(1), (match.group(2) or "").strip(), body)
    last = body[-1].strip() if body else "The remote execution failed."
    return ErrorInfo("RemoteError", last, body)


def _strip_traceback(stderr: str) -> str:
    index = stderr.find(_TRACEBACK_HEAD)
    return stderr[:index] if index >= 0 else ""


def value_bundle(value: Any) -> dict[str, Any] | None:
    """A mime bundle for a result value as Azure sends it."""
    if value is None:
        return None
    if isinstance(value, dict) and value.get("type") == "image" and value.get("base64_data"):
        fmt = str(value.get("format", "png")).lower()
        mime = {
            "png": "image/png",
            "jpeg": "image/jpeg",
            "jpg": "image/jpeg",
            "svg": "image/svg+xml",
        }.get(fmt, f"image/{fmt}")
        return {mime: value["base64_data"], "text/plain": f"<{fmt.upper()} image>"}
    text = value if isinstance(value, str) else repr(value)
    return {"text/plain": text}


def synthesise_outputs(
    stdout: str, stderr: str, value: Any, error: ErrorInfo | None
) -> list[dict[str, Any]]:
    """The nbformat output list a pool without ``outputs`` (Azure) implies."""
    outputs: list[dict[str, Any]] = []
    if stdout:
        outputs.append({"output_type": "stream", "name": "stdout", "text": stdout})
    err_text = _ANSI.sub("", _strip_traceback(stderr) if error is not None else stderr)
    if err_text:
        outputs.append({"output_type": "stream", "name": "stderr", "text": err_text})
    bundle = value_bundle(value)
    if bundle is not None and error is None:
        kind = "display_data" if any(k.startswith("image/") for k in bundle) else "execute_result"
        out: dict[str, Any] = {"output_type": kind, "data": bundle, "metadata": {}}
        if kind == "execute_result":
            out["execution_count"] = None
        outputs.append(out)
    if error is not None:
        outputs.append(
            {
                "output_type": "error",
                "ename": error.ename,
                "evalue": error.evalue,
                "traceback": list(error.traceback),
            }
        )
    return outputs


def _parse_time(value: Any) -> datetime | None:
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
        last_modified=_parse_time(modified),
        content_type=props.get("contentType"),
        type=str(props.get("type") or "File"),
        path=_clean_subpath(path) if path else "",
    )


def parse_session(item: dict[str, Any]) -> SessionInfo:
    return SessionInfo(
        identifier=str(item.get("identifier") or item.get("id") or item.get("name") or ""),
        created_at=_parse_time(item.get("createdAt")),
        last_accessed_at=_parse_time(item.get("lastAccessedAt")),
        expire_at=_parse_time(item.get("expireAt") or item.get("expiresAt")),
        etag=item.get("etag"),
        raw=item,
    )


def _error_body(response: Response) -> tuple[str | None, str]:
    body = response.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = body.strip()
        try:
            body = json.loads(text) if text[:1] in '{["' else text
        except ValueError:
            body = text
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return err.get("code"), str(err.get("message") or err.get("detail") or "")
        return None, str(err)
    return None, str(body or "")[:500]


def _error_code(response: Response) -> str | None:
    return _error_body(response)[0] or response.header("x-ms-error-code")


def _error_message(response: Response) -> str:
    return errors.redact(_error_body(response)[1].strip())


def _request_id(response: Response) -> str | None:
    return response.header("x-ms-request-id") or response.header("apim-request-id")


def _retry_after(response: Response) -> float | None:
    value = response.header("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
