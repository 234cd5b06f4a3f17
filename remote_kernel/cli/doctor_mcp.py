"""``remote-kernel doctor``'s MCP check: does the configured MCP server answer with its tools?

Runs only when ``ACA_MCP_ENDPOINT`` is set (the local pool's ``{endpoint}/mcp`` or
Azure's ``mcpServerEndpoint``). It sends ``initialize`` and ``tools/list`` with the
key from ``ACA_MCP_API_KEY`` in ``x-ms-apikey`` and runs no code (on Azure a tool
call would allocate a session). The key is only ever reported as set or not.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from remote_kernel.server.mcp_protocol import PROTOCOL_VERSION, TOOLS
from remote_kernel.server.mcp_settings import API_KEY_ENV, ENDPOINT_ENV, client_settings

KEY_HELP = (
    f"Set {API_KEY_ENV}: for Azure, `az rest --method POST --uri https://management.azure.com"
    "/subscriptions/SUB/resourceGroups/GROUP/providers/Microsoft.App/sessionPools/POOL"
    "/fetchMCPServerCredentials --uri-parameters api-version=2025-02-02-preview --query apiKey "
    "-o tsv`; for the local pool, the key `remote-kernel serve --mcp` printed (or the one you "
    "gave it)."
)
_EXPECTED = {t["name"] for t in TOOLS}


class McpProbeError(Exception):
    """The MCP server did not answer as one should; ``fix`` says what to do."""

    def __init__(self, summary: str, fix: str) -> None:
        super().__init__(summary)
        self.summary, self.fix = summary, fix


def configured() -> bool:
    return bool(client_settings()[0])


def shown(url: str) -> str:
    """The endpoint without credentials or query (neither belongs in a report)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check() -> tuple[bool, str, list[str], str]:
    """``(ok, summary, details, fix)`` for the configured MCP endpoint."""
    endpoint, key = client_settings()
    details = [
        f"endpoint: {shown(endpoint)}  [{ENDPOINT_ENV}]",
        f"api key: {'set (hidden)' if key else 'not set'}  [{API_KEY_ENV}]",
    ]
    if not key:
        return False, "no API key to send", details, KEY_HELP
    try:
        with httpx.Client(timeout=30.0, headers={"x-ms-apikey": key}) as http:
            init = _call(http, endpoint, "initialize", _initialize_params())
            tools = {
                t.get("name") for t in _call(http, endpoint, "tools/list", {}).get("tools", [])
            }
    except McpProbeError as exc:
        return False, exc.summary, details, exc.fix
    version = init.get("protocolVersion", "?")
    missing = sorted(_EXPECTED - tools)
    details.append(f"protocol {version}; tools: {', '.join(sorted(t for t in tools if t))}")
    if missing:
        return False, f"tools missing: {', '.join(missing)}", details, _not_sessions(endpoint)
    return True, f"the MCP server answers with its {len(_EXPECTED)} tools", details, ""


def _initialize_params() -> dict[str, Any]:
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "remote-kernel doctor", "version": "1"},
    }


def _not_sessions(endpoint: str) -> str:
    return (
        f"{shown(endpoint)} is not a session pool's MCP endpoint. Set {ENDPOINT_ENV} to the "
        "pool's properties.mcpServerSettings.mcpServerEndpoint, or to {pool endpoint}/mcp of "
        "`remote-kernel serve --mcp`."
    )


def _call(http: httpx.Client, endpoint: str, method: str, params: dict[str, Any]) -> Any:
    body = {"jsonrpc": "2.0", "id": method, "method": method, "params": params}
    headers = {"Accept": "application/json, text/event-stream"}
    try:
        response = http.post(endpoint, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise McpProbeError(
            f"cannot reach {shown(endpoint)} ({type(exc).__name__})",
            f"Check {ENDPOINT_ENV}, and that the pool runs (`remote-kernel serve --mcp`) or "
            "that the Azure pool has mcpServerSettings.isMCPServerEnabled.",
        ) from None
    if response.status_code in (401, 403):
        raise McpProbeError(
            f"the API key was refused (HTTP {response.status_code})",
            f"{API_KEY_ENV} must be this pool's MCP key (a bearer token is not accepted). "
            + KEY_HELP,
        )
    message = _message(response)
    if message is None or "result" not in message:
        error = (message or {}).get("error")
        problem = error.get("message") if isinstance(error, dict) else None
        problem = problem or f"HTTP {response.status_code}"
        raise McpProbeError(f"{method} failed: {problem}", _not_sessions(endpoint))
    return message["result"]


def _message(response: httpx.Response) -> dict[str, Any] | None:
    """The JSON-RPC answer, from a JSON body or the first event of an event stream."""
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [ln[5:].strip() for ln in text.splitlines() if ln.startswith("data:")]
        text = data[0] if data else ""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None
