"""Error mapping: an HTTP error answer to the one exception a user meets, with its fix.

Pure functions of a :class:`Response`; the fix texts live here so every
operation names the same remedy for the same status.
"""

from __future__ import annotations

import json
from typing import Any

from remote_kernel import errors
from remote_kernel.client.messages import Response

STATIC_TOKEN_FIX = {
    "token": "The pool rejected the static token: check ACA_POOL_TOKEN (or c.PoolSettings.token) "
    "against the token the pool expects (`remote-kernel serve --token`); an Azure access token "
    "pasted by hand expires after about an hour.",
    "none": "The pool wants a bearer token: set ACA_POOL_TOKEN, or use auth='azure' for Azure.",
}

ENDPOINT_FIX = (
    "Check the pool endpoint: `az containerapp sessionpool show -n <pool> -g <group> "
    "--query properties.poolManagementEndpoint -o tsv`."
)

SESSION_EXPIRED_FIX = (
    "The session expired after its cooldown (or the endpoint is wrong):"
    " run the cell again to start a fresh session; earlier variables and files "
    "are gone."
)

_FULL_WORDS = ("full", "maxconcurrentsessions", "max-sessions", "capacity")


def permission_fix(pool_name: str) -> str:
    return (
        f"Your identity needs the role 'Azure ContainerApps Session Executor' "
        f"on the session pool '{pool_name}' (az role assignment create --role "
        '"Azure ContainerApps Session Executor" --assignee <you> --scope <pool id>).'
    )


def error_for(
    response: Response,
    operation: str,
    *,
    auth_mode: str,
    pool_name: str,
    session: str | None = None,
    name: str | None = None,
) -> errors.PoolHTTPError:
    """The exception for an error answer (status >= 400) to ``operation``."""
    status = response.status_code
    code = error_code(response)
    detail = _error_message(response)
    rid = request_id(response)
    where = f" (session {session!r})" if session else ""
    head = f"{operation.capitalize()} failed{where}: HTTP {status}"
    head += f" {code}" if code else ""
    head += f": {detail}" if detail else "."
    kw: dict[str, Any] = {
        "status_code": status,
        "code": code,
        "request_id": rid,
        "body": response.body,
    }
    lowered = f"{code} {detail}".lower()
    if status == 401:
        return errors.AuthenticationError(head, fix=STATIC_TOKEN_FIX.get(auth_mode), **kw)
    if status == 403:
        return errors.PermissionDeniedError(head, fix=permission_fix(pool_name), **kw)
    if status == 413:
        return errors.PayloadTooLargeError(head, **kw)
    if status == 429:
        return errors.RateLimitedError(head, retry_after=retry_after(response), **kw)
    if status == 409 or any(word in lowered for word in _FULL_WORDS):
        return errors.PoolFullError(head, **kw)
    if status == 404:
        return _not_found(head, operation, name, kw)
    if status >= 500:
        tail = f" Request id: {rid}." if rid else ""
        return errors.ServerError(
            head + tail,
            fix="Retry later; if it persists, report the request id to the pool's owner.",
            **kw,
        )
    if status == 400 and "identifier" in lowered:
        return errors.BadRequestError(head, fix=errors.InvalidIdentifierError.fix, **kw)
    return errors.BadRequestError(head, **kw)


def _not_found(
    head: str, operation: str, name: str | None, kw: dict[str, Any]
) -> errors.PoolHTTPError:
    if operation == "execute":
        return errors.SessionExpiredError(head, fix=SESSION_EXPIRED_FIX, **kw)
    if name:
        return errors.NotFoundError(head, fix="List the files with `%aca_files`.", **kw)
    return errors.NotFoundError(head, fix=ENDPOINT_FIX, **kw)


def _error_body(response: Response) -> tuple[str | None, str]:
    body = response.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = body.strip()
        try:
            body = json.loads(text) if text[:1] in '{["' else text
        except ValueError:
            body = text
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return err.get("code"), str(err.get("message") or err.get("detail") or "")
        return None, str(err)
    return None, str(body or "")[:500]


def error_code(response: Response) -> str | None:
    return _error_body(response)[0] or response.header("x-ms-error-code")


def _error_message(response: Response) -> str:
    return errors.redact(_error_body(response)[1].strip())


def request_id(response: Response) -> str | None:
    return response.header("x-ms-request-id") or response.header("apim-request-id")


def retry_after(response: Response) -> float | None:
    value = response.header("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
