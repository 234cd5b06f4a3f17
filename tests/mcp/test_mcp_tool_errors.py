"""Failures inside a tool come back as tool results with isError, not transport errors."""

from __future__ import annotations

from mcp_helpers import McpPool, connect, structured

from remote_kernel.server.mcp_tools import MAX_CHARS


async def test_failing_commands_are_tool_errors(mcp_pool: McpPool) -> None:
    async with connect(mcp_pool.url, {"x-ms-apikey": mcp_pool.key}) as client:
        env = structured(await client.call_tool("launchShell", {}))["environmentId"]
        shell = "runShellCommandInRemoteEnvironment"

        failed = await client.call_tool(
            shell, {"environmentId": env, "shellCommand": "echo out; echo oops >&2; exit 3"}
        )
        assert failed.is_error
        assert structured(failed) == {
            "environmentId": env,
            "stdout": "out\n",
            "stderr": "oops\n",
            "exitCode": 3,
            "timedOut": False,
        }

        missing = await client.call_tool(
            shell, {"environmentId": env, "execCommandAndArgs": ["/no/such/program", "-x"]}
        )
        assert missing.is_error and structured(missing)["exitCode"] == 127
        assert "/no/such/program" in structured(missing)["stderr"]

        raised = await client.call_tool(
            "runPythonCodeInRemoteEnvironment",
            {"environmentId": env, "pythonCode": "x = 1\nraise ValueError('bad value')"},
        )
        assert raised.is_error
        assert "ValueError: bad value" in structured(raised)["stderr"]
        assert "\x1b[" not in structured(raised)["stderr"]

        # The environment survives its failures: state from the failed cell is there.
        after = await client.call_tool(
            "runPythonCodeInRemoteEnvironment", {"environmentId": env, "pythonCode": "x + 1"}
        )
        assert not after.is_error and structured(after)["result"] == 2


async def test_an_unknown_environment_is_a_tool_error(mcp_pool: McpPool) -> None:
    async with connect(mcp_pool.url, {"x-ms-apikey": mcp_pool.key}) as client:
        result = await client.call_tool(
            "runPythonCodeInRemoteEnvironment",
            {"environmentId": "made-up-by-the-model", "pythonCode": "1"},
        )
    assert result.is_error
    assert "launchShell" in structured(result)["error"]
    assert not any(s.identifier == "made-up-by-the-model" for s in mcp_pool.pool.pool.sessions())


async def test_the_shell_runner_leaves_the_users_namespace_alone(mcp_pool: McpPool) -> None:
    history = r"re.compile(r'^_+$|^_i*$|^_i?[0-9]+$|^_[iod]h$')"
    before = f"import re\nhistory = {history}\nbefore = set(dir())"
    added = "sorted(n for n in set(dir()) - before - {'before'} if not history.match(n))"
    async with connect(mcp_pool.url, {"x-ms-apikey": mcp_pool.key}) as client:
        env = structured(await client.call_tool("launchShell", {}))["environmentId"]
        python = "runPythonCodeInRemoteEnvironment"
        await client.call_tool(python, {"environmentId": env, "pythonCode": before})
        await client.call_tool(
            "runShellCommandInRemoteEnvironment", {"environmentId": env, "shellCommand": "true"}
        )
        names = await client.call_tool(python, {"environmentId": env, "pythonCode": added})
    assert not names.is_error, names
    assert structured(names)["result"] == []


async def test_shell_output_that_is_huge_binary_or_odd_comes_back_whole_or_cut(mcp_pool: McpPool):
    async with connect(mcp_pool.url, {"x-ms-apikey": mcp_pool.key}) as client:
        env = structured(await client.call_tool("launchShell", {}))["environmentId"]
        odd = await client.call_tool(
            "runShellCommandInRemoteEnvironment",
            {"environmentId": env, "shellCommand": r"printf 'a\036b\342\200\250c\377\n'"},
        )
        assert structured(odd)["stdout"] == "a\x1eb\u2028c\ufffd\n"
        huge = await client.call_tool(
            "runShellCommandInRemoteEnvironment",
            {"environmentId": env, "shellCommand": "head -c 1500000 /dev/zero | tr '\\0' x"},
        )
    out = structured(huge)["stdout"]
    assert not huge.is_error
    assert out.startswith("x" * MAX_CHARS + "\n[output truncated: 500000 more characters")
    assert out.endswith(f"the limit is {MAX_CHARS} characters per stream]\n")
