"""Where the MCP settings come from: one home for the environment variables' names.

``remote-kernel serve --mcp`` reads the key it serves with; ``remote-kernel doctor``
reads the endpoint and key of an MCP server to check (the local pool's or Azure's).
"""

from __future__ import annotations

import os
import secrets

#: The key ``serve --mcp`` requires, and the key ``doctor`` sends.
API_KEY_ENV = "ACA_MCP_API_KEY"
#: The MCP endpoint ``doctor`` checks: ``{pool endpoint}/mcp`` or Azure's ``mcpServerEndpoint``.
ENDPOINT_ENV = "ACA_MCP_ENDPOINT"


def serve_key(given: str | None) -> tuple[str, bool]:
    """The key to serve with and whether it was generated (then it must be shown once)."""
    key = (given or os.environ.get(API_KEY_ENV, "")).strip()
    if key:
        return key, False
    return secrets.token_urlsafe(32), True


def client_settings() -> tuple[str, str]:
    """``(endpoint, key)`` of the MCP server to check; empty strings when unset."""
    endpoint = os.environ.get(ENDPOINT_ENV, "").strip().rstrip("/")
    return endpoint, os.environ.get(API_KEY_ENV, "").strip()
