"""``{pool endpoint}/mcp``: the pool's MCP server over HTTP, authenticated as on Azure.

The HTTP shell around :mod:`remote_kernel.server.mcp_protocol` (the messages) and
:mod:`remote_kernel.server.mcp_tools` (the sessions). MCP's streamable HTTP
transport, stateless: every POST carries one JSON-RPC message or a batch and gets
its answers as one ``application/json`` body (or ``202`` when it held only
notifications). No ``Mcp-Session-Id`` is issued, so clients open no GET stream and
send no DELETE; both get ``405``.

Authentication is Azure's for MCP: the pool's API key in ``x-ms-apikey``, compared
in constant time. A bearer token is not a key: ``401``, as Azure answers. The
pool's own bearer token (``--token``) does not apply to this path.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from remote_kernel.server import mcp_protocol as proto
from remote_kernel.server.mcp_tools import Environments, ToolRuntimes
from remote_kernel.server.pool import SessionPool

log = logging.getLogger(__name__)

PATH = "/mcp"
API_KEY_HEADER = "x-ms-apikey"
#: Largest POST body read; past it the answer is 413 and nothing runs.
MAX_BODY_BYTES = 8 * 1024 * 1024


class McpEndpoint:
    """The ASGI app answering ``/mcp`` for one pool."""

    def __init__(
        self, pool: SessionPool, api_key: str, runtimes: ToolRuntimes | None = None
    ) -> None:
        if not api_key:
            raise ValueError("the MCP endpoint needs a non-empty API key")
        self._key = api_key.encode()
        self.environments = Environments(pool, runtimes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if not self._authorized(request):
            response: Response = _unauthorized()
        elif request.method != "POST":
            response = JSONResponse(
                proto.error(None, proto.INVALID_REQUEST, "This MCP endpoint takes POST only."),
                status_code=405,
                headers={"Allow": "POST"},
            )
        else:
            try:
                response = await self._post(request)
            except Exception as exc:  # a bug of ours: a JSON-RPC answer, not a bare 500
                log.exception("the MCP endpoint failed")
                message = f"Internal error: {type(exc).__name__}"
                error = proto.error(None, proto.INTERNAL_ERROR, message)
                response = JSONResponse(error, status_code=500)
        await response(scope, receive, send)

    def _authorized(self, request: Request) -> bool:
        given = request.headers.get(API_KEY_HEADER)
        return given is not None and hmac.compare_digest(given.strip().encode(), self._key)

    async def _post(self, request: Request) -> Response:
        raw = await _bounded_body(request)
        if raw is None:
            message = f"Invalid Request: the body is larger than {MAX_BODY_BYTES} bytes."
            return JSONResponse(proto.error(None, proto.INVALID_REQUEST, message), status_code=413)
        try:
            messages, batch = proto.parse_body(raw)
        except proto.ProtocolError as exc:
            return JSONResponse(proto.error(None, exc.code, exc.message), status_code=400)
        answers = [a for a in [await self._answer(m) for m in messages] if a is not None]
        if not answers:
            return Response(status_code=202)
        if not batch and "error" in answers[0] and answers[0]["id"] is None:
            return JSONResponse(answers[0], status_code=400)
        return JSONResponse(answers if batch else answers[0])

    async def _answer(self, message: Any) -> dict[str, Any] | None:
        """The answer to one message; None for notifications and client responses."""
        try:
            call = proto.parse_message(message)
        except proto.ProtocolError as exc:
            return proto.error(proto.message_id(message), exc.code, exc.message)
        if call is None or not call.is_request:
            return None  # notifications/initialized, notifications/cancelled, responses
        try:
            return proto.response(call.id, await self._dispatch(call))
        except proto.ProtocolError as exc:
            return proto.error(call.id, exc.code, exc.message)
        except Exception as exc:  # a bug of ours: answer it, keep serving
            log.exception("MCP %s failed", call.method)
            return proto.error(call.id, proto.INTERNAL_ERROR, f"Internal error: {exc}")

    async def _dispatch(self, call: proto.Call) -> dict[str, Any]:
        if call.method == "initialize":
            return proto.initialize_result()
        if call.method == "ping":
            return {}
        if call.method == "tools/list":
            return {"tools": proto.TOOLS}
        if call.method == "tools/call":
            return await self.environments.call(proto.parse_tool_call(call.params))
        raise proto.ProtocolError(proto.METHOD_NOT_FOUND, f"Method not found: {call.method!r}.")


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_BODY_BYTES (never more is kept in memory)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _unauthorized() -> Response:
    return JSONResponse(
        {
            "error": {
                "code": "Unauthorized",
                "message": f"Missing or wrong API key: send '{API_KEY_HEADER}: <key>' with the "
                "key this pool's MCP server was started with (--mcp-api-key or ACA_MCP_API_KEY; "
                "a bearer token is not accepted here).",
            }
        },
        status_code=401,
        headers={"x-ms-error-code": "Unauthorized"},
    )


class WithMcp:
    """Sends ``/mcp`` to the MCP endpoint and everything else (lifespan too) to the pool."""

    def __init__(self, pool_app: ASGIApp, endpoint: McpEndpoint) -> None:
        self.pool_app, self.endpoint = pool_app, endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == PATH:
            await self.endpoint(scope, receive, send)
        else:
            await self.pool_app(scope, receive, send)


def with_mcp(
    pool_app: ASGIApp, pool: SessionPool, api_key: str, runtimes: ToolRuntimes | None = None
) -> ASGIApp:
    """``pool_app`` plus the MCP endpoint at ``/mcp``, authenticated with ``api_key``;
    ``runtimes``: where its tools run (default: a Python pool's)."""
    return WithMcp(pool_app, McpEndpoint(pool, api_key, runtimes))
