"""One real local pool serving the MCP endpoint (its own key, and a pool token too)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from mcp_helpers import McpPool

from remote_kernel.server import start_local_pool


@pytest.fixture(scope="session")
def mcp_pool() -> Iterator[McpPool]:
    """The pool also has a bearer token: the MCP path must not be covered by it."""
    key = secrets.token_urlsafe(24)
    pool = start_local_pool(
        token=secrets.token_urlsafe(24), prewarm=1, max_sessions=8, cooldown=300, mcp_api_key=key
    )
    try:
        yield McpPool(pool, key)
    finally:
        pool.stop()
