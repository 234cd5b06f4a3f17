"""The official MCP Python client (pip ``mcp``) pointed at a pool's MCP endpoint.

(Not a package: ``tests/mcp/__init__.py`` would shadow the SDK's ``mcp``.)"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from remote_kernel.server import LocalPool


@dataclass(frozen=True)
class McpPool:
    """A running local pool and the key of its MCP endpoint."""

    pool: LocalPool
    key: str

    @property
    def url(self) -> str:
        return f"{self.pool.url}/mcp"


@contextlib.asynccontextmanager
async def connect(
    url: str, headers: dict[str, str], *, initialize: bool = True
) -> AsyncIterator[ClientSession]:
    """A client session over streamable HTTP, initialized unless told otherwise."""
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0))
    async with http, streamable_http_client(url, http_client=http) as (read, write):
        async with ClientSession(read, write) as session:
            if initialize:
                await session.initialize()
            yield session


def structured(result: Any) -> dict[str, Any]:
    """A tool result's structuredContent (what Azure's documents read)."""
    content = result.structured_content
    assert isinstance(content, dict), result
    return content


async def initialize_error(url: str, headers: dict[str, str]) -> BaseException:
    """What connecting and initializing raised (the SDK wraps it in exception groups)."""
    try:
        async with connect(url, headers):
            pass
    except BaseException as exc:  # noqa: BLE001 - unwrapped and returned for the test to judge
        while hasattr(exc, "exceptions") and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        return exc
    raise AssertionError("initialize succeeded")
