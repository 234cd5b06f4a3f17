"""What the sync and async clients share: settings and auth. No I/O here.

The layers under a client, from the wire up: ``messages`` (plain data),
``codecs`` (one per API generation), ``error_map`` and ``synthesis``,
``operations`` (every call as a step), ``policy`` (retries, token refresh),
``transport`` (httpx; aiohttp under the async client), and the thin shells that drive steps (``sync_client``,
``async_client``) with the methods of ``methods``.
"""

from __future__ import annotations

from typing import Any

from remote_kernel import errors
from remote_kernel.client.auth import Auth, make_auth
from remote_kernel.client.operations import Protocol
from remote_kernel.config import (
    DEFAULT_API_VERSION,
    DEFAULT_MAX_CONNECTIONS,
    ENDPOINT_HELP,
    PoolSettings,
    check_api_version,
    check_endpoint,
    check_max_connections,
)


class ClientBase:
    """Configuration and pure helpers for :class:`SessionPoolClient` and its async twin."""

    def __init__(
        self,
        endpoint: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        auth: str | Auth = "auto",
        token: str | None = None,
        credential: Any = None,
        timeout: float = 220.0,
        connect_timeout: float = 10.0,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        """``max_connections``: connections this client opens at most; more requests
        queue for one (up to their read timeout) rather than fail."""
        endpoint = check_endpoint(endpoint)
        if not endpoint:
            raise errors.ConfigurationError("No pool endpoint given.", fix=ENDPOINT_HELP)
        check_api_version(api_version)
        if isinstance(auth, Auth):
            self._auth = auth
        else:
            self._auth = make_auth(auth, endpoint=endpoint, token=token, credential=credential)
        self.endpoint = endpoint
        self.api_version = api_version
        self.connect_timeout = float(connect_timeout)
        self.max_connections = check_max_connections(max_connections)
        self.protocol = Protocol(endpoint, api_version, default_timeout=timeout)
        self.protocol.auth_mode = self._auth.mode

    @classmethod
    def _settings_kwargs(cls, settings: PoolSettings, endpoint: str | None) -> dict[str, Any]:
        endpoint = endpoint or settings.pool_endpoint
        return {
            "endpoint": endpoint,
            "api_version": settings.api_version,
            "auth": settings.resolved_auth(endpoint),
            "token": settings.token or None,
            "timeout": settings.execution_timeout,
            "connect_timeout": settings.connect_timeout,
            "max_connections": settings.max_connections,
        }

    @property
    def auth_mode(self) -> str:
        return self._auth.mode

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} endpoint={self.endpoint!r} "
            f"api_version={self.api_version!r} auth={self._auth.mode!r}>"
        )
