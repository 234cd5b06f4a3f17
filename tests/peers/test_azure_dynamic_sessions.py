"""``azure-dynamic-sessions-code-interpreter``'s ``CodeInterpreterTool``, unchanged.

A fork of LangChain's tool: generation 1 with ``requests``, retries on 429
and 5xx. Only the endpoint and a token provider returning the pool's static
token are given to it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure_dynamic_sessions_code_interpreter import CodeInterpreterTool

from remote_kernel.server import LocalPool

from .conftest import SessionJanitor

#: A figure shown with the session's inline backend, as a user plots.
PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"


@pytest.fixture
def tool(local_pool: LocalPool, janitor: SessionJanitor) -> Iterator[CodeInterpreterTool]:
    interpreter = CodeInterpreterTool(pool_management_endpoint=local_pool.url, max_retries=0)
    token = local_pool.token
    interpreter.access_token_provider = lambda: token  # instead of DefaultAzureCredential
    janitor.add(interpreter.session_id)
    yield interpreter


def test_execute_print_value_and_exception(tool: CodeInterpreterTool) -> None:
    printed = tool.execute("print('hello')")
    assert printed["status"] == "Success" and printed["stdout"] == "hello\n"
    assert tool.execute("x = 6\nx * 7")["result"] == 42
    failed = tool.execute("raise ValueError('boom')")
    assert failed["status"] == "Failure" and "ValueError: boom" in failed["stderr"]
    as_tool = json.loads(tool._run("print('side')\n1 + 1"))  # what function calling returns
    assert as_tool == {"result": 2, "stdout": "side\n", "stderr": ""}


def test_a_plot_is_an_image_result_without_its_data_for_the_model(
    tool: CodeInterpreterTool,
) -> None:
    raw = tool.execute(PLOT)["result"]
    assert raw["type"] == "image" and raw["format"] == "png" and raw["base64_data"]
    assert json.loads(tool._run(PLOT))["result"] == {"type": "image", "format": "png"}


def test_upload_list_and_download(tool: CodeInterpreterTool, tmp_path: Path) -> None:
    uploaded = tool.upload_file(data=io.BytesIO(b"hello"), remote_file_path="greeting.txt")
    assert (uploaded.filename, uploaded.size_in_bytes) == ("greeting.txt", 5)
    local = tmp_path / "local.csv"
    local.write_text("a,b\n")
    assert tool.upload_file(local_file_path=str(local)).filename == "local.csv"
    assert sorted(f.filename for f in tool.list_files()) == ["greeting.txt", "local.csv"]
    assert tool.download_file(remote_file_path="greeting.txt").read() == b"hello"
    target = tmp_path / "back.txt"
    tool.download_file(remote_file_path="greeting.txt", local_file_path=str(target))
    assert target.read_bytes() == b"hello"
    assert tool.execute("open('/mnt/data/local.csv').read()")["result"] == "a,b\n"
