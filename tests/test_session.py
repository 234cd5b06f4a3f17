"""RemoteSession: notices, lost state, identifiers (against the real local pool)."""

from __future__ import annotations

import asyncio

import pytest

from remote_kernel import errors
from remote_kernel.client.models import Notice
from remote_kernel.config import PoolSettings
from remote_kernel.session import LOCAL_POOL, LOCAL_POOL_NOTICE, LOST_STATE, RemoteSession


def settings_for(pool, **kw):
    return PoolSettings(pool_endpoint=pool.url, token=pool.token, **kw)


def notice_kinds(result):
    """The typed notices; a notice is never one of the cell's own outputs."""
    assert not any(o.get("name") == "stderr" for o in result.outputs)
    return [n.kind for n in result.notices]


def test_fresh_identifier_per_session_object(local_pool):
    a, b = RemoteSession(settings_for(local_pool)), RemoteSession(settings_for(local_pool))
    assert a.session_id != b.session_id


def test_lost_state_warning_from_session_created(local_pool):
    rs = RemoteSession(settings_for(local_pool))
    try:
        assert rs.execute("v = 1").ok
        rs.client.delete_session(rs.session_id)  # as a cooldown would
        result = rs.execute("print('next')")
        assert notice_kinds(result) == [LOST_STATE]
        assert "recycled" in result.notices[0].text and rs.session_id in result.notices[0].text
        assert result.stdout == "next\n"
        assert notice_kinds(rs.execute("1")) == []
    finally:
        rs.close()


def test_lost_state_probe_when_pool_does_not_say(local_pool, monkeypatch):
    rs = RemoteSession(settings_for(local_pool), idle_probe_after=0.0)
    real = rs.client.protocol.parse_execution

    def azure_like(response, session):  # drop the local pool's sessionCreated flag
        result = real(response, session)
        result.session_created = None
        return result

    monkeypatch.setattr(rs.client.protocol, "parse_execution", azure_like)
    try:
        rs.execute("v = 1")
        assert notice_kinds(rs.execute("v")) == []
        rs.client.delete_session(rs.session_id)
        assert notice_kinds(rs.execute("2")) == [LOST_STATE]
    finally:
        rs.close()


def test_configured_identifier_is_validated():
    with pytest.raises(errors.InvalidIdentifierError):
        RemoteSession(PoolSettings(session_id="bad_id"))
    rs = RemoteSession(PoolSettings(session_id="my-session-001"))
    assert rs.session_id == "my-session-001"
    with pytest.raises(errors.InvalidIdentifierError):
        rs.use_session("x")


def test_embedded_pool_started_announced_once_and_stopped():
    rs = RemoteSession(PoolSettings(pool_endpoint=""))
    try:
        first = rs.execute("print('hi')")
        assert first.notices == [Notice(LOCAL_POOL, LOCAL_POOL_NOTICE)]
        assert notice_kinds(rs.execute("print('again')")) == []
        assert rs.is_local and rs.client.auth_mode == "token"
        url = rs.endpoint
    finally:
        rs.close()
    import httpx

    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/listSessions", timeout=2)


def test_deferred_notices_come_with_the_next_result(local_pool):
    """A hidden call (completion, silent code) gives its notices back; the next shows them."""
    rs = RemoteSession(settings_for(local_pool))
    try:
        assert rs.execute("v = 1").ok
        rs.client.delete_session(rs.session_id)
        hidden = rs.execute("1")
        assert notice_kinds(hidden) == [LOST_STATE]
        rs.defer_notices(hidden.notices)
        assert rs.execute("2").notices == hidden.notices
        assert notice_kinds(rs.execute("3")) == []
    finally:
        rs.close()


def test_close_deletes_the_session_it_created(local_pool):
    rs = RemoteSession(settings_for(local_pool))
    rs.execute("1")
    sid = rs.session_id
    rs.close()
    from remote_kernel.client import SessionPoolClient

    with SessionPoolClient(local_pool.url, token=local_pool.token) as c:
        assert sid not in {s.identifier for s in c.list_sessions()}


async def test_reconfigure_closes_the_dropped_async_client(local_pool):
    """A settings change (``%aca_config`` in the kernel) drops the async client: it is closed
    on the kernel's loop, so its connections do not linger until garbage collection."""
    rs = RemoteSession(settings_for(local_pool))
    try:
        assert (await rs.aexecute("1 + 1")).value == 2
        old = rs.aclient
        closed: list[bool] = []
        real_aclose = old.aclose

        async def recording_aclose() -> None:
            await real_aclose()
            closed.append(True)

        old.aclose = recording_aclose
        rs.reconfigure()
        for _ in range(100):
            if closed:
                break
            await asyncio.sleep(0.01)
        assert closed, "the dropped async client was not closed"
        assert rs.aclient is not old
        assert (await rs.aexecute("2 + 2")).value == 4
    finally:
        await rs.aclose()
