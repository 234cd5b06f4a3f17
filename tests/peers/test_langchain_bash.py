"""LangChain's ``SessionsBashTool`` (langchain-azure-dynamic-sessions 1.0+), unchanged,
against ``remote-kernel serve --runtime shell`` started as a user starts it.

The tool posts only ``{"shellCommand": ...}`` to ``/executions`` (2025-02-02-preview),
reads ``result.stdout`` / ``result.stderr`` and ``int(status)`` as the exit code.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator

import httpx
import pytest

with warnings.catch_warnings():  # the package announces its successor on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_azure_dynamic_sessions import SessionsBashTool

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def shell_pool() -> Iterator[tuple[str, str]]:
    """``remote-kernel serve --runtime shell`` in its own process: (endpoint, token)."""
    token = secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACA_")}
    env["ACA_POOL_TOKEN"] = token
    command = [sys.executable, "-m", "remote_kernel.cli", "serve", "--runtime", "shell"]
    proc = subprocess.Popen(
        [*command, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline().rstrip("\n")
        assert line.startswith("Pool endpoint: "), (line, proc.stderr.read() if proc.stderr else "")
        yield line.removeprefix("Pool endpoint: "), token
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


@pytest.fixture
def tool(shell_pool: tuple[str, str]) -> Iterator[SessionsBashTool]:
    endpoint, token = shell_pool
    bash = SessionsBashTool(pool_management_endpoint=endpoint, access_token_provider=lambda: token)
    yield bash
    bash.delete_session()


def run(tool: SessionsBashTool, command: str) -> dict[str, object]:
    content, _ = tool._run(command)
    return json.loads(content)


def test_output_and_exit_code_reach_the_tool(tool: SessionsBashTool) -> None:
    assert run(tool, "echo hello; echo oops >&2") == {
        "stdout": "hello\n",
        "stderr": "oops\n",
        "exitCode": 0,
    }
    assert run(tool, "echo partial; exit_with() { return $1; }; exit_with 3") == {
        "stdout": "partial\n",
        "stderr": "",
        "exitCode": 3,
    }


def test_the_shell_keeps_its_state_between_calls(tool: SessionsBashTool) -> None:
    assert run(tool, "pwd")["stdout"] == "/mnt/data\n"
    run(tool, 'mkdir -p work && cd work && export GREETING=hi && shout() { echo "$1!"; }')
    assert run(tool, 'pwd; echo "$GREETING"; shout hey')["stdout"] == "/mnt/data/work\nhi\nhey!\n"


def test_the_invoke_content_is_the_json_the_agent_reads(tool: SessionsBashTool) -> None:
    content = json.loads(tool.invoke("printf 'a\\nb\\n' | wc -l"))
    assert content == {"stdout": "2\n", "stderr": "", "exitCode": 0}


def test_each_pool_type_refuses_the_other_types_body(shell_pool: tuple[str, str]) -> None:
    endpoint, token = shell_pool
    params = {"api-version": "2025-02-02-preview", "identifier": "refusals"}
    headers = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(
        f"{endpoint}/executions", params=params, headers=headers, json={"code": "print(1)"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "CodeNotSupported"
    assert "shellCommand" in answer.json()["error"]["message"]


def test_azure_tutorials_body_and_the_exit_code_field(shell_pool: tuple[str, str]) -> None:
    """The shell tutorial's full body; ``result.exitCode`` beside the string status."""
    endpoint, token = shell_pool
    body = {
        "codeInputType": "inline",
        "executionType": "synchronous",
        "shellCommand": "echo from the tutorial; exit 0",
        "timeoutInSeconds": 600,
    }
    params = {"api-version": "2025-02-02-preview", "identifier": "tutorial"}
    headers = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(
        f"{endpoint}/executions", params=params, headers=headers, json=body, timeout=60
    ).json()
    # ``exit 0`` ends the session's bash as in a terminal (a new one takes its place).
    assert answer["status"] == "0" and answer["result"]["exitCode"] == 0
    assert answer["result"]["stdout"] == "from the tutorial\n"
    assert answer["result"]["stateLost"] is True
    failing = dict(body, shellCommand="ls /no/such/dir")
    answer = httpx.post(
        f"{endpoint}/executions", params=params, headers=headers, json=failing, timeout=60
    ).json()
    assert answer["status"] == "2" and answer["result"]["exitCode"] == 2
    assert "No such file or directory" in answer["result"]["stderr"]


def test_metadata_describes_the_shell(shell_pool: tuple[str, str]) -> None:
    endpoint, token = shell_pool
    answer = httpx.get(
        f"{endpoint}/metadata",
        params={"api-version": "2025-02-02-preview"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    runtime = answer.json()["runtimes"][0]
    assert runtime["name"] == "bash" and runtime["version"][0].isdigit()
    assert "(" not in runtime["version"]
