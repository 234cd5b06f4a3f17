"""Operations: every session-pool call as a step generator (sans-I/O, like h11's Connection).

A step yields :class:`~remote_kernel.client.messages.Request` or
:class:`~remote_kernel.client.messages.Sleep` and receives a
:class:`~remote_kernel.client.messages.Response` for each request; its return
value is the typed result. Multi-step operations (an execution answered with
202 and polled, a package listing that falls back to running a script) are
written here once, and the sync and async shells only drive them. Shapes
that differ by API generation are asked of the codec, never branched on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from remote_kernel import errors, wire
from remote_kernel.client import error_map
from remote_kernel.client.codecs import (
    READ_MARGIN,
    clean_name,
    clean_subpath,
    codec_for,
    parse_session,
    seg,
)
from remote_kernel.client.messages import (
    Download,
    EventFeed,
    Progress,
    Request,
    Response,
    Seconds,
    Sleep,
    Step,
)
from remote_kernel.client.models import (
    ExecutionEvent,
    ExecutionResult,
    FileInfo,
    PackageInfo,
    SessionInfo,
)
from remote_kernel.config import MAX_EXECUTION_TIMEOUT
from remote_kernel.identifiers import validate_identifier

POLL_INTERVALS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0)


class Protocol:
    """Builds requests and parses responses for one pool and one api-version."""

    def __init__(self, endpoint: str, api_version: str, *, default_timeout: float = 220.0):
        self.endpoint = endpoint.rstrip("/")
        self.api_version = api_version
        self.codec = codec_for(api_version)
        self.default_timeout = default_timeout
        #: "azure", "token" or "none": picks the fix a 401 names.
        self.auth_mode = "azure"
        #: The extensions the pool named in ``x-remote-kernel-features`` (None: not known
        #: yet; Azure's pools name none). Learnt from answers, never asked for.
        self.features: frozenset[str] | None = None

    # ------------------------------------------------------------------ helpers
    def _params(self, session: str | None = None, **extra: str) -> dict[str, str]:
        params = {"api-version": self.api_version}
        if session is not None:
            params["identifier"] = validate_identifier(session)
        params.update({k: v for k, v in extra.items() if v})
        return params

    def _file_params(self, session: str, path: str) -> dict[str, str]:
        return self._params(session, path=clean_subpath(path))

    def _timeout(self, timeout: float | None) -> float:
        value = self.default_timeout if timeout is None else float(timeout)
        if value <= 0:
            raise errors.ConfigurationError(f"Timeout must be positive, got {value:g} s.")
        return min(value, MAX_EXECUTION_TIMEOUT)

    def _require_executions(self, what: str) -> None:
        if not self.codec.has_executions:
            raise errors.ConfigurationError(
                f"api-version {self.api_version} cannot {what}.",
                fix="Use a generation-2 api-version such as 2024-10-02-preview.",
            )

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
        timeout: Seconds = None,
        execution_id: str | None = None,
        asynchronous: bool = False,
    ) -> Request:
        if not isinstance(code, str):
            raise errors.ConfigurationError("Code to execute must be a string.")
        return self.codec.execute_request(
            code,
            self._params(session),
            self._timeout(timeout),
            execution_id=execution_id,
            asynchronous=asynchronous,
        )

    def _on_execution(self, method: str, execution_id: str, session: str, op: str) -> Request:
        """A request on one execution's resource (status, cancel): safe to try again."""
        path = f"/executions/{seg(execution_id)}" + ("/cancel" if op == "cancel" else "")
        return Request(method, path, self._params(session), operation=op, idempotent=True)

    def get_execution_request(self, execution_id: str, session: str) -> Request:
        self._require_executions("get an execution")
        return self._on_execution("GET", execution_id, session, "execution status")

    def poll_request(self, location: str | None, execution_id: str, session: str) -> Request:
        """Poll where the pool said (``Operation-Location``), if that is a URL on this pool.

        A location elsewhere (another host, a path outside the endpoint) is not
        followed: the bearer token goes only to the endpoint. Nor is a relative
        one (the samples' ``/executions/{id}?...`` is relative to the host, not to an
        endpoint with a path; the examples' is a placeholder). Then, as without one,
        the execution's own route is polled (its id may come from the location).
        """
        target = location or ""
        if not target.startswith(self.endpoint + "/"):
            return self.get_execution_request(execution_id, session)
        parts = urlsplit(target[len(self.endpoint) :])
        params = {**dict(parse_qsl(parts.query)), **self._params(session)}
        return Request("GET", parts.path, params, operation="execution status", idempotent=True)

    def cancel_request(self, execution_id: str, session: str) -> Request:
        return self._on_execution("POST", execution_id, session, "cancel")

    def note_features(self, response: Response) -> None:
        """Remember what the pool says it speaks (every answer of the local pool says it)."""
        if self.features is None or response.header(wire.FEATURES_HEADER) is not None:
            self.features = wire.parse_features(response.header(wire.FEATURES_HEADER))

    @property
    def may_stream(self) -> bool:
        """Ask for a stream: the pool said it streams, or has not said anything yet."""
        known = self.features
        return self.codec.has_executions and (known is None or wire.STREAM_FEATURE in known)

    def parse_execution(self, response: Response, session: str) -> ExecutionResult:
        self.note_features(response)
        self.raise_for_status(response, "execute", session=session)
        return self.codec.parse_execution(response, session)

    def execute(
        self, code: str, session: str, *, timeout: Seconds = None, execution_id: str | None = None
    ) -> Step:
        """Run code synchronously; follow a 202 by polling (never by re-posting)."""
        response = yield self.execute_request(
            code, session, timeout=timeout, execution_id=execution_id
        )
        result = self.parse_execution(response, session)
        if result.finished or not self.codec.has_executions:
            return result
        location = response.header("Operation-Location")
        return (yield from self._poll(result, session, self._timeout(timeout), location))

    def execute_shell(
        self,
        command: str,
        session: str,
        *,
        timeout: Seconds = None,
        execution_id: str | None = None,
    ) -> Step:
        """Run a shell command in a Shell pool's session; the result has ``exit_code``."""
        if not isinstance(command, str):
            raise errors.ConfigurationError("The shell command must be a string.")
        seconds = self._timeout(timeout)
        response = yield self.codec.shell_request(
            command, self._params(session), seconds, execution_id
        )
        result = self.parse_execution(response, session)
        if result.finished:
            return result
        return (yield from self._poll(result, session, seconds))

    def execute_streamed(
        self,
        code: str,
        session: str,
        on_event: Callable[[ExecutionEvent], None],
        *,
        timeout: Seconds = None,
        execution_id: str | None = None,
        stdin: bool = True,
    ) -> Step:
        """Run code, handing each output event to ``on_event`` as the pool sends it.

        ``stdin``: the caller answers ``input_request`` events (``answer_input``), so a
        pool known to take input (feature ``stdin``) is told it may ask; otherwise the
        session's ``input()`` fails at once with the pool's clear message.

        A pool that cannot stream answers as usual (the events then never come; the
        result has them all). The request is sent once; a connection that breaks
        mid-stream is resumed with ``GET /executions/{id}`` after the last event seen.
        """
        if not self.may_stream:
            return (
                yield from self.execute(code, session, timeout=timeout, execution_id=execution_id)
            )
        if execution_id is None and self.features:  # a pool that takes our ids: resumable
            execution_id = str(uuid.uuid4())
        first = self.execute_request(code, session, timeout=timeout, execution_id=execution_id)
        if stdin and wire.STDIN_FEATURE in (self.features or ()):  # never to other pools
            first = replace(first, json={**first.json, "allowStdin": True})
        accept = {"Accept": f"{wire.EVENT_STREAM}, application/json"}
        feed = EventFeed(lambda event: on_event(_execution_event(event)))
        try:
            response = yield replace(first, headers={**first.headers, **accept}, events=feed)
        except errors.PoolTimeoutError:
            raise
        except errors.TransportError:
            if execution_id is None:
                raise  # no id to resume by (a pool not known to take ours)
            response = yield self._resume_request(execution_id, session, feed, first.read_timeout)
        result = self.parse_execution(response, session)
        result.streamed = feed.started
        if result.finished:
            return result
        return (yield from self._poll(result, session, self._timeout(timeout)))

    def _resume_request(
        self, execution_id: str, session: str, feed: EventFeed, read_timeout: float | None
    ) -> Request:
        """The rest of a stream: the transport sends the feed's ``Last-Event-ID``."""
        return replace(
            self._on_execution("GET", execution_id, session, "execution stream"),
            headers={"Accept": wire.EVENT_STREAM},
            events=feed,
            read_timeout=read_timeout,
        )

    def answer_input(self, execution_id: str, value: str, session: str) -> Step:
        """Answer the ``input()`` a streamed execution waits in (an ``input_request`` event)."""
        if not isinstance(value, str):
            raise errors.ConfigurationError("The answer to input() must be a string.")
        request = self._on_execution("POST", execution_id, session, "input")
        response = yield replace(
            request,
            path=f"/executions/{seg(execution_id)}/input",
            json={"value": value},
            idempotent=False,
        )
        self.raise_for_status(response, "input", session=session)

    def start_execution(
        self, code: str, session: str, *, timeout: Seconds = None, execution_id: str | None = None
    ) -> Step:
        self._require_executions("start an asynchronous execution")
        response = yield self.execute_request(
            code, session, timeout=timeout, execution_id=execution_id, asynchronous=True
        )
        return self.parse_execution(response, session)

    def get_execution(self, execution_id: str, session: str) -> Step:
        response = yield self.get_execution_request(execution_id, session)
        return self.parse_execution(response, session)

    def wait_execution(self, execution_id: str, session: str, timeout: Seconds = None) -> Step:
        result = yield from self.get_execution(execution_id, session)
        if result.finished:
            return result
        return (yield from self._poll(result, session, self._timeout(timeout)))

    def _poll(
        self, result: ExecutionResult, session: str, timeout: float, location: str | None = None
    ) -> Step:
        if not result.execution_id:
            raise errors.ServerError(
                "The pool accepted the execution but sent no execution id to poll.", status_code=202
            )
        waited = 0.0
        for attempt in range(10**6):
            delay = POLL_INTERVALS[min(attempt, len(POLL_INTERVALS) - 1)]
            yield Sleep(delay)
            waited += delay
            response = yield self.poll_request(location, result.execution_id, session)
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

    # -------------------------------------------------------------------- files
    def upload_request(self, session: str, name: str, fileobj: Any, path: str = "") -> Request:
        return Request(
            "POST",
            self.codec.upload_path,
            self._file_params(session, path),
            operation="upload",
            upload=("file", clean_name(name), fileobj, "application/octet-stream"),
        )

    def parse_upload(self, response: Response, session: str, name: str, path: str) -> FileInfo:
        self.raise_for_status(response, "upload", session=session, name=name)
        infos = self.codec.parse_file_list(response.body, path)
        return next(
            (i for i in infos if i.name == name), infos[0] if infos else FileInfo(name, path=path)
        )

    def upload(self, session: str, name: str, fileobj: Any, path: str = "") -> Step:
        """Stream ``fileobj`` (read once per try) to ``name`` in the session's folder."""
        response = yield self.upload_request(session, name, fileobj, path)
        return self.parse_upload(response, session, name, path)

    def download_request(
        self, session: str, name: str, path: str = "", *, download: Download | None = None
    ) -> Request:
        return Request(
            "GET",
            self.codec.download_path(clean_name(name)),
            self._file_params(session, path),
            operation="download",
            idempotent=True,
            download=download,
        )

    def download(
        self,
        session: str,
        name: str,
        path: str = "",
        *,
        destination: Any = None,
        progress: Progress | None = None,
    ) -> Step:
        """The file's bytes (``destination`` None) or None once written to ``destination``."""
        target = Download(destination, progress)
        response = yield self.download_request(session, name, path, download=target)
        self.raise_for_status(response, "download", session=session, name=name)
        return response.body

    def file_info_request(self, session: str, name: str, path: str = "") -> Request:
        return self.codec.file_info_request(self._file_params(session, path), clean_name(name))

    def parse_file_info(self, response: Response, session: str, name: str, path: str) -> FileInfo:
        self.raise_for_status(response, "file metadata", session=session, name=name)
        info = self.codec.pick_file(self.codec.parse_file_list(response.body, path), name)
        if info is not None:
            return info
        raise errors.NotFoundError(
            f"No file {name!r} in session {session!r}.",
            status_code=404,
            fix="List the session's files with `%aca_files` (or list_files()).",
        )

    def file_info(self, session: str, name: str, path: str = "") -> Step:
        response = yield self.file_info_request(session, name, path)
        return self.parse_file_info(response, session, name, path)

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
        return self.codec.parse_file_list(response.body, path)

    def list_files(self, session: str, path: str = "") -> Step:
        response = yield self.list_files_request(session, path)
        return self.parse_list_files(response, session, path)

    def delete_file_request(self, session: str, name: str, path: str = "") -> Request:
        return Request(
            "DELETE",
            f"/files/{seg(clean_name(name))}",
            self._file_params(session, path),
            operation="delete file",
            idempotent=True,
        )

    def parse_delete_file(self, response: Response, session: str, name: str) -> None:
        self.raise_for_status(response, "delete file", session=session, name=name)

    def delete_file(self, session: str, name: str, path: str = "") -> Step:
        response = yield self.delete_file_request(session, name, path)
        self.parse_delete_file(response, session, name)

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

    def list_sessions(self) -> Step:
        response = yield self.list_sessions_request()
        return self.parse_list_sessions(response)

    def get_session_request(self, session: str) -> Request:
        return Request(
            "GET", "/session", self._params(session), operation="get session", idempotent=True
        )

    def parse_get_session(self, response: Response, session: str) -> SessionInfo:
        self.raise_for_status(response, "get session", session=session)
        body = response.body if isinstance(response.body, dict) else {}
        body = body.get("properties", body)
        return parse_session({"identifier": session, **body})

    def get_session(self, session: str) -> Step:
        response = yield self.get_session_request(session)
        return self.parse_get_session(response, session)

    def delete_session(self, session: str) -> Step:
        response = yield Request(
            "DELETE", "/session", self._params(session), operation="delete session", idempotent=True
        )
        if response.status_code in (404, 405) and not error_map.error_code(response):
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
        result = yield from self.execute(wire.PACKAGES_SCRIPT, session, timeout=60)
        if not result.ok:
            message = result.error.evalue if result.error else result.stderr.strip()
            raise errors.ExecutionError(f"Listing the session's packages failed: {message}")
        try:
            pairs = wire.parse_packages(result.stdout)
        except (ValueError, TypeError) as exc:
            raise errors.ExecutionError(
                "Listing the session's packages gave unreadable output."
            ) from exc
        return sorted((PackageInfo(n, v) for n, v in pairs), key=lambda p: p.name.lower())

    # ------------------------------------------------------------------- errors
    def raise_for_status(self, response: Response, operation: str, **where: str | None) -> None:
        """Raise the error an answer of 400 or more stands for; nothing below 400.

        ``where``: ``session=`` and ``name=`` (a file), named in the message and the fix.
        """
        if response.status_code >= 400:
            raise self.error_for(response, operation, **where)

    def error_for(
        self, response: Response, operation: str, **where: str | None
    ) -> errors.PoolHTTPError:
        return error_map.error_for(
            response, operation, auth_mode=self.auth_mode, pool_name=self.pool_name, **where
        )


def _execution_event(event: Any) -> ExecutionEvent:
    """A parsed server-sent event as the client's :class:`ExecutionEvent`."""
    try:
        content = event.json()
    except ValueError:
        content = {"text": event.data}
    return ExecutionEvent(event.event, content if isinstance(content, dict) else {}, event.id)
