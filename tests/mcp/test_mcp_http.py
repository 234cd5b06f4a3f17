"""The MCP endpoint over raw HTTP: Azure's authentication, and hostile input that gets
protocol errors while the server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from mcp_helpers import McpPool, initialize_error

from remote_kernel.server.mcp import MAX_BODY_BYTES

GEN2 = "2024-10-02-preview"


@pytest.fixture
def http(mcp_pool: McpPool) -> Iterator[httpx.Client]:
    with httpx.Client(headers={"x-ms-apikey": mcp_pool.key}, timeout=120) as client:
        yield client


def rpc(method: str, params: Any = None, ident: Any = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
    if params is not None:
        message["params"] = params
    return message


def still_serving(http: httpx.Client, url: str) -> None:
    answer = http.post(url, json=rpc("tools/list", ident="after"))
    assert answer.status_code == 200
    assert answer.json()["id"] == "after" and len(answer.json()["result"]["tools"]) == 3


# -- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-ms-apikey": "wrong"},
        {"x-ms-apikey": ""},
        {"Authorization": "Bearer KEY"},
        {"Authorization": "KEY"},
    ],
    ids=["missing", "wrong", "empty", "bearer-with-the-key", "raw-authorization"],
)
def test_no_valid_x_ms_apikey_gets_401(mcp_pool: McpPool, headers: dict[str, str]) -> None:
    headers = {k: v.replace("KEY", mcp_pool.key) for k, v in headers.items()}
    answer = httpx.post(mcp_pool.url, json=rpc("initialize"), headers=headers)
    assert answer.status_code == 401
    assert mcp_pool.key not in answer.text
    assert "x-ms-apikey" in answer.json()["error"]["message"]


def test_the_pool_token_does_not_open_mcp_and_the_key_does_not_open_the_rest_api(
    mcp_pool: McpPool,
) -> None:
    bearer = {"Authorization": f"Bearer {mcp_pool.pool.token}"}
    assert httpx.post(mcp_pool.url, json=rpc("ping"), headers=bearer).status_code == 401
    query = {"api-version": GEN2, "identifier": "mcp-key-on-rest"}
    rest = httpx.get(
        f"{mcp_pool.pool.url}/files", params=query, headers={"x-ms-apikey": mcp_pool.key}
    )
    assert rest.status_code == 401
    assert httpx.get(f"{mcp_pool.pool.url}/files", params=query, headers=bearer).status_code == 200


async def test_the_official_client_with_a_wrong_key_fails_to_initialize(mcp_pool: McpPool):
    error = await initialize_error(mcp_pool.url, {"x-ms-apikey": "wrong"})
    assert isinstance(error, MCPError), repr(error)


async def test_the_official_client_with_a_bearer_token_fails_to_initialize(mcp_pool: McpPool):
    error = await initialize_error(mcp_pool.url, {"Authorization": f"Bearer {mcp_pool.key}"})
    assert isinstance(error, MCPError), repr(error)


# -- the protocol as Azure's curl examples use it -----------------------------------------


def test_curl_style_initialize_without_params(mcp_pool: McpPool, http: httpx.Client) -> None:
    answer = http.post(mcp_pool.url, json={"jsonrpc": "2.0", "id": "1", "method": "initialize"})
    assert answer.status_code == 200
    result = answer.json()["result"]
    assert result["protocolVersion"] == "2025-03-26"
    assert result["capabilities"]["tools"]["call"] is True
    assert result["capabilities"]["tools"]["list"] is True
    assert "Mcp-Session-Id" not in answer.headers


def test_notifications_get_202_and_ping_an_empty_result(
    mcp_pool: McpPool, http: httpx.Client
) -> None:
    note = http.post(mcp_pool.url, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert (note.status_code, note.content) == (202, b"")
    assert http.post(mcp_pool.url, json=rpc("ping", ident=9)).json() == {
        "jsonrpc": "2.0",
        "id": 9,
        "result": {},
    }


def test_a_batch_gets_one_answer_per_request(mcp_pool: McpPool, http: httpx.Client) -> None:
    batch = [
        rpc("ping", ident=1),
        {"jsonrpc": "2.0", "method": "notifications/x"},
        rpc("nope", ident=2),
    ]
    answers = http.post(mcp_pool.url, json=batch).json()
    assert [a["id"] for a in answers] == [1, 2]
    assert answers[0]["result"] == {} and answers[1]["error"]["code"] == -32601


# -- hostile input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{this is not json", 400, -32700),
        (b"\xff\xfe\x00", 400, -32700),
        (b"", 400, -32700),
        (b"[]", 400, -32600),
        (b"[" * 200_000 + b"]" * 200_000, 400, -32700),
        (b"42", 400, -32600),
        (b'{"jsonrpc": "2.0", "method": 5}', 400, -32600),
        (b'{"jsonrpc": "2.0", "id": 3, "method": "tools/delete"}', 200, -32601),
        (b'{"jsonrpc": "2.0", "id": 4, "method": "resources/list"}', 200, -32601),
        (b'{"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": "x"}', 200, -32602),
        (
            b'{"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "evil"}}',
            200,
            -32602,
        ),
    ],
)
def test_malformed_json_rpc_gets_protocol_errors(
    mcp_pool: McpPool, http: httpx.Client, body: bytes, status: int, code: int
) -> None:
    answer = http.post(mcp_pool.url, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    still_serving(http, mcp_pool.url)


def test_oversized_arguments_are_invalid_params(mcp_pool: McpPool, http: httpx.Client) -> None:
    launched = http.post(mcp_pool.url, json=rpc("tools/call", {"name": "launchShell"})).json()
    env = launched["result"]["structuredContent"]["environmentId"]
    huge = {"environmentId": env, "pythonCode": "#" * 2_000_000}
    answer = http.post(
        mcp_pool.url,
        json=rpc("tools/call", {"name": "runPythonCodeInRemoteEnvironment", "arguments": huge}),
    )
    assert answer.status_code == 200 and answer.json()["error"]["code"] == -32602
    many = {"environmentId": env, "execCommandAndArgs": ["x"] * 10_000}
    answer = http.post(
        mcp_pool.url,
        json=rpc("tools/call", {"name": "runShellCommandInRemoteEnvironment", "arguments": many}),
    )
    assert answer.json()["error"]["code"] == -32602
    still_serving(http, mcp_pool.url)


def test_an_oversized_body_gets_413_and_is_not_read_whole(
    mcp_pool: McpPool, http: httpx.Client
) -> None:
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    answer = http.post(mcp_pool.url, content=body)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == -32600
    still_serving(http, mcp_pool.url)


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_other_http_methods_get_405(mcp_pool: McpPool, http: httpx.Client, method: str) -> None:
    answer = http.request(method, mcp_pool.url)
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
