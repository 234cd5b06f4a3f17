"""What only Azure (or a broken network) produces, through a mock transport."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import SimpleNamespace

import httpx
import pytest

from remote_kernel import errors
from remote_kernel.client import AsyncSessionPoolClient, CredentialAuth, SessionPoolClient

EP = "https://eastus.dynamicsessions.io/subscriptions/s/resourceGroups/g/sessionPools/p1"
SUCCESS = {
    "id": "e",
    "status": "Succeeded",
    "result": {"stdout": "2\n", "stderr": "", "executionResult": 2},
}


class FakeCredential:
    """Tokens that expire ``lifetime`` seconds after issue."""

    def __init__(self, lifetime: float, clock=time.time) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self.issued = 0
        self.lock = threading.Lock()

    def get_token(self, *scopes, **kw):
        with self.lock:
            self.issued += 1
            n = self.issued
        time.sleep(0.01)
        return SimpleNamespace(
            token=f"tok-{n}-secretvalue", expires_on=self.clock() + self.lifetime
        )


def recording_transport(handler):
    seen: list[httpx.Request] = []

    def wrapped(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.MockTransport(wrapped), seen


def test_token_is_cached_and_sent():
    cred = FakeCredential(lifetime=3600)
    transport, seen = recording_transport(lambda r: httpx.Response(200, json=SUCCESS))
    client = SessionPoolClient(EP, credential=cred, transport=transport)
    for _ in range(3):
        client.execute("1+1", session="s-123")
    assert cred.issued == 1
    assert {r.headers["authorization"] for r in seen} == {"Bearer tok-1-secretvalue"}
    assert seen[0].url.params["api-version"] == "2024-10-02-preview"
    assert "secretvalue" not in repr(client)


def test_token_refreshed_before_expiry():
    now = [1000.0]
    cred = FakeCredential(lifetime=3600, clock=lambda: now[0])
    auth = CredentialAuth(cred, clock=lambda: now[0])
    transport, seen = recording_transport(lambda r: httpx.Response(200, json=SUCCESS))
    client = SessionPoolClient(EP, auth=auth, transport=transport)
    client.execute("1", session="s-123")
    now[0] += 3600 - 301  # still valid for 301 s: outside the refresh margin
    client.execute("1", session="s-123")
    assert cred.issued == 1
    now[0] += 2  # 299 s left: inside the margin, refreshed before it expires
    client.execute("1", session="s-123")
    assert cred.issued == 2
    assert seen[2].headers["authorization"] == "Bearer tok-2-secretvalue"


def test_token_refresh_is_single_flight_under_concurrency():
    cred = FakeCredential(lifetime=3600)
    client = AsyncSessionPoolClient(
        EP,
        credential=cred,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=SUCCESS)),
    )

    async def many():
        await asyncio.gather(*(client.execute("1", session="s-123") for _ in range(20)))
        await client.aclose()

    asyncio.run(many())
    assert cred.issued == 1


def test_401_refreshes_the_token_once_then_explains():
    cred = FakeCredential(lifetime=3600)
    transport, seen = recording_transport(
        lambda r: httpx.Response(
            401, json={"error": {"code": "Unauthorized", "message": "expired"}}
        )
    )
    client = SessionPoolClient(EP, credential=cred, transport=transport)
    with pytest.raises(errors.AuthenticationError) as info:
        client.execute("1", session="s-123")
    assert len(seen) == 2 and cred.issued == 2
    assert "az login" in str(info.value) and "propagate" in str(info.value)
    assert "secretvalue" not in str(info.value)


def test_credential_failure_is_an_authentication_error():
    class Broken:
        def get_token(self, *a, **k):
            raise RuntimeError("DefaultAzureCredential failed to retrieve a token")

    client = SessionPoolClient(
        EP, credential=Broken(), transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    with pytest.raises(errors.AuthenticationError, match="az login"):
        client.list_sessions()


def test_read_timeout_does_not_resend_the_execution():
    calls = []

    def handler(request):
        calls.append(request.url.path)
        raise httpx.ReadTimeout("timed out", request=request)

    client = SessionPoolClient(EP, token="t0ken-value", transport=httpx.MockTransport(handler))
    with pytest.raises(errors.PoolTimeoutError, match="not re-sent"):
        client.execute("import time; time.sleep(500)", session="s-123", timeout=5)
    assert calls == ["/subscriptions/s/resourceGroups/g/sessionPools/p1/executions"]


def test_broken_connection_after_send_does_not_resend_the_execution():
    calls = []

    def handler(request):
        calls.append(1)
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    client = SessionPoolClient(EP, token="t0ken", transport=httpx.MockTransport(handler))
    with pytest.raises(errors.TransportError, match="not re-sent"):
        client.execute("x = 1", session="s-123")
    assert len(calls) == 1


def test_idempotent_get_is_retried_on_503_and_connect_errors():
    answers = iter([httpx.Response(503), "connect", httpx.Response(200, json={"sessions": []})])

    def handler(request):
        answer = next(answers)
        if answer == "connect":
            raise httpx.ConnectError("refused", request=request)
        return answer

    client = SessionPoolClient(EP, token="t0ken", transport=httpx.MockTransport(handler))
    assert client.list_sessions() == []


def test_execute_is_retried_only_when_the_connection_never_opened():
    answers = iter(["connect", httpx.Response(200, json=SUCCESS)])

    def handler(request):
        answer = next(answers)
        if answer == "connect":
            raise httpx.ConnectError("refused", request=request)
        return answer

    client = SessionPoolClient(EP, token="t0ken", transport=httpx.MockTransport(handler))
    assert client.execute("1+1", session="s-123").value == 2


def test_connection_refused_names_the_endpoint_and_the_fix():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = SessionPoolClient(f"http://127.0.0.1:{port}", connect_timeout=2)
    with pytest.raises(errors.PoolConnectionError) as info:
        client.execute("1", session="s-123")
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "poolManagementEndpoint" in str(info.value)


def test_bad_endpoint_and_api_version_are_configuration_errors():
    with pytest.raises(errors.ConfigurationError, match="https://"):
        SessionPoolClient("eastus.dynamicsessions.io/x")
    with pytest.raises(errors.ConfigurationError, match="api-version"):
        SessionPoolClient(EP, api_version="2020-01-01")


def test_async_202_polling_through_the_shell():
    state = {"polls": 0}

    def handler(request):
        if request.method == "POST":
            return httpx.Response(
                202,
                json={"id": "run-1", "status": "Running"},
                headers={"Operation-Location": f"{EP}/executions/run-1"},
            )
        state["polls"] += 1
        if state["polls"] < 3:
            return httpx.Response(200, json={"id": "run-1", "status": "Running"})
        return httpx.Response(200, json={**SUCCESS, "id": "run-1"})

    async def go():
        async with AsyncSessionPoolClient(
            EP, token="t0ken", transport=httpx.MockTransport(handler)
        ) as client:
            started = await client.start_execution("1+1", session="s-123")
            assert not started.finished and started.execution_id == "run-1"
            return await client.wait_execution("run-1", session="s-123")

    result = asyncio.run(go())
    assert result.ok and result.value == 2 and state["polls"] == 3


def test_cancel_reports_false_where_the_pool_has_no_cancel():
    client = SessionPoolClient(
        EP,
        token="t0ken",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(404, json={"error": {"code": "NotFound", "message": "x"}})
        ),
    )
    assert client.cancel_execution("e1", session="s-123") is False


def test_gen1_round_trip_through_the_shell():
    def handler(request):
        assert request.url.path.endswith("/code/execute")
        return httpx.Response(
            200,
            json={
                "$id": "1",
                "properties": {
                    "$id": "2",
                    "status": "Success",
                    "stdout": "",
                    "stderr": "",
                    "result": [1, 2],
                },
            },
        )

    client = SessionPoolClient(
        EP, api_version="2024-02-02-preview", token="t0ken", transport=httpx.MockTransport(handler)
    )
    assert client.execute("[1,2]", session="s-123").value == [1, 2]
