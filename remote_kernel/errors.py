"""Every error a user of remote_kernel can meet, and the fix each one names.

The tree (modelled on httpx's ``_exceptions.py``)::

    RemoteKernelError                 base class: catch this to catch everything
    ├── ConfigurationError            bad setting / bad input (identifier, option, path)
    │   ├── InvalidIdentifierError    a session identifier outside Azure's rules
    │   └── UsageError                a %aca_* line used wrong in the kernel (IPython's name)
    ├── TransportError                the pool could not be reached or answered nothing
    │   ├── PoolConnectionError       DNS failure, connection refused, TLS failure
    │   ├── PoolTimeoutError          connect/read timeout (the execution is NOT re-sent)
    │   └── ClientPoolFullError       the client's OWN connections stayed busy: not sent
    ├── PoolHTTPError                 the pool answered with an HTTP error status
    │   ├── BadRequestError           400: the request broke a rule (message from the pool)
    │   ├── AuthenticationError       401: no/expired token, or role not yet propagated
    │   ├── PermissionDeniedError     403: missing "Azure ContainerApps Session Executor"
    │   ├── NotFoundError             404: unknown file / route
    │   │   └── SessionExpiredError   404 on an execution: the session was recycled
    │   ├── PoolFullError             409/404 "pool full": maxConcurrentSessions reached
    │   ├── PayloadTooLargeError      413: upload over the 128 MB limit
    │   ├── RateLimitedError          429: too many requests (Retry-After honoured)
    │   └── ServerError               5xx (message carries the request id)
    ├── ExecutionError                the remote code raised (carries ename/evalue/traceback)
    │   ├── ExecutionTimeoutError     the execution ran past its timeout
    │   └── ExecutionCancelledError   the execution was cancelled (interrupt)
    ├── SessionLostError              the session's state is gone (kernel died / recycled)
    └── TransferError                 a file could not be sent or received (nothing changed)

Messages never contain a token: :func:`redact` scrubs anything that looks
like one before it reaches a message.
"""

from __future__ import annotations

import re
from typing import Any

#: 8+ characters: prose such as "wrong bearer token: ..." stays readable.
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/=]{8,}")
_JWT = re.compile(r"eyJ[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+")


def redact(text: str, *secrets: str | None) -> str:
    """Remove bearer tokens, JWTs and the given secrets from ``text``."""
    text = _BEARER.sub(r"\1***", text)
    text = _JWT.sub("***", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class RemoteKernelError(Exception):
    """Base class of every error raised by remote_kernel."""

    #: A short sentence saying how to fix the problem (may be empty).
    fix: str = ""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        if fix is not None:
            self.fix = fix
        self.message = message
        super().__init__(self._full())

    def _full(self) -> str:
        return f"{self.message} {self.fix}".strip() if self.fix else self.message


class ConfigurationError(RemoteKernelError):
    """A setting or an argument is invalid; nothing was sent."""


class UsageError(ConfigurationError):
    """A ``%aca_*`` command or ``%%aca`` line used wrong (a missing local file, a bad option).

    The remote kernel names it so because IPython shows the same mistake in the magics
    as IPython's own ``UsageError``: one mistake, one name, whichever front-end.
    """


class InvalidIdentifierError(ConfigurationError):
    """A session identifier breaks Azure's rules."""

    fix = (
        "Identifiers are 4-128 characters: letters, digits and | - & ^ % $ # ( ) { } [ ] ; < > "
        "(no '_', '.', '/' or spaces)."
    )


class TransportError(RemoteKernelError):
    """The pool could not be reached, or the connection broke."""


class PoolConnectionError(TransportError):
    """DNS failure, refused connection, TLS failure."""


class PoolTimeoutError(TransportError):
    """A connect or read timeout. An execution is never re-sent after one."""


class ClientPoolFullError(TransportError):
    """The request queued for a free connection of the client's own pool (all
    ``max_connections`` busy) for its whole read timeout and was not sent.

    The session pool was not contacted, so this is not a :class:`PoolConnectionError`.
    """


class PoolHTTPError(RemoteKernelError):
    """The pool answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        fix: str | None = None,
        body: Any = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.body = body
        super().__init__(message, fix=fix)


class BadRequestError(PoolHTTPError):
    """400: the pool rejected the request."""


class AuthenticationError(PoolHTTPError):
    """401."""

    fix = (
        "Run `az login` (or set a service principal / managed identity for "
        "DefaultAzureCredential). If you were just granted the role, wait a few minutes "
        "for the role assignment to propagate."
    )


class PermissionDeniedError(PoolHTTPError):
    """403."""


class NotFoundError(PoolHTTPError):
    """404."""


class SessionExpiredError(NotFoundError):
    """404 on an execution: the session was recycled after its cooldown."""


class PoolFullError(PoolHTTPError):
    """The pool holds its maximum number of sessions."""

    fix = (
        "Wait for idle sessions to expire, delete sessions you no longer need "
        "(`%aca_session delete ID`), or raise the pool's maxConcurrentSessions."
    )


class PayloadTooLargeError(PoolHTTPError):
    """413."""

    fix = "Dynamic sessions accept uploads of at most 128 MB per file: split or compress the file."


class RateLimitedError(PoolHTTPError):
    """429."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(PoolHTTPError):
    """5xx."""


class ExecutionError(RemoteKernelError):
    """The remote code raised an exception."""

    def __init__(
        self, message: str, *, ename: str = "", evalue: str = "", traceback: list[str] | None = None
    ) -> None:
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback or []
        super().__init__(message)


class ExecutionTimeoutError(ExecutionError):
    """The execution ran past its timeout."""


class ExecutionCancelledError(ExecutionError):
    """The execution was cancelled by an interrupt."""


class SessionLostError(RemoteKernelError):
    """The remote session's state (variables, files) is gone."""


class TransferError(RemoteKernelError):
    """A file transfer failed; the session's files are as they were."""
