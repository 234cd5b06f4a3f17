"""Fixtures: the shared local pool through raw httpx; sessions cleaned up after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pool_api import Api as Pool

from remote_kernel.server import LocalPool

from .helpers import new_sid


@pytest.fixture(scope="session")
def pool_api(local_pool: LocalPool) -> Iterator[Pool]:
    api = Pool.of(local_pool)
    yield api
    api.close()


@pytest.fixture
def sids(pool_api: Pool) -> Iterator[list[str]]:
    """Fresh identifiers (``sids[0]``, ``sids[1]``, ...), their sessions deleted afterwards."""
    made = [new_sid() for _ in range(3)]
    yield made
    for sid in made:
        pool_api.delete(sid)
