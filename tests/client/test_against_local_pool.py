"""The client against the real local pool over real HTTP, both API generations."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os

import pytest

from remote_kernel import errors
from remote_kernel.client import AsyncSessionPoolClient, ExecutionStatus, SessionPoolClient
from remote_kernel.identifiers import new_identifier

GENERATIONS = ["2024-10-02-preview", "2024-02-02-preview", "2025-10-02-preview"]


@pytest.fixture(params=GENERATIONS)
def client(request, local_pool):
    with SessionPoolClient(local_pool.url, token=local_pool.token, api_version=request.param) as c:
        yield c


@pytest.fixture
def sid():
    return new_identifier("client-test")


def test_state_stdout_value_and_outputs(client, sid):
    first = client.execute("x = 40\nprint('hello')", session=sid)
    assert first.ok and first.stdout == "hello\n" and first.session_created is True
    second = client.execute("x + 2", session=sid)
    assert second.value == 42 and second.session_created is False
    assert second.outputs[-1]["output_type"] == "execute_result"
    assert second.outputs[-1]["data"]["text/plain"] == "42"


def test_user_error_is_structured(client, sid):
    result = client.execute("print('before')\n1/0", session=sid)
    assert result.status is ExecutionStatus.FAILED
    assert result.error.ename == "ZeroDivisionError"
    assert "ZeroDivisionError" in result.stderr and "\x1b[" not in result.stderr
    assert [o["output_type"] for o in result.outputs] == ["stream", "error"]


def test_several_displays_in_order(client, sid):
    code = (
        "from IPython.display import display, HTML\n"
        "print('a')\ndisplay(HTML('<b>1</b>'))\nprint('b')\ndisplay(HTML('<i>2</i>'))\n'end'"
    )
    result = client.execute(code, session=sid)
    kinds = [
        (o["output_type"], o.get("text") or o.get("data", {}).get("text/html"))
        for o in result.outputs
    ]
    assert kinds[:4] == [
        ("stream", "a\n"),
        ("display_data", "<b>1</b>"),
        ("stream", "b\n"),
        ("display_data", "<i>2</i>"),
    ]
    assert result.outputs[-1]["output_type"] == "execute_result"
    assert result.value == "end"


def test_files_round_trip_byte_exact(client, sid, tmp_path):
    payload = os.urandom(3 * 1024 * 1024 + 17)
    seen = []
    info = client.upload_file(
        payload,
        session=sid,
        remote_name="blob.bin",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert info.name == "blob.bin" and info.size == len(payload)
    assert seen[-1] == (len(payload), len(payload))
    names = {f.name: f.size for f in client.list_files(session=sid)}
    assert names["blob.bin"] == len(payload)
    check = client.execute(
        "import hashlib; hashlib.sha256(open('blob.bin','rb').read()).hexdigest()", session=sid
    )
    assert check.value == hashlib.sha256(payload).hexdigest()
    target = tmp_path / "out.bin"
    client.download_file("blob.bin", session=sid, destination=target)
    assert target.read_bytes() == payload
    assert client.download_file("blob.bin", session=sid) == payload
    client.delete_file("blob.bin", session=sid)
    assert "blob.bin" not in {f.name for f in client.list_files(session=sid)}
    with pytest.raises(errors.NotFoundError):
        client.download_file("blob.bin", session=sid, destination=tmp_path / "missing.bin")
    assert not (tmp_path / "missing.bin").exists()


def test_sub_path_and_metadata(local_pool, sid):
    with SessionPoolClient(local_pool.url, token=local_pool.token) as client:
        client.upload_file(io.BytesIO(b"abc"), session=sid, remote_name="n.txt", path="sub/dir")
        info = client.file_info("n.txt", session=sid, path="sub/dir")
        assert info.size == 3 and info.remote_path == "/mnt/data/sub/dir/n.txt"
        listed = client.list_files(session=sid, path="sub/dir")
        assert [f.name for f in listed] == ["n.txt"]


def test_sessions_list_get_delete(local_pool, sid):
    with SessionPoolClient(local_pool.url, token=local_pool.token) as client:
        client.execute("y = 1", session=sid)
        assert sid in {s.identifier for s in client.list_sessions()}
        assert client.get_session(sid).identifier == sid
        client.delete_session(sid)
        assert sid not in {s.identifier for s in client.list_sessions()}
        again = client.execute("'y' in globals()", session=sid)
        assert again.value is False and again.session_created is True


def test_packages_listing(local_pool, sid):
    with SessionPoolClient(local_pool.url, token=local_pool.token) as client:
        names = {p.name.lower() for p in client.list_packages(session=sid)}
    assert {"ipykernel", "httpx"} <= names


def test_wrong_token_is_an_authentication_error(local_pool, sid):
    with SessionPoolClient(local_pool.url, token="not-the-token") as client:
        with pytest.raises(errors.AuthenticationError) as info:
            client.execute("1", session=sid)
    assert "not-the-token" not in str(info.value)
    assert local_pool.token not in str(info.value)


def test_async_client_concurrent_sessions_and_cancel(local_pool):
    async def go():
        async with AsyncSessionPoolClient(local_pool.url, token=local_pool.token) as client:
            a, b = new_identifier("a"), new_identifier("b")
            results = await asyncio.gather(
                *(client.execute(f"print({i})", session=s) for i, s in enumerate([a, b] * 3))
            )
            assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]
            run = asyncio.create_task(
                client.execute(
                    "import time\nfor i in range(300): time.sleep(0.1)",
                    session=a,
                    execution_id="cancel-me-1",
                )
            )
            await asyncio.sleep(1.0)
            assert await client.cancel_execution("cancel-me-1", session=a) is True
            cancelled = await asyncio.wait_for(run, 10)
            assert cancelled.status is ExecutionStatus.CANCELLED
            assert cancelled.error.ename == "KeyboardInterrupt"
            after = await client.execute("print('alive')", session=a)
            assert after.stdout == "alive\n"

    asyncio.run(go())


def test_async_start_and_poll(local_pool, sid):
    async def go():
        async with AsyncSessionPoolClient(local_pool.url, token=local_pool.token) as client:
            started = await client.start_execution("import time; time.sleep(0.3); 7", session=sid)
            assert started.execution_id
            done = await client.wait_execution(started.execution_id, session=sid)
            assert done.value == 7

    asyncio.run(go())


def test_timeout_keeps_state(local_pool, sid):
    with SessionPoolClient(local_pool.url, token=local_pool.token) as client:
        client.execute("kept = 'yes'", session=sid)
        result = client.execute("import time; time.sleep(60)", session=sid, timeout=1)
        assert result.status is ExecutionStatus.TIMED_OUT and not result.ok
        assert client.execute("kept", session=sid).value == "yes"


def test_401_advice_fits_the_auth_mode(local_pool, sid):
    with SessionPoolClient(local_pool.url, token="wrong-token-value") as client:
        with pytest.raises(errors.AuthenticationError) as info:
            client.execute("1", session=sid)
    assert "ACA_POOL_TOKEN" in str(info.value) and "az login" not in str(info.value)
    with SessionPoolClient(local_pool.url, auth="none") as client:
        with pytest.raises(errors.AuthenticationError, match="wants a bearer token"):
            client.execute("1", session=sid)


def test_async_files_round_trip_with_progress(local_pool, sid, tmp_path):
    payload = os.urandom(3 * (1 << 20) + 5)
    source = tmp_path / "up.bin"
    source.write_bytes(payload)
    sent, received = [], []

    async def go():
        async with AsyncSessionPoolClient(local_pool.url, token=local_pool.token) as client:
            info = await client.upload_file(
                source, session=sid, path="deep", progress=lambda d, t: sent.append((d, t))
            )
            assert (info.name, info.size) == ("up.bin", len(payload))
            target = tmp_path / "down.bin"
            await client.download_file(
                "up.bin",
                session=sid,
                path="deep",
                destination=target,
                progress=lambda d, t: received.append((d, t)),
            )
            assert target.read_bytes() == payload
            assert (await client.file_info("up.bin", session=sid, path="deep")).size == len(payload)
            names = [f.name for f in await client.list_files(session=sid, path="deep")]
            await client.delete_file("up.bin", session=sid, path="deep")
            assert await client.list_files(session=sid, path="deep") == []
            await client.delete_session(sid)
            return names

    assert asyncio.run(go()) == ["up.bin"]
    assert sent[-1] == (len(payload), len(payload)) and len(sent) > 1
    assert received[-1] == (len(payload), len(payload)) and len(received) > 1
    assert not list(tmp_path.glob(".down.bin.part-*"))
