"""Fixtures for the server tests: raw httpx against the shared local pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pool_api import Api

from remote_kernel.identifiers import new_identifier
from remote_kernel.server import LocalPool


@pytest.fixture(scope="session")
def api(local_pool: LocalPool) -> Iterator[Api]:
    client = Api(local_pool, token=local_pool.token)
    yield client
    client.close()


@pytest.fixture
def sid(api: Api) -> Iterator[str]:
    """A fresh identifier (its first call creates a session), deleted after the test."""
    ident = new_identifier("srv")
    yield ident
    api.request("DELETE", "/session", ident)


@pytest.fixture(scope="module")
def shared_sid(api: Api) -> Iterator[str]:
    """One session for the tests of a module that only add state of their own."""
    ident = new_identifier("shared")
    yield ident
    api.request("DELETE", "/session", ident)
