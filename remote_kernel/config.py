"""Settings shared by the kernel, the magics and the CLI, and their rules.

Every setting is a trait of :class:`PoolSettings`. The kernel
(``c.RemoteKernel.pool_endpoint``) and the magics (``c.AcaMagics.pool_endpoint``)
subclass it, so ``c.PoolSettings.x`` sets both. Everything about a setting
lives here and nowhere else: its environment fallbacks, what a valid value is
(:func:`check_endpoint`, :func:`check_api_version`, :func:`check_auth`, applied
by the traits' validators and by the client, ``doctor`` and ``install`` to
values that did not pass through a trait), what ``auth = "auto"`` stands for
(:func:`resolve_auth`), and where a value came from (:func:`provenance`, shown
by ``doctor`` and ``%aca_config``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from traitlets import Bool, Float, Int, TraitError, Unicode, default, observe, validate
from traitlets.config import Configurable

from remote_kernel.errors import ConfigurationError

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
MAX_CONNECTIONS_ENV = ("ACA_MAX_CONNECTIONS",)

TOKEN_SCOPE = "https://dynamicsessions.io/.default"
MAX_EXECUTION_TIMEOUT = 220.0
#: Connections one client keeps open to the pool at most; more requests queue.
DEFAULT_MAX_CONNECTIONS = 200

#: How a client authenticates; ``auto`` (the default) picks one, see :func:`resolve_auth`.
AUTH_MODES = ("auto", "azure", "token", "none")
AUTH_MODES_TEXT = "auto, azure, token or none"
#: What a pool's sessions run (Azure's containerType PythonLTS/custom, NodeLTS, Shell).
POOL_TYPES = ("python", "javascript", "shell")
POOL_TYPES_TEXT = "python, javascript or shell"

ENDPOINT_HELP = (
    "Find your pool's endpoint with `az containerapp sessionpool show -n POOL -g GROUP "
    "--query properties.poolManagementEndpoint -o tsv` and set ACA_POOL_ENDPOINT to it, "
    "or unset it to use the embedded local pool."
)

#: Setting -> (environment variables, first match wins; default).
ENV_FALLBACKS: dict[str, tuple[tuple[str, ...], str]] = {
    "pool_endpoint": (ENDPOINT_ENV, ""),
    "api_version": (API_VERSION_ENV, DEFAULT_API_VERSION),
    "auth": (AUTH_ENV, "auto"),
    "token": (TOKEN_ENV, ""),
    "session_id": (SESSION_ENV, ""),
    "pool_type": (POOL_TYPE_ENV, "python"),
    "max_connections": (MAX_CONNECTIONS_ENV, str(DEFAULT_MAX_CONNECTIONS)),
}
#: Settings shown only as "set (hidden)" / "not set".
SECRET_SETTINGS = frozenset({"token"})


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


# ----------------------------------------------------------------------- rules


class InvalidSettingError(ConfigurationError, TraitError):
    """A setting breaks its rule. Also a ``TraitError``, so a bad value in a Jupyter
    config file ends the kernel's start with Jupyter's one-line "Bad config
    encountered" message (as every other trait's bad value does), not a traceback."""


def check_endpoint(value: str) -> str:
    """``value`` without its trailing slash; empty stays empty (the embedded pool).

    The one rule for an endpoint, wherever it comes from: an http(s) URL with a
    host (http only makes sense for a local pool, but a proxy may need it).
    """
    endpoint = (value or "").strip().rstrip("/")
    if not endpoint:
        return ""
    parts = urlsplit(endpoint)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in endpoint)
    ):
        raise InvalidSettingError(
            f"Invalid endpoint {value!r}: expected an http(s) URL such as "
            "https://<region>.dynamicsessions.io/subscriptions/.../sessionPools/<pool>.",
            fix=ENDPOINT_HELP,
        )
    return endpoint


def check_api_version(value: str) -> str:
    """``value`` if it is an api-version this package speaks."""
    return _one_of(
        value,
        KNOWN_API_VERSIONS,
        f"unknown api_version {value!r} (the api-version sent to the pool).",
        fix=f"Use one of: {', '.join(sorted(KNOWN_API_VERSIONS))}.",
    )


def check_auth(value: str) -> str:
    """``value`` lower-cased, if it is one of :data:`AUTH_MODES`."""
    return _check_word(value, AUTH_MODES, AUTH_MODES_TEXT, "auth", what="auth mode", env="ACA_AUTH")


def check_pool_type(value: str) -> str:
    """``value`` lower-cased, if it is one of :data:`POOL_TYPES`."""
    return _check_word(value, POOL_TYPES, POOL_TYPES_TEXT, "pool_type", env="ACA_POOL_TYPE")


def _check_word(
    value: str, words: Sequence[str], text: str, trait: str, *, env: str, what: str = ""
) -> str:
    """``value`` stripped and lower-cased if it is one of ``words``: the rule of every
    setting that is a choice of words (the error names the setting, its env and trait)."""
    return _one_of(
        (value or "").strip().lower(),
        words,
        f"unknown {what or trait} {value!r}: {trait} must be {text}.",
        fix=f"Set {env} (or c.PoolSettings.{trait}) to {text}.",
    )


def _one_of(word: str, words: Collection[str], message: str, *, fix: str) -> str:
    """``word`` if it is one of ``words``; else the setting's one-line error."""
    if word not in words:
        raise InvalidSettingError(message, fix=fix)
    return word


def check_max_connections(value: object) -> int:
    """``value`` as a connection limit (an int >= 1), or a one-line error naming the setting."""
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number < 1:
        raise InvalidSettingError(
            f"max_connections must be a whole number of at least 1, got {value!r}.",
            fix="Set ACA_MAX_CONNECTIONS (or c.PoolSettings.max_connections) to, e.g., 200.",
        )
    return number


#: Setting -> the one rule its values pass, wherever they come from (the traits
#: validate with it; the client, ``doctor`` and ``%aca_config`` call the same checks).
CHECKS: dict[str, Callable[[Any], Any]] = {
    "pool_endpoint": check_endpoint,
    "api_version": check_api_version,
    "auth": check_auth,
    "pool_type": check_pool_type,
    "max_connections": check_max_connections,
}


def resolve_auth(mode: str, *, token: str | None, endpoint: str, credential: bool = False) -> str:
    """The auth mode ``auto`` stands for; any other mode stands for itself.

    A credential object asked for means azure; a static token means token; the
    embedded pool (no endpoint) and a loopback endpoint need none; anything
    else is Azure, through DefaultAzureCredential.
    """
    if mode != "auto":
        return mode
    if credential:
        return "azure"
    if token:
        return "token"
    if not endpoint or is_loopback(endpoint):
        return "none"
    return "azure"


# ------------------------------------------------------------------ provenance


@dataclass(frozen=True)
class Provenance:
    """A setting's value and where it came from (a config file, an environment
    variable, ``%aca_config``, the default), as ``doctor`` and ``%aca_config`` show it."""

    value: str
    source: str

    def shown(self, name: str) -> str:
        """The value, or only whether it is set for a secret (the token)."""
        if name in SECRET_SETTINGS:
            return "set (hidden)" if self.value else "not set"
        return self.value


def provenance(
    name: str,
    explicit: Sequence[Mapping[str, Provenance]] = (),
    env_layers: Sequence[tuple[str, Mapping[str, str]]] = (),
) -> Provenance:
    """Where setting ``name`` comes from, in the order the kernel applies them.

    First the ``explicit`` layers that set it (``--endpoint``, ``%aca_config``, a
    config file; highest priority first; one that sets "" still wins, with the
    default as value), then its environment variables in each of ``env_layers``
    (``(label, environ)``; the process environment when none is given), then its
    default.
    """
    names, fallback = ENV_FALLBACKS.get(name, ((), ""))
    for layer in explicit:
        found = layer.get(name)
        if found is not None:  # set, even to "": a trait beats its env fallback
            return found if found.value else Provenance(fallback, found.source)
    for label, env in env_layers or (("the environment", os.environ),):
        for var in names:
            value = str(env.get(var, "")).strip()
            if value:
                return Provenance(value, f"{var} from {label}")
    return Provenance(fallback, "default")


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

    auth = Unicode(
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

    max_connections = Int(
        help=f"Connections one client opens to the pool at most (default "
        f"{DEFAULT_MAX_CONNECTIONS}); more requests queue for a free one, up to their read "
        "timeout. Env: ACA_MAX_CONNECTIONS.",
    ).tag(config=True)

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

    pool_type = Unicode(
        help="What the pool's sessions run: python (PythonLTS / custom containers), "
        "javascript (NodeLTS) or shell (Shell); decides the request body (code or "
        "shellCommand) and, for the embedded pool, its runtime. Env: ACA_POOL_TYPE.",
    ).tag(config=True)

    @default("pool_type")
    def _default_pool_type(self) -> str:
        return check_pool_type(self._env_fallback("pool_type"))

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

    # Environment fallbacks are not validated here (traitlets does not validate
    # defaults): the client checks them with the same rules when it is built, so a
    # bad variable is a one-line error in the first cell, not a kernel that won't start.
    @default("pool_endpoint")
    def _default_endpoint(self) -> str:
        return self._env_fallback("pool_endpoint").rstrip("/")

    @default("api_version")
    def _default_api_version(self) -> str:
        return self._env_fallback("api_version")

    @default("session_id")
    def _default_session_id(self) -> str:
        return self._env_fallback("session_id")

    @default("auth")
    def _default_auth(self) -> str:
        return self._env_fallback("auth").lower()

    @default("token")
    def _default_token(self) -> str:
        return self._env_fallback("token")

    @default("max_connections")
    def _default_max_connections(self) -> int:
        return check_max_connections(self._env_fallback("max_connections"))

    @staticmethod
    def _env_fallback(name: str) -> str:
        names, fallback = ENV_FALLBACKS[name]
        return env_first(names, fallback)

    @validate(*CHECKS)
    def _valid(self, proposal: Any) -> Any:
        return CHECKS[proposal["trait"].name](proposal["value"])

    def resolved_auth(self, endpoint: str | None = None) -> str:
        """The auth mode ``auto`` stands for, given the endpoint in use."""
        return resolve_auth(
            self.auth,
            token=self.token,
            endpoint=self.pool_endpoint if endpoint is None else endpoint,
        )

    def assign(self, name: str, value: Any, source: str) -> None:
        """Set ``name`` (validated by its trait) and remember who set it, for :meth:`provenance`."""
        setattr(self, name, value)
        self._assigned()[name] = Provenance(str(value), source)

    def _assigned(self) -> dict[str, Provenance]:
        if not hasattr(self, "_assigned_by"):
            self._assigned_by: dict[str, Provenance] = {}
        return self._assigned_by

    def _config_layer(self, name: str) -> dict[str, Provenance]:
        """``name`` as a config file set it; the most specific section wins, as in traitlets."""
        for cls in type(self).__mro__:
            section = cls.__name__
            if section in self.config and name in self.config[section]:
                value = str(self.config[section][name])
                return {name: Provenance(value, f"c.{section}.{name} in a config file")}
        return {}

    def provenance(self, name: str) -> Provenance:
        """The value of ``name`` in effect and where it came from."""
        found = provenance(name, [self._assigned(), self._config_layer(name)])
        value = str(getattr(self, name))
        if found.value != value and found.source == "default" and name in ENV_FALLBACKS:
            return Provenance(value, "set by the program")
        return Provenance(value, found.source)

    def describe(self) -> dict[str, str]:
        """Settings safe to show a user: never the token."""
        return {
            "pool_endpoint": self.pool_endpoint or "(embedded local pool)",
            "api_version": self.api_version,
            "auth": self.resolved_auth(),
            "token": Provenance(self.token, "").shown("token"),
            "session_id": self.session_id or "(new per start)",
            "execution_timeout": f"{self.execution_timeout:g} s",
        }
