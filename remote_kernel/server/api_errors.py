"""The error answer every layer of the local pool raises: an HTTP status plus Azure's body.

Its own module so that the pool, the file area and the routes raise it without
importing each other (``shapes`` renders bodies *from* the pool's sessions and
executions; the pool must not depend on ``shapes`` in turn).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer: HTTP status plus Azure's ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
