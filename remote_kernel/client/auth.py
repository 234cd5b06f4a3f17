"""Bearer tokens for the pool: none, a static token, or azure-identity.

Tokens are cached and refreshed a few minutes before they expire. One
threading lock makes a refresh happen once however many calls (threads or
tasks) need a token at the same moment; the async client runs the refresh in
a worker thread so the event loop never blocks on azure-identity.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from remote_kernel import errors
from remote_kernel.config import TOKEN_SCOPE, check_auth, resolve_auth

#: Refresh this long before ``expires_on`` (Azure tokens live 60-90 min).
REFRESH_MARGIN = 300.0


class Auth:
    """No authentication (the local pool without a token)."""

    mode = "none"

    def header(self) -> dict[str, str]:
        return {}

    async def aheader(self) -> dict[str, str]:
        return self.header()

    def invalidate(self) -> None:
        """Forget a cached token (after a 401)."""

    def secrets(self) -> tuple[str, ...]:
        return ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} mode={self.mode}>"


class StaticTokenAuth(Auth):
    mode = "token"

    def __init__(self, token: str) -> None:
        if not token:
            raise errors.ConfigurationError(
                "auth='token' needs a token.", fix="Set ACA_POOL_TOKEN or c.PoolSettings.token."
            )
        self._token = token

    def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def secrets(self) -> tuple[str, ...]:
        return (self._token,)


class CredentialAuth(Auth):
    """A ``TokenCredential`` (default: ``DefaultAzureCredential``, imported lazily)."""

    mode = "azure"

    def __init__(
        self, credential: Any = None, scope: str = TOKEN_SCOPE, clock: Any = time.time
    ) -> None:
        self._credential = credential
        self._scope = scope
        self._clock = clock
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = threading.Lock()
        #: How many tokens were fetched (tests check the cache works).
        self.fetches = 0

    def _fresh(self) -> bool:
        return self._token is not None and self._clock() < self._expires_on - REFRESH_MARGIN

    def _get_credential(self) -> Any:
        if self._credential is None:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError as exc:  # pragma: no cover - a core dependency
                raise errors.ConfigurationError(
                    "azure-identity is not installed.", fix="pip install azure-identity"
                ) from exc
            self._credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
        return self._credential

    def token(self) -> str:
        if self._fresh():
            return self._token  # type: ignore[return-value]
        with self._lock:
            if not self._fresh():
                self._fetch()
            return self._token  # type: ignore[return-value]

    def _fetch(self) -> None:
        try:
            access = self._get_credential().get_token(self._scope)
        except errors.RemoteKernelError:
            raise
        except Exception as exc:
            raise errors.AuthenticationError(
                "Could not get an Azure token for the session pool: "
                f"{errors.redact(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__}",
                status_code=401,
                fix="Run `az login`, or set AZURE_CLIENT_ID/AZURE_TENANT_ID/"
                "AZURE_CLIENT_SECRET, or use a managed identity; or set a static token "
                "(ACA_POOL_TOKEN).",
            ) from None
        self._token = access.token
        self._expires_on = float(access.expires_on)
        self.fetches += 1

    def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    async def aheader(self) -> dict[str, str]:
        if self._fresh():
            return self.header()
        return await asyncio.to_thread(self.header)

    def invalidate(self) -> None:
        with self._lock:
            self._token = None
            self._expires_on = 0.0

    def secrets(self) -> tuple[str, ...]:
        return (self._token,) if self._token else ()


def make_auth(
    mode: str, *, endpoint: str, token: str | None = None, credential: Any = None
) -> Auth:
    """The :class:`Auth` for ``mode`` at ``endpoint`` (``auto`` as :func:`resolve_auth` says)."""
    mode = resolve_auth(
        check_auth(mode), token=token, endpoint=endpoint, credential=credential is not None
    )
    if mode == "none":
        return Auth()
    if mode == "token":
        return StaticTokenAuth(token or "")
    return CredentialAuth(credential)
