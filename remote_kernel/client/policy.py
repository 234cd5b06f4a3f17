"""How each request is tried: retries, one token refresh after a 401, and what a
failed send means to the user. Written once, as a step around the operation's step.

:meth:`Policy.drive` wraps an operation's step. For each :class:`Request` it
yields the request (the shell sends it once and answers with a
:class:`Response` or a :class:`SendError`) and :class:`Sleep` between tries.
A request that may have reached the server is tried again only when it is
idempotent, so an execution is never re-sent.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from remote_kernel import errors
from remote_kernel.client.auth import Auth
from remote_kernel.client.error_map import ENDPOINT_FIX
from remote_kernel.client.messages import Request, Response, SendError, Sleep, Step
from remote_kernel.config import DEFAULT_MAX_CONNECTIONS, is_loopback

#: GET/DELETE and polling: at most this many tries, with these pauses.
RETRY_DELAYS = (0.2, 0.5, 1.0)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Read timeout of a request that names none (an execution names its own).
DEFAULT_READ_TIMEOUT = 60.0

#: What the shell is asked to do, and what it answers.
Driven = Generator["Request | Sleep", "Response | SendError | None", Any]


class Policy:
    """The retry and refresh rules of one client (its endpoint and its auth)."""

    def __init__(
        self, endpoint: str, auth: Auth, max_connections: int = DEFAULT_MAX_CONNECTIONS
    ) -> None:
        self.endpoint = endpoint
        self.auth = auth
        self.max_connections = max_connections

    def drive(self, step: Step) -> Driven:
        """Run ``step``, each of its requests tried as the rules allow; return its value.

        A failed request's error is thrown into ``step``, so a step that composes
        others (``RemoteSession``'s) can catch it where it made the call.
        """
        try:
            instruction = next(step)
            while True:
                if isinstance(instruction, Sleep):
                    yield instruction
                    instruction = step.send(None)  # type: ignore[arg-type]
                    continue
                try:
                    response = yield from self.attempts(instruction)
                except errors.RemoteKernelError as exc:
                    instruction = step.throw(exc)
                else:
                    instruction = step.send(response)
        except StopIteration as stop:
            return stop.value
        finally:
            step.close()

    def attempts(self, req: Request) -> Driven:
        """Send ``req`` until it has an answer worth returning (or raise why not)."""
        attempt = 0
        refreshed = False
        while True:
            answer = yield req
            if isinstance(answer, SendError):
                delay = retry_delay(req, attempt, error=answer)
                if delay is None:
                    raise self.transport_error(answer, req)
            elif answer.status_code == 401 and not refreshed and self.auth.mode == "azure":
                refreshed = True  # a rejected request ran nothing: safe to send again
                self.auth.invalidate()
                _rewind(req)
                continue
            else:
                delay = retry_delay(req, attempt, response=answer)
                if delay is None:
                    return answer
            _rewind(req)
            yield Sleep(delay)
            attempt += 1

    def transport_error(self, error: SendError, req: Request) -> errors.TransportError:
        """The user's error for a request that got no answer, with what to do."""
        op = req.operation or "request"
        reason = errors.redact(error.reason, *self.auth.secrets())
        if error.kind == "read_timeout":
            seconds = req.read_timeout or DEFAULT_READ_TIMEOUT
            tail = (
                " The execution was not re-sent; it may still be running in the session."
                if op == "execute"
                else ""
            )
            return errors.PoolTimeoutError(
                f"The pool did not answer the {op} within {seconds:g} s.{tail}",
                fix="Raise the timeout (c.PoolSettings.execution_timeout, at most 220 s) or "
                "make the cell shorter.",
            )
        if error.kind == "pool_full":
            return self.pool_full_error(req)
        if error.kind == "connect":
            local = " For the local pool, start it with `remote-kernel serve`."
            return errors.PoolConnectionError(
                f"Cannot reach the session pool at {self.endpoint} ({op}): {reason}.",
                fix=ENDPOINT_FIX + (local if is_loopback(self.endpoint) else ""),
            )
        if error.kind == "timeout":
            return errors.PoolTimeoutError(f"The {op} timed out: {reason}.")
        tail = " The execution was not re-sent." if op == "execute" else ""
        return errors.TransportError(
            f"The connection to {self.endpoint} broke during the {op}: {reason}.{tail}"
        )

    def pool_full_error(self, req: Request) -> errors.ClientPoolFullError:
        """A request that waited its whole budget for one of the client's own connections."""
        op = req.operation or "request"
        seconds = req.read_timeout or DEFAULT_READ_TIMEOUT
        return errors.ClientPoolFullError(
            f"The {op} waited {seconds:g} s for a free connection of this client's own "
            f"connection pool (max_connections={self.max_connections}) and was not sent: "
            "all its connections stayed busy with other requests. The session pool was not "
            "contacted.",
            fix="Raise the limit (c.PoolSettings.max_connections, the ACA_MAX_CONNECTIONS "
            "environment variable, or the client's max_connections= argument), or run fewer "
            "requests at once.",
        )


def retry_delay(
    req: Request,
    attempt: int,
    *,
    error: SendError | None = None,
    response: Response | None = None,
) -> float | None:
    """Seconds to wait before another try, or None: do not try again.

    A request that may have reached the server (anything but a failed
    connect) is retried only when idempotent: an execution never runs twice. A
    request that queued its whole budget for the client's own pool (``pool_full``)
    is not tried again: another wait would only double the user's.
    """
    if attempt >= len(RETRY_DELAYS):
        return None
    if error is not None:
        if error.kind == "pool_full":
            return None
        safe = error.kind == "connect" or (req.idempotent and error.kind != "read_timeout")
        return RETRY_DELAYS[attempt] if safe else None
    if response is not None and req.idempotent and response.status_code in RETRY_STATUSES:
        after = response.header("retry-after")
        try:
            return min(float(after), 10.0) if after else RETRY_DELAYS[attempt]
        except ValueError:
            return RETRY_DELAYS[attempt]
    return None


def _rewind(req: Request) -> None:
    """An upload is read again from its start on the next try."""
    if req.upload is not None:
        req.upload[2].rewind()
