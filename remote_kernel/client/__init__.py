"""The session-pool REST client: a sans-I/O protocol layer (``operations.py`` over
``codecs.py``, ``error_map.py`` and ``synthesis.py``), and two thin shells
(``SessionPoolClient`` and ``AsyncSessionPoolClient``) that drive its steps
with the same methods (``methods.py``)."""

from remote_kernel.client.async_client import AsyncSessionPoolClient
from remote_kernel.client.auth import Auth, CredentialAuth, StaticTokenAuth
from remote_kernel.client.models import (
    ErrorInfo,
    ExecutionEvent,
    ExecutionResult,
    ExecutionStatus,
    FileInfo,
    PackageInfo,
    SessionInfo,
)
from remote_kernel.client.sync_client import SessionPoolClient

__all__ = [
    "AsyncSessionPoolClient",
    "Auth",
    "CredentialAuth",
    "ErrorInfo",
    "ExecutionEvent",
    "ExecutionResult",
    "ExecutionStatus",
    "FileInfo",
    "PackageInfo",
    "SessionInfo",
    "SessionPoolClient",
    "StaticTokenAuth",
]
