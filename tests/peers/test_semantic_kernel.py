"""Semantic Kernel's ``SessionsPythonTool``, unchanged, behind an HTTPS front.

Its settings accept only an https pool endpoint, so the pool is reached
through :func:`tls_front` (a ``trustme`` certificate; the client's own
``httpx.AsyncClient`` is handed a context trusting it). It speaks
generation 1 and uploads with the multipart filename ``/mnt/data/<name>``
(issue 15 item 1).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from semantic_kernel.core_plugins.sessions_python_tool.sessions_python_plugin import (
    SessionsPythonTool,
)
from semantic_kernel.exceptions import FunctionExecutionException

from remote_kernel.server import LocalPool

from .conftest import SessionJanitor
from .tls_front import tls_front

#: A figure shown with the session's inline backend, as a user plots.
PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"


@pytest.fixture(scope="module")
def front(
    local_pool: LocalPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, ssl.SSLContext]]:
    with tls_front(local_pool.url, tmp_path_factory.mktemp("tls")) as served:
        yield served


def _tool(
    pool: LocalPool, front: tuple[str, ssl.SSLContext], janitor: SessionJanitor, uploads: Path
) -> SessionsPythonTool:
    url, context = front
    token = pool.token
    tool = SessionsPythonTool(
        pool_management_endpoint=url + "/",
        auth_callback=lambda: token,
        http_client=httpx.AsyncClient(verify=context, timeout=120),  # its default is 5 s
        enable_dangerous_file_uploads=True,
        allowed_upload_directories={str(uploads)},
    )
    janitor.add(tool.settings.session_id)
    return tool


@pytest.fixture
def tool(
    local_pool: LocalPool,
    front: tuple[str, ssl.SSLContext],
    janitor: SessionJanitor,
    tmp_path: Path,
) -> SessionsPythonTool:
    return _tool(local_pool, front, janitor, tmp_path)


def test_the_endpoint_must_be_https(local_pool: LocalPool) -> None:
    """Why the front exists: the plain-http pool URL is refused by the client itself."""
    with pytest.raises(Exception, match="(?i)https"):
        SessionsPythonTool(pool_management_endpoint=local_pool.url, auth_callback=lambda: "t")


async def test_execute_print_value_and_exception(tool: SessionsPythonTool) -> None:
    printed = await tool.execute_code("print('hello')")
    assert printed.startswith("Status:\nSuccess\n") and "Stdout:\nhello\n" in printed
    assert "Result:\n42\n" in await tool.execute_code("x = 6\nx * 7")
    failed = await tool.execute_code("raise ValueError('boom')")
    assert failed.startswith("Status:\nFailure\n") and "ValueError: boom" in failed


async def test_a_plot_is_an_image_result(tool: SessionsPythonTool) -> None:
    answer = await tool.execute_code(PLOT)
    assert "Status:\nSuccess\n" in answer and "'type': 'image'" in answer
    assert "'format': 'png'" in answer


async def test_upload_list_and_download(tool: SessionsPythonTool, tmp_path: Path) -> None:
    local = tmp_path / "data.csv"
    local.write_text("a,b\n1,2\n")
    uploaded = await tool.upload_file(local_file_path=str(local))  # '/mnt/data/data.csv'
    assert (uploaded.filename, uploaded.size_in_bytes) == ("data.csv", 8)
    listed = await tool.list_files()
    assert [f.full_path for f in listed] == ["/mnt/data/data.csv"]
    assert (await tool.download_file(remote_file_name="data.csv")).read() == b"a,b\n1,2\n"
    target = tmp_path / "back.csv"
    assert (
        await tool.download_file(remote_file_name="data.csv", local_file_path=str(target)) is None
    )
    assert target.read_bytes() == b"a,b\n1,2\n"
    assert "Result:\na,b\n1,2\n" in await tool.execute_code("open('/mnt/data/data.csv').read()")


async def test_upload_after_execute_is_the_clients_own_bug(
    tool: SessionsPythonTool, tmp_path: Path, janitor: SessionJanitor
) -> None:
    """``execute_code`` leaves ``Content-Type: application/json`` on the shared client, so
    the later multipart upload goes out labelled JSON: the pool rightly refuses it, with
    a message naming what to send, and stores nothing."""
    await tool.execute_code("1")
    local = tmp_path / "late.txt"
    local.write_text("late")
    with pytest.raises(FunctionExecutionException, match="400") as caught:
        await tool.upload_file(local_file_path=str(local))
    assert "multipart/form-data" in str(caught.value)
    assert janitor.files(tool.settings.session_id) == {}
