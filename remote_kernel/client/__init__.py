"""The session-pool REST client: one protocol layer (``protocol.py``), two thin
shells (``SessionPoolClient`` and ``AsyncSessionPoolClient``) with the same methods."""

from remote_kernel.client.async_client import AsyncSessionPoolClient
from remote_kernel.client.auth import Auth, CredentialAuth, StaticTokenAuth
from remote_kernel.client.models import (
    ErrorInfo,
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
    "ExecutionResult",
    "ExecutionStatus",
    "FileInfo",
    "PackageInfo",
    "SessionInfo",
    "SessionPoolClient",
    "StaticTokenAuth",
]
