"""The pool's MCP endpoint as plain data: JSON-RPC 2.0 messages in, answers out (sans-I/O).

Azure session pools with ``mcpServerSettings.isMCPServerEnabled`` serve three tools
over MCP (protocol version 2025-03-26, JSON-RPC over HTTP). This module knows the
wire format only: it parses a request body into calls, checks tool arguments
against the tools' input schemas, and builds results and JSON-RPC errors. It does
no I/O and runs no code, so every shape is testable with plain data;
:mod:`remote_kernel.server.mcp` is the HTTP shell and
:mod:`remote_kernel.server.mcp_tools` runs the tools in the pool's sessions.

What Azure's documents leave open and what was chosen is in ``docs/mcp.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from remote_kernel import __version__

PROTOCOL_VERSION = "2025-03-26"
SERVER_NAME = "remote-kernel local pool MCP server"

# JSON-RPC 2.0 error codes (the MCP specification uses these).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

LAUNCH_SHELL = "launchShell"
RUN_SHELL = "runShellCommandInRemoteEnvironment"
RUN_PYTHON = "runPythonCodeInRemoteEnvironment"

#: Longest ``pythonCode`` / ``shellCommand`` / joined ``execCommandAndArgs`` accepted.
MAX_CODE_CHARS = 1_000_000
#: Most entries in ``execCommandAndArgs``.
MAX_ARGS = 4096

_ENVIRONMENT_ID = {
    "type": "string",
    "description": "The environment to run in, as returned by launchShell.",
}

TOOLS: list[dict[str, Any]] = [
    {
        "name": LAUNCH_SHELL,
        "description": "Creates a new environment (a session with a Linux shell and Python; "
        "files in /mnt/data) and returns its environmentId for the other tools.",
        "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
    },
    {
        "name": RUN_SHELL,
        "description": "Executes a shell command in an existing environment. Give either "
        "shellCommand (run by /bin/sh) or execCommandAndArgs (an executable and its "
        "arguments, no shell). Returns stdout, stderr and exitCode.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "environmentId": _ENVIRONMENT_ID,
                "shellCommand": {
                    "type": "string",
                    "description": "A command line for /bin/sh, e.g. 'ls -la | head'.",
                },
                "execCommandAndArgs": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "description": "The executable and its arguments, e.g. ['ls', '-la'].",
                },
            },
            "required": ["environmentId"],
            "additionalProperties": False,
        },
    },
    {
        "name": RUN_PYTHON,
        "description": "Executes Python code in an existing environment. Variables persist "
        "between calls in the same environment. Returns stdout, stderr and the value of "
        "the last expression (result).",
        "inputSchema": {
            "type": "object",
            "properties": {
                "environmentId": _ENVIRONMENT_ID,
                "pythonCode": {"type": "string", "description": "The Python code to run."},
            },
            "required": ["environmentId", "pythonCode"],
            "additionalProperties": False,
        },
    },
]
_TOOL_NAMES = frozenset(t["name"] for t in TOOLS)


class ProtocolError(Exception):
    """A JSON-RPC error answer: the request could not be understood or its params are bad."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Call:
    """One JSON-RPC message of a request body: a request (has an id) or a notification."""

    method: str
    params: dict[str, Any]
    id: str | int | None
    is_request: bool


@dataclass(frozen=True)
class ToolCall:
    """A checked ``tools/call``: the tool's name and its arguments, types already right."""

    name: str
    environment_id: str | None = None
    python_code: str | None = None
    shell_command: str | None = None
    exec_args: tuple[str, ...] | None = None


# -- answers -----------------------------------------------------------------------------


def response(request_id: str | int | None, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error(request_id: str | int | None, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def initialize_result() -> dict[str, Any]:
    """What ``initialize`` answers, whatever version the client offered (we speak one).

    ``tools: {"call": true, "list": true}`` is what Azure's documents show; MCP
    clients ignore members of a capability they do not know.
    """
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {"tools": {"call": True, "list": True, "listChanged": False}},
        "serverInfo": {"name": SERVER_NAME, "version": __version__},
    }


def tool_result(structured: dict[str, Any], *, is_error: bool) -> dict[str, Any]:
    """A ``tools/call`` result: the JSON as text (for any client) and as structuredContent
    (where Azure's documents read ``environmentId`` and ``stdout``)."""
    return {
        "content": [{"type": "text", "text": json.dumps(structured, ensure_ascii=False)}],
        "structuredContent": structured,
        "isError": is_error,
    }


def tool_failure(message: str) -> dict[str, Any]:
    """A tool error the model can act on (unknown environment, session lost)."""
    return tool_result({"error": message}, is_error=True)


# -- parsing -----------------------------------------------------------------------------


def parse_body(raw: bytes) -> tuple[list[Any], bool]:
    """The messages of a POST body and whether it was a batch; ProtocolError if not JSON."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(PARSE_ERROR, "Parse error: the body is not valid JSON.") from None
    except RecursionError:  # [[[[...]]]] deeper than the parser's stack
        raise ProtocolError(PARSE_ERROR, "Parse error: the JSON is nested too deeply.") from None
    if isinstance(body, list):
        if not body:
            raise ProtocolError(INVALID_REQUEST, "Invalid Request: an empty batch.")
        return body, True
    return [body], False


def message_id(message: Any) -> str | int | None:
    """The id to answer with, when the message has a usable one."""
    if isinstance(message, dict):
        ident = message.get("id")
        if isinstance(ident, (str, int)) and not isinstance(ident, bool):
            return ident
    return None


def parse_message(message: Any) -> Call | None:
    """A request or notification; None for a client's response (nothing to answer)."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise ProtocolError(INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 object.")
    if "method" not in message:
        if "id" in message and ("result" in message or "error" in message):
            return None
        raise ProtocolError(INVALID_REQUEST, "Invalid Request: no method.")
    method = message["method"]
    if not isinstance(method, str):
        raise ProtocolError(INVALID_REQUEST, "Invalid Request: method must be a string.")
    is_request = "id" in message
    if is_request and message_id(message) is None:
        raise ProtocolError(INVALID_REQUEST, "Invalid Request: id must be a string or integer.")
    params = message.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError(INVALID_PARAMS, "Invalid params: params must be an object.")
    return Call(method, params, message_id(message), is_request)


def parse_tool_call(params: dict[str, Any]) -> ToolCall:
    """Check a ``tools/call``'s name and arguments against the tool's input schema."""
    name = params.get("name")
    if not isinstance(name, str) or name not in _TOOL_NAMES:
        known = ", ".join(sorted(_TOOL_NAMES))
        raise ProtocolError(INVALID_PARAMS, f"Unknown tool: {name!r} (tools: {known}).")
    args = params.get("arguments", {})
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ProtocolError(INVALID_PARAMS, "Invalid params: arguments must be an object.")
    allowed = set(next(t for t in TOOLS if t["name"] == name)["inputSchema"]["properties"])
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise ProtocolError(
            INVALID_PARAMS, f"Invalid params: {name} takes no argument {', '.join(unknown)}."
        )
    if name == LAUNCH_SHELL:
        return ToolCall(name)
    environment_id = _string(args, "environmentId", name, required=True)
    if name == RUN_PYTHON:
        return ToolCall(name, environment_id, python_code=_string(args, "pythonCode", name, True))
    return _shell_call(args, environment_id)


def _shell_call(args: dict[str, Any], environment_id: str | None) -> ToolCall:
    command = _string(args, "shellCommand", RUN_SHELL, required=False)
    argv = args.get("execCommandAndArgs")
    if (command is None) == (argv is None):
        raise ProtocolError(
            INVALID_PARAMS,
            f"Invalid params: {RUN_SHELL} needs exactly one of shellCommand or execCommandAndArgs.",
        )
    if command is not None:
        return ToolCall(RUN_SHELL, environment_id, shell_command=command)
    if (
        not isinstance(argv, list)
        or not argv
        or len(argv) > MAX_ARGS
        or not all(isinstance(a, str) for a in argv)
    ):
        raise ProtocolError(
            INVALID_PARAMS,
            f"Invalid params: execCommandAndArgs must be a list of 1 to {MAX_ARGS} strings.",
        )
    if sum(len(a) for a in argv) > MAX_CODE_CHARS:
        raise ProtocolError(
            INVALID_PARAMS, f"Invalid params: execCommandAndArgs is longer than {MAX_CODE_CHARS}."
        )
    return ToolCall(RUN_SHELL, environment_id, exec_args=tuple(argv))


def _string(args: dict[str, Any], key: str, tool: str, required: bool) -> str | None:
    value = args.get(key)
    if value is None:
        if required:
            raise ProtocolError(INVALID_PARAMS, f"Invalid params: {tool} needs {key}.")
        return None
    if not isinstance(value, str) or (required and not value):
        raise ProtocolError(INVALID_PARAMS, f"Invalid params: {key} must be a non-empty string.")
    if len(value) > MAX_CODE_CHARS:
        raise ProtocolError(
            INVALID_PARAMS, f"Invalid params: {key} is longer than {MAX_CODE_CHARS} characters."
        )
    return value
