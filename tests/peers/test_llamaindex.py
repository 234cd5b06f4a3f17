"""LlamaIndex's ``AzureCodeInterpreterToolSpec`` (llama-index-tools-azure-code-interpreter), unchanged.

It speaks generation 1 with ``requests`` and uploads with the multipart
filename ``/mnt/data/<name>`` (issue 15 item 1). Only the endpoint and a
token provider returning the pool's static token are given to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.tools.azure_code_interpreter import AzureCodeInterpreterToolSpec

from remote_kernel.server import LocalPool

from .conftest import SessionJanitor

#: A figure shown with the session's inline backend, as a user plots.
PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"


@pytest.fixture
def spec(
    local_pool: LocalPool, janitor: SessionJanitor, tmp_path: Path
) -> Iterator[AzureCodeInterpreterToolSpec]:
    tool = AzureCodeInterpreterToolSpec(
        pool_management_endpoint=local_pool.url, local_save_path=str(tmp_path)
    )
    token = local_pool.token
    tool.access_token_provider = lambda: token  # instead of DefaultAzureCredential
    janitor.add(tool.session_id)
    yield tool


def test_execute_print_value_and_exception(spec: AzureCodeInterpreterToolSpec) -> None:
    printed = spec.code_interpreter("print('hello')")["properties"]
    assert printed["status"] == "Success" and printed["stdout"] == "hello\n"
    assert spec.code_interpreter("x = 6\nx * 7")["properties"]["result"] == 42
    failed = spec.code_interpreter("raise ValueError('boom')")["properties"]
    assert failed["status"] == "Failure" and "ValueError: boom" in failed["stderr"]


def test_a_plot_is_saved_to_the_local_path(
    spec: AzureCodeInterpreterToolSpec, tmp_path: Path
) -> None:
    result = spec.code_interpreter(PLOT)["properties"]["result"]
    assert result["type"] == "image" and result["saved_to_local_path"] is True
    saved = list(tmp_path.glob(f"{spec.session_id}_*.png"))
    assert len(saved) == 1 and saved[0].read_bytes().startswith(b"\x89PNG")


def test_upload_list_and_download(spec: AzureCodeInterpreterToolSpec, tmp_path: Path) -> None:
    local = tmp_path / "data.csv"
    local.write_text("a,b\n1,2\n")
    uploaded = spec.upload_file(local_file_path=str(local))  # filename '/mnt/data/data.csv'
    assert [(f.filename, f.size_in_bytes) for f in uploaded] == [("data.csv", 8)]
    assert uploaded[0].file_full_path == "/mnt/data/data.csv"
    listed = spec.list_files()
    assert [f.filename for f in listed] == ["data.csv"]
    read = spec.code_interpreter("open('/mnt/data/data.csv').read()")["properties"]
    assert read["result"] == "a,b\n1,2\n"
    assert spec.download_file_to_local("/mnt/data/data.csv").read() == b"a,b\n1,2\n"
    target = tmp_path / "back.csv"
    assert spec.download_file_to_local("data.csv", str(target)) is None
    assert target.read_bytes() == b"a,b\n1,2\n"


def test_upload_of_bare_data_is_the_clients_own_bug(
    spec: AzureCodeInterpreterToolSpec, janitor: SessionJanitor
) -> None:
    """``upload_file(data=...)`` reads ``remote_file_path`` before assigning it (only the
    ``local_file_path`` branch sets it): the client fails before sending anything."""
    with pytest.raises(UnboundLocalError, match="remote_file_path"):
        spec.upload_file(data=b"never sent")
    assert not janitor.exists(spec.session_id)  # no request reached the pool
