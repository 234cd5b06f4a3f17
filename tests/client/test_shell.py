"""``execute_shell``: the shell tutorial's body, the exit code from either answer shape,
and the real shell pool (``start_local_pool(runtime="shell")``) through the client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from remote_kernel import errors
from remote_kernel.client import SessionPoolClient
from remote_kernel.client.messages import Response
from remote_kernel.client.models import ExecutionStatus
from remote_kernel.client.operations import Protocol
from remote_kernel.server import LocalPool, start_local_pool

EP = "https://westus2.dynamicsessions.io/subscriptions/s/resourceGroups/g/sessionPools/shells"
SHELL_API = "2025-02-02-preview"


def finish(step, response: Response):
    request = next(step)
    with pytest.raises(StopIteration) as done:
        step.send(response)
    return request, done.value.value


def test_the_request_is_the_shell_tutorials_body() -> None:
    step = Protocol(EP, SHELL_API).execute_shell("ls -la", "sess-1", timeout=600)
    request = next(step)
    assert (request.method, request.path) == ("POST", "/executions")
    assert request.json == {
        "codeInputType": "inline",
        "executionType": "Synchronous",
        "shellCommand": "ls -la",
        "timeoutInSeconds": 220,  # the client's cap, as for code
    }
    assert not request.idempotent


@pytest.mark.parametrize(
    ("body", "code"),
    [
        # LangChain's reading of Azure's Shell pools: the exit code as the status string.
        ({"status": "0", "result": {"stdout": "hi\n", "stderr": ""}}, 0),
        ({"status": "2", "result": {"stdout": "", "stderr": "ls: nope\n"}}, 2),
        # Azure-Samples' shell container: exitCode beside Succeeded / Failed.
        ({"status": "Succeeded", "result": {"stdout": "hi\n", "stderr": "", "exitCode": 0}}, 0),
        ({"status": "Failed", "result": {"stdout": "", "stderr": "x\n", "exitCode": 7}}, 7),
    ],
)
def test_the_exit_code_from_either_answer_shape(body: dict, code: int) -> None:
    step = Protocol(EP, SHELL_API).execute_shell("cmd", "sess-1")
    _, result = finish(step, Response(200, {}, body))
    assert result.exit_code == code
    assert result.stdout == body["result"]["stdout"]
    if code:
        assert result.status is ExecutionStatus.FAILED and result.error is not None
        assert result.error.ename == "NonZeroExitCode" and str(code) in result.error.evalue
    else:
        assert result.ok and result.error is None


def test_code_results_have_no_exit_code() -> None:
    step = Protocol(EP, SHELL_API).execute("1", "sess-1")
    _, result = finish(step, Response(200, {}, {"status": "Succeeded", "result": {"stdout": ""}}))
    assert result.exit_code is None


def test_generation_1_has_no_shell_route() -> None:
    with pytest.raises(errors.ConfigurationError, match="2025-02-02-preview"):
        next(Protocol(EP, "2024-02-02-preview").execute_shell("ls", "sess-1"))


@pytest.fixture(scope="module")
def shell_pool() -> Iterator[LocalPool]:
    pool = start_local_pool(runtime="shell", prewarm=1, max_sessions=4)
    try:
        yield pool
    finally:
        pool.stop()


def test_execute_shell_against_a_real_shell_pool(shell_pool: LocalPool) -> None:
    with SessionPoolClient(shell_pool.url, api_version=SHELL_API, token=None) as client:
        first = client.execute_shell("cd /tmp && export KEPT=yes", session="shell-1")
        assert first.ok and first.exit_code == 0
        second = client.execute_shell('pwd; echo "$KEPT"; echo warn >&2', session="shell-1")
        assert (second.stdout, second.stderr, second.exit_code) == ("/tmp\nyes\n", "warn\n", 0)
        failed = client.execute_shell("grep -q x /dev/null", session="shell-1")
        assert failed.exit_code == 1 and failed.status is ExecutionStatus.FAILED
        timed_out = client.execute_shell("sleep 30", session="shell-1", timeout=1)
        assert timed_out.exit_code == 124 and timed_out.status is ExecutionStatus.TIMED_OUT
        assert client.execute_shell('echo "$KEPT"', session="shell-1").stdout == "yes\n"
        with pytest.raises(errors.RemoteKernelError, match="CodeNotSupported|shellCommand"):
            client.execute("print(1)", session="shell-1")


@pytest.mark.parametrize(
    "command",
    [
        pytest.param("echo bye; exit 7", id="exit"),
        # The output closes well before bash exits: the code must still be the one given.
        pytest.param("echo bye; exec 1>&- 2>&-; sleep 0.5; exit 7", id="output-closed-first"),
    ],
)
def test_exit_in_a_command_gives_its_code_and_a_new_shell(
    shell_pool: LocalPool, command: str
) -> None:
    with SessionPoolClient(shell_pool.url, api_version=SHELL_API, token=None) as client:
        client.execute_shell("export GONE=soon", session="shell-exit")
        ended = client.execute_shell(command, session="shell-exit")
        assert ended.exit_code == 7 and ended.stdout.startswith("bye\n")
        after = client.execute_shell('echo "[$GONE]"', session="shell-exit")
        assert (after.stdout, after.exit_code) == ("[]\n", 0)


def test_a_shell_pool_names_no_stdin_feature(shell_pool: LocalPool) -> None:
    """A command's stdin is /dev/null: its answers must not offer input to a client."""
    with SessionPoolClient(shell_pool.url, api_version=SHELL_API, token=None) as client:
        client.execute_shell("true", session="shell-features")
        assert client.protocol.features == frozenset({"stream", "cancel"})
