"""Settings shared by the kernel, the magics and the CLI.

Every setting is a trait of :class:`PoolSettings`. The kernel
(``c.RemoteKernel.pool_endpoint``) and the magics (``c.AcaMagics.pool_endpoint``)
subclass it, so ``c.PoolSettings.x`` sets both. Environment fallbacks are
resolved here and nowhere else.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from traitlets import Bool, CaselessStrEnum, Float, Unicode, default, observe
from traitlets.config import Configurable

#: Generation 2 is the one API both pool types serve: custom-container pools
#: only have the ``/executions`` routes, code-interpreter pools have both. The
#: oldest generation-2 version is the one most deployments accept.
DEFAULT_API_VERSION = "2024-10-02-preview"
GEN1_API_VERSIONS = frozenset({"2024-02-02-preview", "2024-08-02-preview"})
GEN2_API_VERSIONS = frozenset({"2024-10-02-preview", "2025-02-02-preview", "2025-10-02-preview"})
KNOWN_API_VERSIONS = GEN1_API_VERSIONS | GEN2_API_VERSIONS

#: Env vars, first match wins.
ENDPOINT_ENV = ("ACA_POOL_ENDPOINT", "POOL_ENDPOINT", "POOL_MANAGEMENT_ENDPOINT")
TOKEN_ENV = ("ACA_POOL_TOKEN",)
API_VERSION_ENV = ("ACA_API_VERSION",)
SESSION_ENV = ("ACA_SESSION_ID",)
AUTH_ENV = ("ACA_AUTH",)
POOL_TYPE_ENV = ("ACA_POOL_TYPE",)

TOKEN_SCOPE = "https://dynamicsessions.io/.default"
MAX_EXECUTION_TIMEOUT = 220.0


def env_first(names: tuple[str, ...], default_value: str = "") -> str:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return default_value


def is_generation1(api_version: str) -> bool:
    return api_version in GEN1_API_VERSIONS


def is_loopback(endpoint: str) -> bool:
    host = (urlsplit(endpoint).hostname or "").lower()
    return host in {"localhost", "::1"} or host.startswith("127.")


class PoolSettings(Configurable):
    """Where the session pool is, how to authenticate, which session to use."""

    pool_endpoint = Unicode(
        help="Pool management endpoint (https://<region>.dynamicsessions.io/subscriptions/"
        ".../sessionPools/<pool>). Env: ACA_POOL_ENDPOINT, then POOL_ENDPOINT. "
        "Empty: start the embedded local pool.",
    ).tag(config=True)

    api_version = Unicode(
        help=f"api-version sent to the pool. Default {DEFAULT_API_VERSION} (generation 2, "
        "served by code-interpreter and custom-container pools). Env: ACA_API_VERSION.",
    ).tag(config=True)

    session_id = Unicode(
        help="Session identifier. Empty: a fresh one per kernel start / extension load, "
        "so two notebooks never share state by accident. Env: ACA_SESSION_ID.",
    ).tag(config=True)

    auth = CaselessStrEnum(
        ["auto", "azure", "token", "none"],
        help="auto: a static token if one is set, none for a loopback endpoint, "
        "otherwise azure-identity's DefaultAzureCredential. Env: ACA_AUTH.",
    ).tag(config=True)

    token = Unicode(
        help="Static bearer token (never shown). Env: ACA_POOL_TOKEN.",
    ).tag(config=True)

    execution_timeout = Float(
        MAX_EXECUTION_TIMEOUT,
        help="Seconds one cell may run remotely (Azure caps it at 220).",
    ).tag(config=True)

    connect_timeout = Float(10.0, help="Seconds to establish a connection.").tag(config=True)

    delete_session_on_shutdown = Bool(
        True,
        help="Delete the remote session this kernel created when the kernel shuts down.",
    ).tag(config=True)

    remote_completion = Bool(
        True,
        help="Answer completion and inspection requests from the remote session "
        "(bounded by completion_timeout; never blocks a cell).",
    ).tag(config=True)

    completion_timeout = Float(2.0, help="Seconds a completion request may take.").tag(config=True)

    pool_type = CaselessStrEnum(
        ["python", "javascript", "shell"],
        help="What the pool's sessions run: python (PythonLTS / custom containers), "
        "javascript (NodeLTS) or shell (Shell); decides the request body (code or "
        "shellCommand) and, for the embedded pool, its runtime. Env: ACA_POOL_TYPE.",
    ).tag(config=True)

    @default("pool_type")
    def _default_pool_type(self) -> str:
        return env_first(POOL_TYPE_ENV, "python").strip().lower() or "python"

    local_pool_runtime = Unicode(
        "python",
        help="What runs the embedded local pool's sessions: python (an IPython kernel each) "
        "or pyodide (Pyodide under Deno, a sandbox); `remote-kernel serve --runtime` lists "
        "them all.",
    ).tag(config=True)

    local_pool_sandbox = Bool(
        False,
        help="The same as local_pool_runtime = 'pyodide' (the older spelling).",
    ).tag(config=True)

    @observe("local_pool_sandbox")
    def _sandbox_is_pyodide(self, change: dict) -> None:
        if change["new"]:
            self.local_pool_runtime = "pyodide"

    local_pool_session_python = Unicode(
        help="Python interpreter (with ipykernel) the embedded local pool's sessions run, "
        "so they have its packages. Empty: the interpreter running the kernel or IPython.",
    ).tag(config=True)

    @default("pool_endpoint")
    def _default_endpoint(self) -> str:
        return env_first(ENDPOINT_ENV).rstrip("/")

    @default("api_version")
    def _default_api_version(self) -> str:
        return env_first(API_VERSION_ENV, DEFAULT_API_VERSION)

    @default("session_id")
    def _default_session_id(self) -> str:
        return env_first(SESSION_ENV)

    @default("auth")
    def _default_auth(self) -> str:
        return env_first(AUTH_ENV, "auto")

    @default("token")
    def _default_token(self) -> str:
        return env_first(TOKEN_ENV)

    def resolved_auth(self, endpoint: str | None = None) -> str:
        """The auth mode ``auto`` stands for, given the endpoint in use."""
        if self.auth != "auto":
            return self.auth
        if self.token:
            return "token"
        if is_loopback(endpoint if endpoint is not None else self.pool_endpoint):
            return "none"
        return "azure"

    def describe(self) -> dict[str, str]:
        """Settings safe to show a user: never the token."""
        return {
            "pool_endpoint": self.pool_endpoint or "(embedded local pool)",
            "api_version": self.api_version,
            "auth": self.resolved_auth(),
            "token": "set (hidden)" if self.token else "not set",
            "session_id": self.session_id or "(new per start)",
            "execution_timeout": f"{self.execution_timeout:g} s",
        }
