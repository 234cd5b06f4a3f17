"""LangChain's ``SessionsPythonREPLTool`` (langchain-azure-dynamic-sessions), unchanged.

It speaks generation 1 (``2024-02-02-preview``: ``code/execute``, ``files/upload``,
``files/content/{name}``, ``files``) with ``requests``, and deletes sessions with
``2025-10-02-preview``. Only the endpoint and a static token are given to it.
"""

from __future__ import annotations

import io
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from remote_kernel.server import LocalPool

from .conftest import SessionJanitor

with warnings.catch_warnings():  # the package announces its successor on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_azure_dynamic_sessions import SessionsPythonREPLTool


@pytest.fixture
def tool(local_pool: LocalPool, janitor: SessionJanitor) -> Iterator[SessionsPythonREPLTool]:
    token = local_pool.token
    repl = SessionsPythonREPLTool(
        pool_management_endpoint=local_pool.url, access_token_provider=lambda: token
    )
    janitor.add(repl.session_id)
    yield repl


def test_invoke_returns_the_value_stdout_and_stderr(tool: SessionsPythonREPLTool) -> None:
    content = json.loads(tool.invoke("print('side effect')\n6 * 7"))
    assert content == {"result": 42, "stdout": "side effect\n", "stderr": ""}
    failed = tool.execute("1 / 0")
    assert failed["status"] == "Failure"
    assert "ZeroDivisionError" in failed["stderr"]


def test_state_persists_and_cwd_is_mnt_data(tool: SessionsPythonREPLTool) -> None:
    tool.execute("import os\ncounter = 41")
    assert tool.execute("counter + 1")["result"] == 42
    assert tool.execute("os.getcwd()")["result"] == "/mnt/data"


def test_upload_list_use_and_download(tool: SessionsPythonREPLTool, tmp_path: Path) -> None:
    meta = tool.upload_file(data=io.BytesIO(b"x,y\n1,2\n3,4\n"), remote_file_path="points.csv")
    assert (meta.filename, meta.size_in_bytes, meta.full_path) == (
        "points.csv",
        12,
        "/mnt/data/points.csv",
    )
    local = tmp_path / "notes.txt"
    local.write_text("uploaded from a path")
    assert tool.upload_file(local_file_path=str(local)).filename == "notes.txt"

    listed = {f.filename: f.size_in_bytes for f in tool.list_files()}
    assert listed == {"points.csv": 12, "notes.txt": 20}

    code = (
        f"rows = open({meta.full_path!r}).read().split()[1:]\n"
        "total = sum(int(a) + int(b) for a, b in (r.split(',') for r in rows))\n"
        "open('/mnt/data/total.txt', 'w').write(str(total))\n"
        "total"
    )
    assert tool.execute(code)["result"] == 10
    target = tmp_path / "total.txt"
    downloaded = tool.download_file(remote_file_path="total.txt", local_file_path=str(target))
    assert downloaded.read() == b"10" and target.read_bytes() == b"10"


def test_a_figure_is_an_image_result_and_the_tool_hides_its_data(
    tool: SessionsPythonREPLTool,
) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()"
    content = json.loads(tool.invoke(code))
    assert content["result"] == {"type": "image", "format": "png"}
    raw = tool.execute(code)["result"]
    assert raw["type"] == "image" and raw["base64_data"].startswith("iVBORw0KGgo")


def test_close_deletes_the_session(tool: SessionsPythonREPLTool, janitor: SessionJanitor) -> None:
    tool.execute("x = 1")
    first = tool.session_id
    assert janitor.exists(first)
    tool.close()  # deletes in a background thread with api-version 2025-10-02-preview
    deadline = time.monotonic() + 30
    while janitor.exists(first) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not janitor.exists(first)
    janitor.add(tool.session_id)
    assert tool.session_id != first


def test_a_wrong_token_is_refused(local_pool: LocalPool, janitor: SessionJanitor) -> None:
    repl = SessionsPythonREPLTool(
        pool_management_endpoint=local_pool.url, access_token_provider=lambda: "not-the-token"
    )
    janitor.add(repl.session_id)
    with pytest.raises(requests.HTTPError) as refused:
        repl.execute("1")
    assert refused.value.response.status_code == 401
