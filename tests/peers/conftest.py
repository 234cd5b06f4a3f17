"""Existing Azure clients, installed unchanged (the test extra), pointed at a local pool.

Each test runs twice: on the embedded pool (the suite's shared ``local_pool``)
and on ``remote-kernel serve`` in its own process. Every session a client
creates is deleted afterwards through the pool's own API, so neither fills up.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from reliability.pool_process import ServedPool

from remote_kernel.server import LocalPool


@pytest.fixture(scope="module", params=["embedded", "serve"])
def local_pool(
    request: pytest.FixtureRequest, local_pool: LocalPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The pool a peer client talks to: the embedded one, or ``remote-kernel serve``."""
    if request.param == "embedded":
        yield local_pool
        return
    served = ServedPool(
        tmp_path_factory.mktemp("serve") / "serve.log",
        token=secrets.token_urlsafe(24),
        max_sessions=16,
        log_level="warning",
    )
    try:
        yield served
    finally:
        served.stop()


class SessionJanitor:
    """Remembers identifiers and deletes their sessions at the end of a test."""

    def __init__(self, pool: LocalPool) -> None:
        self.pool = pool
        self.identifiers: list[str] = []
        self.http = httpx.Client(
            base_url=pool.url, headers={"Authorization": f"Bearer {pool.token}"}, timeout=60
        )

    def add(self, identifier: str) -> str:
        self.identifiers.append(identifier)
        return identifier

    def exists(self, identifier: str) -> bool:
        params = {"api-version": "2025-10-02-preview", "identifier": identifier}
        return self.http.get("/session", params=params).status_code == 200

    def files(self, identifier: str) -> dict[str, int]:
        params = {"api-version": "2024-10-02-preview", "identifier": identifier}
        body = self.http.get("/files", params=params).json()
        return {entry["name"]: entry["sizeInBytes"] for entry in body["value"]}

    def clean(self) -> None:
        for identifier in self.identifiers:
            params = {"api-version": "2024-10-02-preview", "identifier": identifier}
            self.http.delete("/session", params=params)
        self.http.close()


@pytest.fixture
def janitor(local_pool: LocalPool) -> Iterator[SessionJanitor]:
    keeper = SessionJanitor(local_pool)
    yield keeper
    keeper.clean()
