"""Each thing the sandbox denies, tried from inside a cell: a clear error, and the session lives on.

Python-level attempts and the JavaScript escape hatch (``import js`` reaches
Deno's own APIs) are both tried: the second proves Deno's permissions are the
boundary, not the shim's patches.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
from sandbox_helpers import result_text, run

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST_SECRET_VAR = "RK_SANDBOX_TEST_SECRET"
HOST_SECRET_VALUE = "host-secret-value-7f3a"


@pytest.fixture(scope="module")
def other_session_file(tmp_path_factory):
    """A file in another session's directory, by its absolute host path."""
    other = tmp_path_factory.mktemp("other-session")
    secret = other / "secret.txt"
    secret.write_text("another session's data")
    return secret


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def still_alive_afterwards(shared_sandbox):
    """After every denial the same session still runs code and keeps its variables."""
    await run(shared_sandbox, "canary = 'tweet'")
    yield
    assert result_text(await run(shared_sandbox, "canary")) == "'tweet'"


def _fails(outcome, ename: str, *fragments: str) -> None:
    assert outcome.error is not None, f"expected {ename}, the cell succeeded: {outcome.outputs}"
    assert outcome.error["ename"] == ename, outcome.error
    for fragment in fragments:
        assert fragment in outcome.error["evalue"], outcome.error


async def test_host_files_do_not_exist_inside(shared_sandbox):
    outcome = await run(shared_sandbox, "open('/etc/passwd').read()")
    _fails(outcome, "FileNotFoundError", "/etc/passwd")


async def test_host_files_through_deno_are_denied(shared_sandbox):
    outcome = await run(shared_sandbox, "import js\njs.Deno.readTextFileSync('/etc/passwd')")
    _fails(outcome, "JsException", "NotCapable", "read access", "/etc/passwd")


async def test_another_sessions_files_are_out_of_reach(shared_sandbox, other_session_file):
    path = str(other_session_file)
    outcome = await run(shared_sandbox, f"open({path!r}).read()")
    _fails(outcome, "FileNotFoundError", path)
    outcome = await run(shared_sandbox, f"import js\njs.Deno.readTextFileSync({path!r})")
    _fails(outcome, "JsException", "NotCapable", "read access", path)
    outcome = await run(shared_sandbox, f"import js\njs.Deno.writeTextFileSync({path!r}, 'x')")
    _fails(outcome, "JsException", "NotCapable", "write access")
    assert other_session_file.read_text() == "another session's data"


async def test_writes_outside_mnt_data_never_reach_the_host(shared_sandbox, tmp_path):
    target = tmp_path / "escaped.txt"
    outcome = await run(shared_sandbox, f"open({str(target)!r}, 'w')")
    assert outcome.error is not None  # the host directory does not exist in the sandbox
    assert not target.exists()


async def test_socket_is_denied(shared_sandbox):
    code = "import socket\nsocket.create_connection(('127.0.0.1', 80), timeout=2)"
    _fails(await run(shared_sandbox, code), "PermissionError", "Network access is disabled")
    code = "import socket\ns = socket.socket()\ns.connect(('127.0.0.1', 80))"
    _fails(await run(shared_sandbox, code), "PermissionError", "Network access is disabled")


async def test_urllib_is_denied(shared_sandbox):
    code = "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/', timeout=2)"
    _fails(await run(shared_sandbox, code), "URLError", "Network access is disabled")


async def test_fetch_through_deno_is_denied(shared_sandbox):
    outcome = await run(shared_sandbox, "import js\nawait js.fetch('http://127.0.0.1:59999/')")
    _fails(outcome, "JsException", "NotCapable", "net access")


async def test_subprocesses_are_denied(shared_sandbox):
    _fails(
        await run(shared_sandbox, "import os\nos.system('id')"), "PermissionError", "not allowed"
    )
    _fails(
        await run(shared_sandbox, "import subprocess\nsubprocess.run(['id'])"),
        "PermissionError",
        "not allowed",
    )
    outcome = await run(shared_sandbox, "import js\njs.Deno.Command.new('/bin/sh').outputSync()")
    _fails(outcome, "JsException", "NotCapable", "run access")


async def test_environment_is_not_the_hosts(shared_sandbox, monkeypatch):
    monkeypatch.setenv(HOST_SECRET_VAR, HOST_SECRET_VALUE)
    # A fresh process would inherit the env now: this session was started before, so
    # the check below also covers what a new session sees (tested in test_lifecycle).
    outcome = await run(shared_sandbox, "import os\ndict(os.environ)")
    env_repr = result_text(outcome)
    assert HOST_SECRET_VAR not in env_repr and HOST_SECRET_VALUE not in env_repr
    outcome = await run(shared_sandbox, "import os\nsorted(os.environ)")
    assert result_text(outcome) == "['HOME', 'LANG', 'PATH', 'PWD']"
    outcome = await run(shared_sandbox, f"import js\njs.Deno.env.get({HOST_SECRET_VAR!r})")
    _fails(outcome, "JsException", "NotCapable", "env access")
    outcome = await run(shared_sandbox, "import js\njs.Deno.env.toObject()")
    _fails(outcome, "JsException", "NotCapable", "env access")


async def test_symlinks_out_of_the_session_are_refused(shared_sandbox):
    outcome = await run(shared_sandbox, "import os\nos.symlink('/etc/passwd', 'link')")
    _fails(outcome, "PermissionError", "Permission denied")
    assert not (shared_sandbox.workdir / "link").exists()
    assert not (shared_sandbox.workdir / "link").is_symlink()


async def test_host_filesystem_queries_are_refused(shared_sandbox):
    _fails(await run(shared_sandbox, "import os\nos.statvfs('.')"), "PermissionError")


async def test_a_cell_cannot_garble_the_protocol(shared_sandbox):
    code = (
        "import js\n"
        'js.console.log(\'{"op": "result", "id": "forged"}\')\n'
        'fake = \'\\x00not json\\n{"op": "ready"}\\n\'\n'
        "js.Deno.stdout.writeSync(js.TextEncoder.new().encode(fake))\n"
        "'the real result'"
    )
    assert result_text(await run(shared_sandbox, code)) == "'the real result'"
