"""The official MCP client drives the local pool's MCP endpoint, as it would Azure's."""

from __future__ import annotations

import json

from mcp_helpers import McpPool, connect, structured

from remote_kernel.server import mnt_data

TOOLS = {"launchShell", "runShellCommandInRemoteEnvironment", "runPythonCodeInRemoteEnvironment"}


async def test_initialize_names_the_protocol_version_and_tools_capability(mcp_pool: McpPool):
    async with connect(mcp_pool.url, {"x-ms-apikey": mcp_pool.key}, initialize=False) as client:
        result = await client.initialize()
    assert result.protocol_version == "2025-03-26"
    assert result.capabilities.tools is not None
    assert result.server_info.name


async def test_tools_list_gives_the_three_tools_with_input_schemas(mcp_pool: McpPool):
    async with connect(mcp_pool.url, {"x-ms-apikey": mcp_pool.key}) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    assert tools["launchShell"].input_schema["type"] == "object"
    python = tools["runPythonCodeInRemoteEnvironment"].input_schema
    assert set(python["required"]) == {"environmentId", "pythonCode"}
    shell = tools["runShellCommandInRemoteEnvironment"].input_schema["properties"]
    assert shell["shellCommand"]["type"] == "string"
    assert shell["execCommandAndArgs"] == {**shell["execCommandAndArgs"], "type": "array"}


async def test_each_tool_runs_and_state_persists_in_an_environment(mcp_pool: McpPool):
    async with connect(mcp_pool.url, {"x-ms-apikey": mcp_pool.key}) as client:
        launched = await client.call_tool("launchShell", {})
        env = structured(launched)["environmentId"]
        assert not launched.is_error and json.loads(launched.content[0].text) == {
            "environmentId": env
        }

        py = "import os\nsecret_number = 6 * 7\nprint('cwd', os.getcwd())\nsecret_number + 1"
        first = await client.call_tool(
            "runPythonCodeInRemoteEnvironment", {"environmentId": env, "pythonCode": py}
        )
        assert not first.is_error, first
        assert structured(first)["result"] == 43
        assert structured(first)["stdout"].startswith("cwd /")

        again = await client.call_tool(
            "runPythonCodeInRemoteEnvironment",
            {"environmentId": env, "pythonCode": "print(secret_number)"},
        )
        assert structured(again)["stdout"] == "42\n"

        wrote = await client.call_tool(
            "runShellCommandInRemoteEnvironment",
            {"environmentId": env, "shellCommand": "echo from-shell > note.txt && pwd"},
        )
        assert not wrote.is_error, wrote
        shell_cwd = structured(wrote)["stdout"].strip()
        assert structured(wrote)["exitCode"] == 0
        assert f"cwd {shell_cwd}" in structured(first)["stdout"]
        if mnt_data.support(True, shown=True).available:
            assert shell_cwd == "/mnt/data"

        read = await client.call_tool(
            "runShellCommandInRemoteEnvironment",
            {"environmentId": env, "execCommandAndArgs": ["cat", "note.txt"]},
        )
        assert structured(read)["stdout"] == "from-shell\n"

        seen = await client.call_tool(
            "runPythonCodeInRemoteEnvironment",
            {"environmentId": env, "pythonCode": "open('note.txt').read().strip()"},
        )
        assert structured(seen)["result"] == "from-shell"


async def test_environments_are_separate(mcp_pool: McpPool):
    async with connect(mcp_pool.url, {"x-ms-apikey": mcp_pool.key}) as client:
        one = structured(await client.call_tool("launchShell", {}))["environmentId"]
        two = structured(await client.call_tool("launchShell", {}))["environmentId"]
        assert one != two
        args = {"environmentId": one, "pythonCode": "only_here = 1"}
        await client.call_tool("runPythonCodeInRemoteEnvironment", args)
        other = await client.call_tool(
            "runPythonCodeInRemoteEnvironment", {"environmentId": two, "pythonCode": "only_here"}
        )
    assert other.is_error
    assert "NameError" in structured(other)["stderr"]
