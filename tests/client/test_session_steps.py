"""RemoteSession's execute and close, written once as steps, driven by both shells."""

from __future__ import annotations

import asyncio

import pytest

from remote_kernel import errors
from remote_kernel.client import SessionPoolClient
from remote_kernel.config import PoolSettings
from remote_kernel.session import RemoteSession


def _on_pool(local_pool, session_id):
    with SessionPoolClient(local_pool.url, token=local_pool.token) as client:
        return session_id in {s.identifier for s in client.list_sessions()}


def test_async_execute_keeps_state_and_aclose_deletes_the_session(local_pool):
    rs = RemoteSession(PoolSettings(pool_endpoint=local_pool.url, token=local_pool.token))

    async def go():
        assert (await rs.aexecute("v = 41")).ok
        result = await rs.aexecute("v + 1")
        assert _on_pool(local_pool, rs.session_id)
        await rs.aclose()
        return result

    assert asyncio.run(go()).value == 42
    assert not _on_pool(local_pool, rs.session_id)


def test_sync_close_can_keep_the_session(local_pool):
    rs = RemoteSession(PoolSettings(pool_endpoint=local_pool.url, token=local_pool.token))
    assert rs.execute("print('x')").stdout == "x\n"
    rs.close(delete_session=False)
    assert _on_pool(local_pool, rs.session_id)
    rs.client.delete_session(rs.session_id)
    rs.close(delete_session=False)


def test_an_unreachable_pool_reaches_the_session_step_as_a_connection_error():
    rs = RemoteSession(PoolSettings(pool_endpoint="http://127.0.0.1:9", connect_timeout=1))
    with pytest.raises(errors.PoolConnectionError, match="127.0.0.1:9"):
        rs.execute("1")
    rs.close(delete_session=False)
