"""``max_connections``: one setting, validated like the others, reaching both clients'
connection pools; a full pool of the sync client queues too (against the real local pool)."""

from __future__ import annotations

import threading

import pytest

from remote_kernel import errors
from remote_kernel.client import AsyncSessionPoolClient, SessionPoolClient
from remote_kernel.config import PoolSettings
from remote_kernel.identifiers import new_identifier

EP = "https://pool.example"


def test_the_setting_comes_from_the_environment_and_reaches_both_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACA_MAX_CONNECTIONS", "7")
    settings = PoolSettings(token="t0ken-value")
    assert settings.max_connections == 7
    assert settings.provenance("max_connections").source == (
        "ACA_MAX_CONNECTIONS from the environment"
    )
    with SessionPoolClient.from_settings(settings, EP) as sync:
        assert sync.max_connections == 7
        assert sync._http._transport._pool._max_connections == 7  # httpx.Limits
    aio = AsyncSessionPoolClient.from_settings(settings, EP)
    assert aio.max_connections == 7
    assert aio._transport.wire.max_connections == 7


def test_the_default_is_200(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACA_MAX_CONNECTIONS", raising=False)
    assert PoolSettings().max_connections == 200
    assert AsyncSessionPoolClient(EP, token="t0ken-value")._transport.wire.max_connections == 200


@pytest.mark.parametrize("bad", [0, -3])
def test_a_limit_below_one_is_a_one_line_error(bad: int) -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        PoolSettings(max_connections=bad)
    assert f"max_connections must be a whole number of at least 1, got {bad!r}." in str(
        caught.value
    )
    assert "ACA_MAX_CONNECTIONS" in str(caught.value)
    with pytest.raises(errors.ConfigurationError):
        SessionPoolClient(EP, token="t0ken-value", max_connections=bad)


def test_a_bad_environment_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACA_MAX_CONNECTIONS", "lots")
    with pytest.raises(errors.ConfigurationError) as caught:
        PoolSettings().max_connections  # noqa: B018 - reading it is what fails
    assert "got 'lots'" in str(caught.value)


@pytest.mark.timeout(180)
def test_the_sync_clients_full_pool_queues_instead_of_failing(local_pool) -> None:  # type: ignore[no-untyped-def]
    """One connection, two threads: the second waits for the first (it used to fail
    after ``connect_timeout`` with "cannot reach the session pool")."""
    client = SessionPoolClient(
        local_pool.url, token=local_pool.token, max_connections=1, connect_timeout=0.2
    )
    first, second = new_identifier("limit-a"), new_identifier("limit-b")
    client.execute("1", session=second)  # its kernel is up before the race
    results: dict[str, object] = {}

    def run(session: str, code: str) -> None:
        try:
            results[session] = client.execute(code, session=session, timeout=60).value
        except errors.RemoteKernelError as exc:
            results[session] = exc

    slow = threading.Thread(target=run, args=(first, "import time; time.sleep(3); 'a'"))
    slow.start()
    try:
        while client._http._transport._pool.connections == [] and slow.is_alive():
            threading.Event().wait(0.01)
        threading.Event().wait(0.5)  # the slow one holds the only connection
        run(second, "'b'")
    finally:
        slow.join(60)
        client.close()
        with SessionPoolClient(local_pool.url, token=local_pool.token) as cleanup:
            for session in (first, second):
                cleanup.delete_session(session)
    assert results == {first: "a", second: "b"}
