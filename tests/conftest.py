"""Shared fixtures: one real local pool over real HTTP for the whole test run.

``local_pool`` is a running :class:`remote_kernel.server.LocalPool` (``.url``,
``.token``) on 127.0.0.1 with a token; ``pool_client`` is a
``SessionPoolClient`` for it (imported lazily, so the server's own tests do
not depend on the client).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from remote_kernel.server import LocalPool, start_local_pool


@pytest.fixture(scope="session")
def local_pool() -> Iterator[LocalPool]:
    """Room for every session the whole suite opens; sessions a test abandons are
    reaped after Azure's shortest cooldown (300 s) so kernels do not pile up."""
    pool = start_local_pool(
        token=secrets.token_urlsafe(24), prewarm=1, max_sessions=100, cooldown=300
    )
    try:
        yield pool
    finally:
        pool.stop()


@pytest.fixture
def pool_client(local_pool: LocalPool) -> Iterator[Any]:
    from remote_kernel.client import SessionPoolClient

    with SessionPoolClient(local_pool.url, token=local_pool.token) as client:
        yield client
