"""The sandbox through the real REST API: ``start_local_pool(sandbox=True)`` over real HTTP."""

from __future__ import annotations

import secrets
import time

import psutil
import pytest

from remote_kernel.client import ExecutionStatus, SessionPoolClient
from remote_kernel.identifiers import new_identifier
from remote_kernel.server import start_local_pool


@pytest.fixture(scope="module")
def sandbox_pool(sandbox_prepared):
    pool = start_local_pool(token=secrets.token_urlsafe(24), prewarm=1, sandbox=True)
    try:
        yield pool
    finally:
        pool.stop()


@pytest.fixture
def client(sandbox_pool):
    with SessionPoolClient(sandbox_pool.url, token=sandbox_pool.token) as c:
        yield c


@pytest.fixture
def sid():
    return new_identifier("sandbox")


def _directory(pool, identifier: str):
    """The host directory of a session (what its /mnt/data is), from the pool itself."""

    async def find():
        return pool.pool._sessions[identifier].directory

    return pool.call(find(), 10)


def test_cells_state_output_value_and_displays(client, sid):
    first = client.execute("import builtins\nx = 40\nprint(hasattr(builtins, '_'))", session=sid)
    # The runtime's warm-up runs before the session is handed out are invisible.
    assert first.ok and first.stdout == "False\n" and first.session_created is True
    second = client.execute(
        "from IPython.display import HTML\ndisplay(HTML('<b>1</b>'))\nx + 2", session=sid
    )
    assert second.value == 42 and second.session_created is False
    assert [o["output_type"] for o in second.outputs] == ["display_data", "execute_result"]
    assert second.outputs[-1]["execution_count"] == 2
    assert second.outputs[0]["data"]["text/html"] == "<b>1</b>"


def test_timeout_stops_the_cell_and_keeps_state(client, sid):
    client.execute("kept = 'yes'", session=sid)
    started = time.perf_counter()
    result = client.execute("while True:\n    pass", session=sid, timeout=1)
    assert time.perf_counter() - started < 10
    assert result.status is ExecutionStatus.TIMED_OUT and not result.ok
    assert result.raw.get("result", {}).get("stateLost") is False
    assert client.execute("kept", session=sid).value == "yes"


def test_files_up_and_down_through_mnt_data(client, sid, tmp_path):
    client.upload_file(b"uploaded by the host\n", session=sid, remote_name="in.txt")
    made = client.execute(
        "data = open('/mnt/data/in.txt').read()\n"
        "open('/mnt/data/out.txt', 'w').write(data.upper())\n"
        "data",
        session=sid,
    )
    assert made.value == "uploaded by the host\n"
    assert {"in.txt", "out.txt"} <= {f.name for f in client.list_files(session=sid)}
    assert client.download_file("out.txt", session=sid) == b"UPLOADED BY THE HOST\n"


def test_sessions_cannot_see_each_other(client, sandbox_pool):
    victim, attacker = new_identifier("victim"), new_identifier("attacker")
    client.execute("open('/mnt/data/private.txt', 'w').write('victim data')", session=victim)
    victim_dir = _directory(sandbox_pool, victim)
    assert (victim_dir / "private.txt").read_text() == "victim data"
    path = str(victim_dir / "private.txt")
    by_python = client.execute(f"open({path!r}).read()", session=attacker)
    assert by_python.error.ename == "FileNotFoundError"
    by_deno = client.execute(f"import js\njs.Deno.readTextFileSync({path!r})", session=attacker)
    assert by_deno.error.ename == "JsException" and "NotCapable" in by_deno.error.evalue
    assert client.execute("1 + 1", session=attacker).value == 2


def test_denials_over_http(client, sid):
    cases = {
        "open('/etc/passwd').read()": "FileNotFoundError",
        "import socket\nsocket.create_connection(('127.0.0.1', 80))": "PermissionError",
        "import subprocess\nsubprocess.run(['id'])": "PermissionError",
        "import js\njs.Deno.env.toObject()": "JsException",
    }
    for code, ename in cases.items():
        result = client.execute(code, session=sid)
        assert result.status is ExecutionStatus.FAILED, code
        assert result.error.ename == ename, (code, result.error)
    assert client.execute("'alive'", session=sid).value == "alive"


def test_packages_route_lists_no_host_packages(client, sid):
    # Pyodide's standard library has no distributions; none of the host's may show.
    assert client.list_packages(session=sid) == []


def test_deleting_a_session_stops_its_deno_process(client, sandbox_pool, sid):
    client.execute("1", session=sid)
    before = set(sandbox_pool.kernel_pids())
    client.delete_session(sid)
    gone = before - set(sandbox_pool.kernel_pids())
    assert gone, "deleting the session should have stopped its Deno process"
    for _ in range(50):
        if not any(psutil.pid_exists(pid) for pid in gone):
            break
        time.sleep(0.1)
    assert not any(psutil.pid_exists(pid) for pid in gone)
