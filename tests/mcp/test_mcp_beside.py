"""Where the tools run: the pool's own sessions, or a runtime of the other kind beside
them in the same file area (a bash beside a Python pool's kernel, a kernel beside a
shell pool's bash). Driven in process through :class:`Environments` on a real pool."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest_asyncio
from mcp_helpers import connect, structured

from remote_kernel.server import mcp_protocol as proto
from remote_kernel.server import start_local_pool
from remote_kernel.server.mcp_tools import NO_SHELL, Environments, tool_runtimes
from remote_kernel.server.pool import SessionPool
from remote_kernel.server.runtimes import runtime_entry, runtime_factory


async def _pool(name: str, root: Path) -> SessionPool:
    pool = SessionPool(runtime_factory(name), root=root, prewarm=0, max_sessions=4)
    await pool.start()
    return pool


@pytest_asyncio.fixture
async def python_pool(tmp_path: Path) -> AsyncIterator[SessionPool]:
    pool = await _pool("python", tmp_path)
    yield pool
    await pool.close()


@pytest_asyncio.fixture
async def shell_pool(tmp_path: Path) -> AsyncIterator[SessionPool]:
    pool = await _pool("shell", tmp_path)
    yield pool
    await pool.close()


class Agent:
    """An MCP client's calls, straight to the tools (the HTTP layer is tested elsewhere)."""

    def __init__(self, environments: Environments) -> None:
        self.environments = environments
        self.env = environments.launch()["structuredContent"]["environmentId"]

    async def shell(self, command: str) -> dict[str, Any]:
        call = proto.ToolCall(proto.RUN_SHELL, self.env, shell_command=command)
        return (await self.environments.call(call))["structuredContent"]

    async def python(self, code: str) -> dict[str, Any]:
        call = proto.ToolCall(proto.RUN_PYTHON, self.env, python_code=code)
        return (await self.environments.call(call))["structuredContent"]


async def test_a_python_pools_shell_keeps_its_state_and_shares_the_files(python_pool):
    agent = Agent(Environments(python_pool, tool_runtimes(runtime_entry("python"))))
    assert (await agent.python("kept = 41"))["stderr"] == ""
    await agent.shell("mkdir -p work && cd work && export GREETING=hi && f() { echo f$1; }")
    answer = await agent.shell('pwd; echo "$GREETING" > note.txt; f 1')
    assert answer["exitCode"] == 0, answer
    assert answer["stdout"].endswith("/work\nf1\n")  # cd, export and the function stayed
    seen = await agent.python("print(kept + 1, open('work/note.txt').read().strip())")
    assert seen["stdout"] == "42 hi\n", seen


async def test_a_shell_pools_python_keeps_its_state_and_shares_the_files(shell_pool):
    agent = Agent(Environments(shell_pool, tool_runtimes(runtime_entry("shell"))))
    assert (await agent.shell("export X=1; echo from-shell > note.txt"))["exitCode"] == 0
    first = await agent.python("n = 6 * 7\nprint(open('note.txt').read().strip())\nn")
    assert (first["stdout"], first["result"]) == ("from-shell\n", 42), first
    assert (await agent.python("n + 1"))["result"] == 43
    await agent.python("open('back.txt', 'w').write('from-python')")
    answer = await agent.shell('cat back.txt; echo " $X"')
    assert answer["stdout"] == "from-python 1\n"


async def test_a_timed_out_command_stops_and_the_environment_stays(python_pool):
    agent = Agent(Environments(python_pool, shell_timeout=1))
    await agent.shell("export KEPT=yes")
    began = time.monotonic()
    answer = await agent.shell("echo started; sleep 30")
    assert time.monotonic() - began < 15
    assert (answer["exitCode"], answer["timedOut"], answer["stdout"]) == (124, True, "started\n")
    assert "stopped after 1 s" in answer["stderr"]
    assert (await agent.shell('echo "$KEPT"'))["stdout"] == "yes\n"


async def test_the_runtime_beside_a_session_stops_with_it(python_pool):
    agent = Agent(Environments(python_pool))
    await agent.python("1")
    alone = set(python_pool.pids())
    await agent.shell("true")
    beside = set(python_pool.pids()) - alone
    assert beside, "the shell beside the session is not among the pool's processes"
    assert await python_pool.delete(agent.env)
    assert not [pid for pid in beside if psutil.pid_exists(pid)]


async def test_a_sandboxed_pool_runs_no_shell_commands(python_pool):
    runtimes = tool_runtimes(runtime_entry("pyodide"))
    assert runtimes.shell is None
    agent = Agent(Environments(python_pool, runtimes))
    answer = await agent.shell("echo escaped")
    assert answer == {"error": NO_SHELL}
    assert python_pool.sessions() == []  # refused before anything started


async def test_serve_runtime_shell_mcp_runs_both_tools(tmp_path: Path) -> None:
    """``serve --runtime shell --mcp`` as an MCP client sees it: shell in the sessions,
    Python beside them."""
    key = secrets.token_urlsafe(24)
    served = start_local_pool(runtime="shell", prewarm=0, mcp_api_key=key)
    try:
        async with connect(f"{served.url}/mcp", {"x-ms-apikey": key}) as client:
            env = structured(await client.call_tool("launchShell", {}))["environmentId"]
            shell = await client.call_tool(
                "runShellCommandInRemoteEnvironment",
                {"environmentId": env, "shellCommand": "echo $((6 * 7)) > n.txt"},
            )
            assert not shell.is_error, shell
            python = await client.call_tool(
                "runPythonCodeInRemoteEnvironment",
                {"environmentId": env, "pythonCode": "int(open('n.txt').read()) + 1"},
            )
            assert structured(python)["result"] == 43, python
    finally:
        served.stop()
