"""The OpenAPI 3 description served at ``GET /openapi.json``.

Written as a table (method, path, summary, parameters, answers) so adding a
route is one line; the test checks it names every route the app serves.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from remote_kernel import __version__, wire
from remote_kernel.config import GEN1_API_VERSIONS, GEN2_API_VERSIONS
from remote_kernel.identifiers import IDENTIFIER_RE

_VERSION = {
    "name": "api-version",
    "in": "query",
    "required": True,
    "description": "Generation 1: 2024-02-02-preview, 2024-08-02-preview. "
    "Generation 2: 2024-10-02-preview, 2025-02-02-preview, 2025-10-02-preview.",
    "schema": {"type": "string", "enum": sorted(GEN1_API_VERSIONS | GEN2_API_VERSIONS)},
}
_IDENTIFIER = {
    "name": "identifier",
    "in": "query",
    "required": True,
    "description": "Session identifier: 4-128 letters, digits and | - & ^ % $ # ( ) { } [ ] ; < >. "
    "A new identifier creates the session.",
    "schema": {"type": "string", "pattern": IDENTIFIER_RE.pattern},
}
_PATH = {
    "name": "path",
    "in": "query",
    "required": False,
    "description": "Sub-folder of /mnt/data (relative, or starting with /mnt/data).",
    "schema": {"type": "string"},
}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_RECURSIVE = {"name": "recursive", "in": "query", "required": False, "schema": {"type": "boolean"}}
_PAGING = [
    {"name": "skip", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
    {"name": "maxpagesize", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1},
     "description": "Extension: entries per page (default 1000); nextLink follows."},
]  # fmt: skip
_EXEC_ID = {"name": "execution_id", "in": "path", "required": True, "schema": {"type": "string"}}
_LAST_EVENT_ID = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "schema": {"type": "integer"},
    "description": "Extension: resume a streamed execution after this event id.",
}

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_EXECUTION_ID_PATTERN = "^[A-Za-z0-9._~-]{1,128}$"
_OPERATION_ID = {
    "name": "operation-id",
    "in": "header",
    "required": False,
    "description": "Azure's: the execution id to use (then GET /executions/{that id}).",
    "schema": {"type": "string", "pattern": _EXECUTION_ID_PATTERN},
}
_EXECUTE_BODY = {
    "type": "object",
    "required": ["code"],
    "properties": {
        "codeInputType": {
            "type": "string",
            "enum": ["Inline", "InlineText", "InlineBase64"],
            "description": "InlineBase64: code is base64 of UTF-8 text. Case is ignored.",
        },
        "code": {"type": "string"},
        "executionType": {"type": "string", "enum": ["Synchronous", "Asynchronous"]},
        "timeoutInSeconds": {
            "type": "number",
            "maximum": 220,
            "description": "Default 220 (the longest Azure allows); larger values are capped.",
        },
        "outputStreamsMaxLength": {
            "type": "integer",
            "description": "At most this many characters per stream (the cut notice is "
            "only in result.outputs); default 4096 on 2025-10-02-preview, else 1,000,000.",
        },
        "id": {
            "type": "string",
            "pattern": _EXECUTION_ID_PATTERN,
            "description": "Extension: client-chosen execution id, as the operation-id header "
            "(lets a client cancel a synchronous run it is waiting for).",
        },
        "allowStdin": {
            "type": "boolean",
            "description": "Extension, streamed requests only (default false): true lets input() "
            "send an input_request event, answered by POST /executions/{id}/input; otherwise "
            "input() fails at once, saying it needs a streaming front-end.",
        },
    },
}
_UPLOAD_BODY = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        }
    }
}

# -- what success answers hold (checked against real answers by tests/reliability) --------

_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_NULLABLE_OBJECT = {"type": "object", "nullable": True}
_NUMBER_TEXT = {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?s?$"}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


_RESULT_FIELDS = {
    "stdout": _STR,
    "stderr": _STR,
    "executionTimeInMilliseconds": _INT,
    wire.OUTPUTS: {"type": "array", "items": {"type": "object"}},
    wire.ERROR: _NULLABLE_OBJECT,
    wire.TRUNCATED: _BOOL,
    wire.SESSION_CREATED: _BOOL,
    wire.TIMED_OUT_FLAG: _BOOL,
    wire.STATE_LOST: _BOOL,
}
_GEN2_EXECUTION = _obj(
    ["id", "identifier", "executionType", "status"],
    id=_STR,
    identifier=_STR,
    executionType={"type": "string", "enum": ["Synchronous", "Asynchronous"]},
    status={
        "type": "string",
        "enum": [wire.NOT_STARTED, wire.RUNNING, wire.SUCCEEDED, wire.FAILED, wire.CANCELLED],
    },
    error=_obj(["error"], error=_obj(["code", "message"], code=_STR, message=_STR)),
    result=_obj(["stdout", "stderr", "executionResult"], **_RESULT_FIELDS, executionResult={}),
    rawResult={"type": "object"},
)
#: Headers of an execution answer (Azure's documents and samples).
_EXECUTION_HEADERS = {
    "operation-id": {"schema": _STR, "description": "The execution id."},
    "Operation-Location": {"schema": _STR, "description": "Where to poll it."},
    "x-ms-session-guid": {"schema": _STR, "description": "The session's instance (a GUID)."},
    "x-ms-container-execution-duration": {"schema": _NUMBER_TEXT, "description": "ms"},
    "x-ms-execution-request-time": {"schema": _NUMBER_TEXT, "description": "ms"},
    "x-ms-overall-execution-time": {"schema": _NUMBER_TEXT, "description": "seconds, as '1.5s'"},
}
_GEN1_EXECUTION = _obj(
    ["properties"],
    properties=_obj(
        ["status", "stdout", "stderr", "result"],
        status={"type": "string", "enum": [wire.GEN1_SUCCESS, wire.GEN1_FAILURE]},
        result={},
        **_RESULT_FIELDS,
    ),
)
_GEN1_FILE = _obj(
    ["properties"],
    properties=_obj(["filename", "size", "lastModifiedTime"], filename=_STR, size=_INT,
                    lastModifiedTime=_STR),
)  # fmt: skip
_GEN2_FILE = _obj(
    ["name", "sizeInBytes", "lastModifiedAt", "type"],
    name=_STR,
    sizeInBytes=_INT,
    lastModifiedAt=_STR,
    contentType=_STR,
    type={"type": "string", "enum": ["File", "Directory"]},
    directory=_STR,
)
_ANY_FILE = {"anyOf": [_GEN1_FILE, _GEN2_FILE]}
_UPLOADED = {"anyOf": [
    _obj(["value"], value={"type": "array", "items": _GEN1_FILE}),  # generation 1
    _GEN2_FILE,  # generation 2, one file
    {"type": "array", "items": _GEN2_FILE},  # generation 2, several
]}  # fmt: skip
_FILE_LIST = _obj(["value"], value={"type": "array", "items": _ANY_FILE}, nextLink=_STR)
_SESSION = _obj(
    ["identifier", "createdAt", "lastAccessedAt", "expireAt", "etag"],
    identifier=_STR, createdAt=_STR, lastAccessedAt=_STR, expireAt=_STR, etag=_STR,
)  # fmt: skip


def _json(schema: dict[str, Any], description: str = "Success") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_EVENTS = {
    "schema": {"type": "string"},
    "description": "Extension (docs/protocol-extensions.md), when the request sends "
    "'Accept: text/event-stream': the execution's events as server-sent events, each with an "
    "id (first 'session' {sessionCreated: true} when the request created the session; stream, "
    "display_data, update_display_data, clear_output, execute_result, error, input_request; "
    "data: the Jupyter message content as JSON; gap: {dropped} when a resume "
    "asks for events no longer held), ': heartbeat' comments, and last a 'result' event "
    "whose data is the application/json body.",
}


def _json_or_events(schema: dict[str, Any], description: str = "Success") -> dict[str, Any]:
    answer = _json(schema, description)
    answer["content"]["text/event-stream"] = _EVENTS
    return answer


_BINARY = {
    "description": "The file's bytes",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}
#: (method, path) -> {status: response}; routes not named here answer as in the table below.
_ANSWERS: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/code/execute"): {"200": _json(_GEN1_EXECUTION)},
    ("post", "/executions"): {
        "200": {**_json_or_events(_GEN2_EXECUTION, "2025-10-02-preview (its document and "
                                  "examples); any version when streamed"),
                "headers": _EXECUTION_HEADERS},
        "202": {**_json(_GEN2_EXECUTION, "2024-10-02-preview, 2025-02-02-preview (their "
                        "examples): finished, or still running (poll Operation-Location)"),
                "headers": _EXECUTION_HEADERS},
    },
    ("get", "/executions/{execution_id}"): {"200": _json_or_events(_GEN2_EXECUTION)},
    ("post", "/executions/{execution_id}/cancel"): {
        "200": _json(_GEN2_EXECUTION, "It had already finished"),
        "202": _json(_GEN2_EXECUTION, "Interrupted or dropped"),
    },
    # Upload answers follow the api-version's generation, whichever route was used.
    ("post", "/files/upload"): {"200": _json(_UPLOADED)},
    ("post", "/files"): {"200": _json(_UPLOADED)},
    ("get", "/files"): {"200": _json(_FILE_LIST)},
    ("get", "/files/content/{name}"): {"200": _BINARY},
    ("get", "/files/{name}/content"): {"200": _BINARY},
    ("get", "/files/{name}"): {"200": _json(_ANY_FILE)},
    ("get", "/listSessions"): {"200": _json(_obj(["sessions"], sessions={"type": "array",
                                                                           "items": _SESSION},
                                                 nextLink=_STR))},
    ("get", "/metadata"): {"200": _json(_obj(
        ["runtimes", "preInstalledPackages", "createdAt", "lastUpdatedAt", "jupyterKernel"],
        runtimes={"type": "array", "items": _obj(["name", "version"], name=_STR, version=_STR)},
        preInstalledPackages={"type": "array",
                              "items": _obj(["name", "version"], name=_STR, version=_STR)},
        createdAt=_STR, lastUpdatedAt=_STR,
        jupyterKernel=_obj(["name", "version", "projectUrl", "description"], name=_STR,
                           version=_STR, projectUrl=_STR, description=_STR)))},
    ("get", "/.management/listSessions"): {"200": _json(_obj(
        ["value"], value={"type": "array", "items": _SESSION},
        nextLink={"type": "string", "nullable": True}))},
    ("get", "/session"): {"200": _json(_SESSION)},
    ("get", "/packages"): {"200": _json(_obj(["value"], value={"type": "array", "items": _obj(
        ["name", "version"], name=_STR, version=_STR)}))},
}  # fmt: skip

#: (method, path, summary, extra parameters, needs identifier, success status, body)
_ROUTES: list[tuple[str, str, str, list[dict[str, Any]], bool, str, dict[str, Any] | None]] = [
    ("post", "/code/execute", "Run code (generation 1 shape: properties.status Success/Failure).", [], True, "200",
     {"content": {"application/json": {"schema": {"type": "object", "properties": {"properties": _EXECUTE_BODY}}}}}),
    ("post", "/executions", "Run code (generation 2): 202 (200 on 2025-10-02-preview) with operation-id and "
     "Operation-Location; Asynchronous may answer still running.", [_OPERATION_ID], True, "202",
     {"content": {"application/json": {"schema": _EXECUTE_BODY}}}),
    ("get", "/executions/{execution_id}", "One execution's status and result (streamed with "
     "'Accept: text/event-stream', resumed after 'Last-Event-ID').", [_EXEC_ID, _LAST_EVENT_ID], True, "200", None),
    ("post", "/executions/{execution_id}/cancel",
     "Extension: interrupt a running execution or drop a queued one (202 once finished).",
     [_EXEC_ID], True, "202", None),
    ("post", "/executions/{execution_id}/input",
     "Extension: answer the input() a streamed execution waits in ({value}); 204, or 409 "
     "NotWaitingForInput.", [_EXEC_ID], True, "204",
     {"content": {"application/json": {"schema": _obj(["value"], value=_STR)}}}),
    ("post", "/files/upload", "Upload (generation 1): {value: [{properties: {filename, size, lastModifiedTime}}]}.",
     [_PATH], True, "200", _UPLOAD_BODY),
    ("post", "/files", "Upload (generation 2): {name, sizeInBytes, lastModifiedAt, contentType, type}. 413 past the limit.",
     [_PATH], True, "200", _UPLOAD_BODY),
    ("get", "/files", "List a folder of the session's file area (recursive=true: every level).",
     [_PATH, _RECURSIVE, *_PAGING], True, "200", None),
    ("get", "/files/content/{name}", "Download (generation 1).", [_NAME, _PATH], True, "200", None),
    ("get", "/files/{name}/content", "Download (generation 2).", [_NAME, _PATH], True, "200", None),
    ("get", "/files/{name}", "One file's metadata (generation 2).", [_NAME, _PATH], True, "200", None),
    ("delete", "/files/{name}", "Delete a file (or folder).", [_NAME, _PATH], True, "204", None),
    ("get", "/listSessions", "Live sessions: {sessions: [{identifier, createdAt, lastAccessedAt, expireAt, etag}]}.",
     _PAGING, False, "200", None),
    ("get", "/.management/listSessions", "Live sessions, paged: {value, nextLink}.", _PAGING, False, "200", None),
    ("get", "/metadata", "The sessions' runtime, pre-installed packages and kernel.", [], False, "200", None),
    ("get", "/session", "One live session (404 when unknown or expired).", [], True, "200", None),
    ("delete", "/session", "Delete a session: its interpreter and its files.", [], True, "204", None),
    ("post", "/.management/stopSession", "Stop a session (same as DELETE /session).", [], True, "204", None),
    ("get", "/packages", "Extension: {value: [{name, version}]} installed in the session's interpreter.",
     [], True, "200", None),
]  # fmt: skip


def _operation(
    summary: str,
    params: list[dict[str, Any]],
    needs_identifier: bool,
    status: str,
    body: dict[str, Any] | None,
) -> dict[str, Any]:
    parameters = [_VERSION, *([_IDENTIFIER] if needs_identifier else []), *params]
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": parameters,
        "responses": {
            status: {"description": "Success"},
            "default": {
                "description": "Azure error body; code also in x-ms-error-code.",
                "content": {"application/json": {"schema": _ERROR}},
            },
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, **body}
    return op


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, params, needs_id, status, body in _ROUTES:
        op = _operation(summary, params, needs_id, status, body)
        answers = _ANSWERS.get((method, path))
        if answers:
            op["responses"] = {**answers, "default": op["responses"]["default"]}
        paths.setdefault(path, {})[method] = op
    paths["/openapi.json"] = {
        "get": {
            "summary": "This document (no token needed).",
            "responses": {"200": {"description": "OpenAPI 3 document"}},
        }
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "remote_kernel local session pool",
            "version": __version__,
            "description": "Azure Container Apps dynamic sessions API (both generations) served "
            "by local IPython kernels, plus the extensions of docs/protocol-extensions.md. "
            "With a token, every route but this one needs 'Authorization: Bearer <token>'. "
            "Every answer carries 'x-remote-kernel-features' (e.g. 'stream, cancel'): the "
            "extensions this pool speaks.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _ERROR},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
