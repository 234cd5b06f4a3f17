"""The HTTP face of the local pool: Azure's session-pool routes, both generations.

One handler per route. Handlers parse and check the request, call the
:class:`~remote_kernel.server.pool.SessionPool`, and build the answer with
:mod:`remote_kernel.server.shapes`. Every answer carries ``x-ms-request-id``;
every error is Azure's ``{"error": {"code", "message"}}`` with the code also
in ``x-ms-error-code``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remote_kernel import wire
from remote_kernel.config import (
    GEN1_API_VERSIONS,
    GEN2_API_VERSIONS,
    MAX_EXECUTION_TIMEOUT,
    is_generation1,
)
from remote_kernel.identifiers import identifier_rule, is_valid_identifier
from remote_kernel.server import files, session_types, shapes, streaming
from remote_kernel.server.api_errors import ApiError, error_body
from remote_kernel.server.metadata import pool_metadata
from remote_kernel.server.openapi import openapi_document
from remote_kernel.server.pool import (
    DEFAULT_MAX_OUTPUT_CHARS,
    DEFAULT_TIMEOUT,
    Execution,
    SessionPool,
)
from remote_kernel.server.versions import shape_for

if TYPE_CHECKING:
    from remote_kernel.server.mcp_tools import ToolRuntimes

log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 128 * 1024 * 1024
#: Largest JSON request body (code plus options). Read whole into memory, so bounded:
#: a 200 MB body used to be buffered (and run) in full.
MAX_JSON_BYTES = 16 * 1024 * 1024
#: Execution ids (``operation-id`` header, or our ``id`` body field): URL-path safe.
_EXECUTION_ID = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
#: An Asynchronous run finished within this many seconds is answered finished.
ASYNC_GRACE = 0.5
_VERSIONS = ", ".join(sorted(GEN1_API_VERSIONS | GEN2_API_VERSIONS))
#: Routes anyone may read without the token: the API description holds no secret.
_PUBLIC_PATHS = frozenset({"/openapi.json"})


# -- request helpers ---------------------------------------------------------------------


def _pool(request: Request) -> SessionPool:
    return request.app.state.pool  # type: ignore[no-any-return]


def generation(request: Request) -> int:
    """1 or 2, from ``api-version``; 400 when it is missing or unknown."""
    version = request.query_params.get("api-version")
    if not version:
        raise ApiError(
            400, "MissingApiVersion", f"Add the query parameter api-version (one of {_VERSIONS})."
        )
    if version not in GEN1_API_VERSIONS | GEN2_API_VERSIONS:
        raise ApiError(
            400,
            "UnsupportedApiVersion",
            f"api-version {version!r} is not supported; use one of {_VERSIONS}.",
        )
    return 1 if is_generation1(version) else 2


def identifier(request: Request) -> str:
    """The session ``identifier`` query parameter, checked against its api-version's rule."""
    ident = request.query_params.get("identifier")
    if not ident:
        raise ApiError(400, "MissingIdentifier", "Add the query parameter identifier=<session>.")
    version = request.query_params.get("api-version")
    if not is_valid_identifier(ident, version):
        raise ApiError(
            400, "InvalidIdentifier", f"Invalid identifier {ident!r}. {identifier_rule(version)}"
        )
    return ident


def _session_params(request: Request) -> tuple[int, str]:
    return generation(request), identifier(request)


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The body, or 413 once it passes ``limit``: never more than that is kept in memory.

    Up to ``files.DRAIN_EXTRA`` more is read and dropped, so the client is still
    listening when the 413 comes (as for uploads).
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit + files.DRAIN_EXTRA:
            break
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise ApiError(
            413,
            "RequestBodyTooLarge",
            f"The request body is larger than {limit} bytes; send large data as a file upload.",
        )
    return b"".join(chunks)


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await _bounded_body(request, MAX_JSON_BYTES)
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "InvalidRequestBody", "The request body is not valid JSON.") from None
    except RecursionError:
        raise ApiError(
            400, "InvalidRequestBody", "The request body's JSON is nested too deeply."
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidRequestBody", "The request body must be a JSON object.")
    return body


def _invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidRequestBody", message)


def _code(request: Request, body: dict[str, Any]) -> str:
    """The source to run, in the field this pool's session type takes (see session_types),
    decoded as its ``codeInputType`` says."""
    kind = body.get("codeInputType", "Inline")
    if not isinstance(kind, str) or kind.lower() not in ("inline", "inlinetext", "inlinebase64"):
        raise _invalid("codeInputType must be 'Inline', 'InlineText' or 'InlineBase64'.")
    source = session_types.source(request.app.state.session_type, body)
    return _decode_base64(source) if kind.lower() == "inlinebase64" else source


def _decode_base64(code: str) -> str:
    """``InlineBase64``: the source is base64 of its UTF-8 bytes."""
    try:
        return base64.b64decode(code, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise _invalid(
            "codeInputType is 'InlineBase64' but 'code' is not base64 of UTF-8 text."
        ) from None


def _timeout(body: dict[str, Any]) -> float:
    value = body.get("timeoutInSeconds")
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise _invalid(
            f"timeoutInSeconds must be a positive number (at most {MAX_EXECUTION_TIMEOUT:g})."
        )
    return min(float(value), MAX_EXECUTION_TIMEOUT)


def _max_output(body: dict[str, Any], default: int = DEFAULT_MAX_OUTPUT_CHARS) -> int:
    value = body.get("outputStreamsMaxLength")
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _invalid("outputStreamsMaxLength must be a non-negative integer.")
    return value


def _execution_type(body: dict[str, Any]) -> str:
    value = body.get("executionType", "Synchronous")
    if not isinstance(value, str) or value.lower() not in ("synchronous", "asynchronous"):
        raise _invalid("executionType must be 'Synchronous' or 'Asynchronous'.")
    return value[0].upper() + value[1:].lower()


def _execution_id(request: Request, body: dict[str, Any]) -> str | None:
    """The ``operation-id`` request header (Azure's), or our ``id`` body field; one id."""
    header = request.headers.get("operation-id")
    value = body.get("id")
    for name, given in (("operation-id header", header), ("'id'", value)):
        if given is not None and (not isinstance(given, str) or not _EXECUTION_ID.fullmatch(given)):
            raise _invalid(f"The {name} must be 1-128 letters, digits or '-', '.', '_', '~'.")
    if header is not None and value is not None and header != value:
        raise _invalid(f"The operation-id header {header!r} and 'id' {value!r} differ.")
    return header if header is not None else value


def _operation_location(request: Request, execution: Execution) -> str:
    query = urlencode(
        {"api-version": request.query_params["api-version"], "identifier": execution.identifier}
    )
    return f"{str(request.base_url).rstrip('/')}/executions/{execution.id}?{query}"


def _execution_headers(
    request: Request, execution: Execution, received: float, *, location: bool = True
) -> dict[str, str]:
    """What the real service sends with an execution answer (issue 15 item 13).

    ``operation-id`` and ``Operation-Location`` are in Azure's documents; the session
    guid and the timings are in Azure's samples (``X-Ms-Session-Guid``,
    ``X-Ms-Container-Execution-Duration``, ``X-Ms-Execution-Request-Time``,
    ``X-Ms-Overall-Execution-Time``); timings only once the run has finished.
    """
    headers = {"operation-id": execution.id}
    if location:
        headers["Operation-Location"] = _operation_location(request, execution)
    session = _pool(request).get(execution.identifier)
    if session is not None:
        headers["x-ms-session-guid"] = str(uuid.UUID(hex=session.etag))
    if execution.outcome is not None:
        elapsed = time.monotonic() - received
        headers["x-ms-container-execution-duration"] = str(round(execution.outcome.duration_ms))
        headers["x-ms-execution-request-time"] = f"{elapsed * 1000:.6f}"
        headers["x-ms-overall-execution-time"] = f"{elapsed:.9f}s"
    return headers


def _known_execution(request: Request) -> tuple[str, Execution]:
    generation(request)
    ident = identifier(request)
    execution_id = request.path_params["execution_id"]
    execution = _pool(request).find_execution(ident, execution_id)
    if execution is None:
        raise ApiError(
            404, "ExecutionNotFound", f"No execution {execution_id!r} in session {ident!r}."
        )
    return ident, execution


# -- executions --------------------------------------------------------------------------


async def execute_gen1(request: Request) -> Response:
    """``POST /code/execute``: synchronous, answered in the generation-1 shape."""
    received = time.monotonic()
    _, ident = _session_params(request)
    body = await _json_object(request)
    props = body.get("properties")
    props = props if isinstance(props, dict) else body
    execution = await _pool(request).submit(
        ident, _code(request, props), timeout=_timeout(props), max_output_chars=_max_output(props)
    )
    await execution.done.wait()
    assert execution.outcome is not None
    return JSONResponse(
        shapes.gen1_execution(
            execution.outcome,
            session_created=execution.session_created,
            limit=execution.max_output_chars,
        ),
        headers=_execution_headers(request, execution, received, location=False),
    )


def _gen2_body(request: Request, execution: Execution) -> dict[str, Any]:
    """``/executions`` answer in its api-version's shape; a shell pool's carries the exit
    code (session_types)."""
    shape = shape_for(request.query_params.get("api-version"))
    body = shapes.gen2_execution(execution, none_is_null=shape.none_is_null)
    if request.app.state.session_type == session_types.SHELL:
        return session_types.shell_answer(body, execution.outcome)
    return body


async def execute_gen2(request: Request) -> Response:
    """``POST /executions``: the status code its api-version's document and samples give.

    Synchronous waits for the result. Asynchronous waits at most
    :data:`ASYNC_GRACE` seconds, so a quick run is answered finished (examples
    ``CodeExecution_Execute_Async_Completed``) and a longer one ``Running`` (poll
    ``Operation-Location``). Both carry ``operation-id`` and ``Operation-Location``.
    """
    received = time.monotonic()
    _, ident = _session_params(request)
    shape = shape_for(request.query_params.get("api-version"))
    body = await _json_object(request)
    execution = await _pool(request).submit(
        ident,
        _code(request, body),
        timeout=_timeout(body),
        max_output_chars=_max_output(body, shape.default_stream_max),
        execution_id=_execution_id(request, body),
        execution_type=_execution_type(body),
        stream=streaming.wants_stream(request.headers.get("accept")),
        allow_stdin=body.get("allowStdin") is True,
    )
    if execution.events is not None:
        return _event_stream(request, execution)
    if execution.execution_type != "Asynchronous":
        await execution.done.wait()
    else:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(execution.done.wait()), ASYNC_GRACE)
    return JSONResponse(
        _gen2_body(request, execution),
        status_code=shape.execute_status,
        headers=_execution_headers(request, execution, received),
    )


async def get_execution(request: Request) -> Response:
    _, execution = _known_execution(request)
    if streaming.wants_stream(request.headers.get("accept")):
        return _event_stream(request, execution)
    return JSONResponse(_gen2_body(request, execution))


def _event_stream(request: Request, execution: Execution) -> Response:
    """Extension: the execution's events as server-sent events, last its final body.

    The run is the pool's task: a reader that goes away neither cancels nor stalls it.
    """

    def final_body() -> bytes:
        return bytes(JSONResponse(_gen2_body(request, execution)).body)

    events = streaming.sse_stream(
        execution.events,
        execution.done,
        final_body,
        last_event_id=streaming.parse_last_event_id(request.headers.get("last-event-id")),
        heartbeat=getattr(request.app.state, "heartbeat", streaming.HEARTBEAT_SECONDS),
    )
    return StreamingResponse(
        events,
        media_type=wire.EVENT_STREAM,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def answer_input(request: Request) -> Response:
    """Extension: ``{"value": str}`` answers the ``input()`` a streamed execution waits in."""
    ident, execution = _known_execution(request)
    body = await _json_object(request)
    value = body.get("value")
    if not isinstance(value, str):
        raise _invalid("'value' must be a string: the answer to input().")
    await _pool(request).answer_input(ident, execution.id, value)
    return Response(status_code=204)


async def cancel_execution(request: Request) -> Response:
    """Extension: interrupt a running execution or drop a queued one (202), once finished."""
    ident, execution = _known_execution(request)
    already_done = execution.outcome is not None
    await _pool(request).cancel(ident, execution.id)
    return JSONResponse(_gen2_body(request, execution), status_code=200 if already_done else 202)


# -- files -------------------------------------------------------------------------------


async def upload_file(request: Request) -> Response:
    """``POST /files/upload`` (gen 1) and ``POST /files`` (gen 2): multipart field ``file``."""
    gen, ident = _session_params(request)
    path = request.query_params.get("path")
    async with _pool(request).using(ident) as (session, _):
        stored = await files.receive_upload(
            request, session.directory, path, request.app.state.max_upload_bytes
        )
        if gen == 1:
            return JSONResponse(shapes.upload_answer(stored, gen))
        folder = files.resolve_dir(session.directory, path)
        entries = [files.entry(p, folder, session.directory) for p in stored]
    return JSONResponse(entries[0] if len(entries) == 1 else entries)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise ApiError(400, "InvalidQueryParameter", f"{name} must be true or false.")
    return value == "true"


def _page(request: Request, items: list[Any]) -> tuple[list[Any], str | None]:
    """One page of ``items`` (``skip``, ``maxpagesize``) and the link to the next, if any."""
    params = request.query_params
    offset, size = files.page_bounds(params.get("skip"), params.get("maxpagesize"))
    if offset + size >= len(items):
        return items[offset:], None
    query = urlencode({**dict(params), "skip": str(offset + size)})
    return items[offset : offset + size], f"{str(request.url).split('?')[0]}?{query}"


async def list_files(request: Request) -> Response:
    """``GET /files``: generation 2 adds folders, ``recursive=true``, ``directory``, paging."""
    gen, ident = _session_params(request)
    recursive = _flag(request, "recursive")
    async with _pool(request).using(ident) as (session, _):
        area = session.directory
        folder = files.resolve_dir(area, request.query_params.get("path"))
        if gen == 1:
            return JSONResponse(shapes.file_list(files.list_dir(folder, area), gen))
        entries, next_link = _page(request, files.walk(folder, area, recursive))
        body: dict[str, Any] = {"value": [files.entry(p, folder, area) for p in entries]}
    if next_link is not None:
        body["nextLink"] = next_link
    return JSONResponse(body)


def _target(request: Request, session_dir: Path) -> Path:
    name = request.path_params["name"]
    target = files.resolve_file(session_dir, request.query_params.get("path"), name)
    return files.existing(target, name)


async def file_metadata(request: Request) -> Response:
    """``GET /files/{name}`` (gen 2)."""
    gen, ident = _session_params(request)
    async with _pool(request).using(ident) as (session, _):
        target = _target(request, session.directory)
        if gen == 1:
            return JSONResponse(shapes.file_entry(target, gen))
        folder = files.resolve_dir(session.directory, request.query_params.get("path"))
        return JSONResponse(files.entry(target, folder, session.directory))


async def download_file(request: Request) -> Response:
    """``GET /files/content/{name}`` (gen 1) and ``GET /files/{name}/content`` (gen 2)."""
    _, ident = _session_params(request)
    async with _pool(request).using(ident) as (session, _):
        target = _target(request, session.directory)
        if target.is_dir():
            raise ApiError(400, "IsADirectory", f"{request.path_params['name']!r} is a folder.")
        return FileResponse(target, media_type=files.content_type(target))


async def delete_file(request: Request) -> Response:
    _, ident = _session_params(request)
    async with _pool(request).using(ident) as (session, _):
        name = request.path_params["name"]
        target = files.resolve_file(session.directory, request.query_params.get("path"), name)
        files.remove(target, name)
    return Response(status_code=204)


# -- sessions ----------------------------------------------------------------------------


def _session_entries(request: Request) -> list[dict[str, Any]]:
    generation(request)
    pool = _pool(request)
    return [shapes.session_entry(s, pool.cooldown) for s in pool.sessions()]


async def list_sessions(request: Request) -> Response:
    """``GET /listSessions``: pages by ``skip``; ``nextLink`` only when more follow."""
    sessions, next_link = _page(request, _session_entries(request))
    body: dict[str, Any] = {"sessions": sessions}
    if next_link is not None:
        body["nextLink"] = next_link
    return JSONResponse(body)


async def list_sessions_management(request: Request) -> Response:
    sessions, next_link = _page(request, _session_entries(request))
    return JSONResponse({"value": sessions, "nextLink": next_link})


async def get_metadata(request: Request) -> Response:
    """``GET /metadata`` (``SessionPoolMetadata_Get``): the sessions' runtime and packages."""
    generation(request)
    return JSONResponse(await pool_metadata(request.app.state, _pool(request)))


async def get_session(request: Request) -> Response:
    _, ident = _session_params(request)
    pool = _pool(request)
    session = pool.get(ident)
    if session is None:
        raise ApiError(404, "SessionNotFound", f"No live session {ident!r} in this pool.")
    return JSONResponse(shapes.session_entry(session, pool.cooldown))


async def delete_session(request: Request) -> Response:
    """``DELETE /session`` and ``POST /.management/stopSession``: runtime and files go."""
    _, ident = _session_params(request)
    if not await _pool(request).delete(ident):
        raise ApiError(404, "SessionNotFound", f"No live session {ident!r} in this pool.")
    return Response(status_code=204)


async def list_packages(request: Request) -> Response:
    """Extension: the distributions installed in the session's interpreter."""
    _, ident = _session_params(request)
    return JSONResponse({"value": await _pool(request).packages(ident)})


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


ROUTES = [
    Route("/code/execute", execute_gen1, methods=["POST"]),
    Route("/executions", execute_gen2, methods=["POST"]),
    Route("/executions/{execution_id}", get_execution, methods=["GET"]),
    Route("/executions/{execution_id}/cancel", cancel_execution, methods=["POST"]),
    Route("/executions/{execution_id}/input", answer_input, methods=["POST"]),
    Route("/files/upload", upload_file, methods=["POST"]),
    Route("/files", upload_file, methods=["POST"], name="upload_gen2"),
    Route("/files", list_files, methods=["GET"]),
    Route("/files/content/{name:path}", download_file, methods=["GET"]),
    Route("/files/{name:path}/content", download_file, methods=["GET"], name="download_gen2"),
    Route("/files/{name:path}", file_metadata, methods=["GET"]),
    Route("/files/{name:path}", delete_file, methods=["DELETE"]),
    Route("/listSessions", list_sessions, methods=["GET"]),
    Route("/.management/listSessions", list_sessions_management, methods=["GET"]),
    Route("/metadata", get_metadata, methods=["GET"]),
    Route("/session", get_session, methods=["GET"]),
    Route("/session", delete_session, methods=["DELETE"], name="delete_session"),
    Route("/.management/stopSession", delete_session, methods=["POST"], name="stop_session"),
    Route("/packages", list_packages, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]


# -- errors and middleware ---------------------------------------------------------------


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        error_body(code, message),
        status_code=status,
        headers={"x-ms-error-code": code, **(headers or {})},
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(exc.status, exc.code, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _error(404, "NotFound", f"No route {request.method} {request.url.path}.")
    if exc.status_code == 405:
        return _error(
            405, "MethodNotAllowed", f"{request.method} is not allowed on {request.url.path}."
        )
    return _error(exc.status_code, "HttpError", str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    request_id = request.scope.get("state", {}).get("request_id", "")
    return _error(
        500, "InternalServerError", f"The local pool failed (request id {request_id}): {exc}"
    )


class PoolMiddleware:
    """Request ids and the extensions this pool speaks (``features``: see
    docs/protocol-extensions.md) on every answer, and the bearer-token check (constant time)."""

    def __init__(self, app: ASGIApp, token: str | None, features: tuple[str, ...]) -> None:
        self.app = app
        self._token = token.encode() if token else None
        self._features = (wire.FEATURES_HEADER.encode(), ", ".join(features).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-ms-request-id", request_id.encode())
        features = self._features

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header, features]
            await send(message)

        if self._token is not None and scope["path"] not in _PUBLIC_PATHS:
            if not self._authorized(scope):
                await _unauthorized()(scope, receive, send_with_id)
                return
        await self.app(scope, receive, send_with_id)

    def _authorized(self, scope: Scope) -> bool:
        assert self._token is not None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    credentials.strip(), self._token
                )
        return False


def _unauthorized() -> Response:
    return _error(
        401,
        "Unauthorized",
        "Missing or wrong bearer token: send 'Authorization: Bearer <token>' with the token "
        "this pool was started with (--token or ACA_POOL_TOKEN).",
        {"WWW-Authenticate": "Bearer"},
    )


def create_app(
    pool: SessionPool,
    *,
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    mcp_api_key: str | None = None,
    session_type: str = session_types.PYTHON,
    mcp_runtimes: ToolRuntimes | None = None,
) -> ASGIApp:
    """The ASGI app serving ``pool``; its lifespan starts and closes the pool.

    ``mcp_api_key`` also serves the pool's MCP server at ``/mcp`` (its own key, in
    ``x-ms-apikey``, as on Azure; see :mod:`remote_kernel.server.mcp`), its tools
    running where ``mcp_runtimes`` says (default: a Python pool's).
    ``session_type`` (python, javascript, shell) decides which request bodies it takes.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await pool.start()
        try:
            yield
        finally:
            await pool.close()

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        ApiError: _api_error,
        HTTPException: _http_error,
        Exception: _server_error,
    }
    app = Starlette(routes=ROUTES, exception_handlers=handlers, lifespan=lifespan)
    app.state.pool = pool
    app.state.max_upload_bytes = max_upload_bytes
    app.state.session_type = session_type
    served = PoolMiddleware(app, token, session_types.FEATURES[session_type])
    if mcp_api_key:
        from remote_kernel.server.mcp import with_mcp

        return with_mcp(served, pool, mcp_api_key, mcp_runtimes)
    return served
