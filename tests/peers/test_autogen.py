"""AutoGen's ``ACADynamicSessionsCodeExecutor`` (autogen-ext[azure]), unchanged.

It speaks generation 1 with aiohttp, asks its credential for a
``https://dynamicsessions.io/.default`` token, lists packages with
``pkg_resources`` and runs ``os.chdir('/mnt/data')`` before the first block
(it fails with "Failed to set up Azure container working directory" without it).
Only the endpoint and a credential returning the pool's static token are given.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from autogen_core import CancellationToken
from autogen_core.code_executor import CodeBlock
from autogen_ext.code_executors.azure import ACADynamicSessionsCodeExecutor
from azure.core.credentials import AccessToken

from remote_kernel.server import LocalPool

from .conftest import SessionJanitor


class StaticCredential:
    """A TokenCredential that hands out one fixed token and records the scopes asked for."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


def _executor(pool: LocalPool, work_dir: Path, janitor: SessionJanitor) -> tuple[Any, Any]:
    credential = StaticCredential(pool.token or "")
    executor = ACADynamicSessionsCodeExecutor(
        pool_management_endpoint=pool.url, credential=credential, work_dir=work_dir
    )
    janitor.add(executor._session_id)  # (private) so the session can be deleted afterwards
    return executor, credential


def _blocks(*codes: str) -> list[CodeBlock]:
    return [CodeBlock(code=code, language="python") for code in codes]


async def test_execute_code_blocks_after_its_setup(
    local_pool: LocalPool, tmp_path: Path, janitor: SessionJanitor
) -> None:
    executor, credential = _executor(local_pool, tmp_path, janitor)
    result = await executor.execute_code_blocks(
        _blocks("import sys; print('hello world!')", "import os; print(os.getcwd())"),
        CancellationToken(),
    )
    assert result.exit_code == 0, result.output
    assert "hello world!" in result.output and "/mnt/data" in result.output
    assert credential.scopes == [("https://dynamicsessions.io/.default",)]
    failed = await executor.execute_code_blocks(
        _blocks("raise ValueError('boom')"), CancellationToken()
    )
    assert failed.exit_code == 1 and "ValueError: boom" in failed.output


async def test_upload_list_and_read_relative_to_mnt_data(
    local_pool: LocalPool, tmp_path: Path, janitor: SessionJanitor
) -> None:
    (tmp_path / "test_upload_1.txt").write_text("test1 contents")
    (tmp_path / "test_upload_2.txt").write_text("test2 contents")
    executor, _ = _executor(local_pool, tmp_path, janitor)
    token = CancellationToken()
    await executor.upload_files(["test_upload_1.txt", "test_upload_2.txt"], token)
    assert set(await executor.get_file_list(token)) == {"test_upload_1.txt", "test_upload_2.txt"}
    code = (
        "with open('test_upload_1.txt') as f:\n  print(f.read())\n"
        "with open('/mnt/data/test_upload_2.txt') as f:\n  print(f.read())"
    )
    result = await executor.execute_code_blocks(_blocks(code), token)
    assert result.exit_code == 0, result.output
    assert "test1 contents" in result.output and "test2 contents" in result.output


async def test_files_written_by_code_download(
    local_pool: LocalPool, tmp_path: Path, janitor: SessionJanitor
) -> None:
    executor, _ = _executor(local_pool, tmp_path, janitor)
    token = CancellationToken()
    code = (
        "with open('report.txt', 'w') as f:\n  f.write('written in the session')\n"
        "with open('/mnt/data/data.bin', 'wb') as f:\n  f.write(bytes(range(256)))"
    )
    result = await executor.execute_code_blocks(_blocks(code), token)
    assert result.exit_code == 0, result.output
    assert set(await executor.get_file_list(token)) == {"report.txt", "data.bin"}
    paths = await executor.download_files(["report.txt", "data.bin"], token)
    assert paths == [str(tmp_path / "report.txt"), str(tmp_path / "data.bin")]
    assert (tmp_path / "report.txt").read_text() == "written in the session"
    assert (tmp_path / "data.bin").read_bytes() == bytes(range(256))
    with pytest.raises(FileNotFoundError):
        await executor.download_files(["missing.txt"], token)


async def test_restart_starts_a_fresh_session(
    local_pool: LocalPool, tmp_path: Path, janitor: SessionJanitor
) -> None:
    executor, _ = _executor(local_pool, tmp_path, janitor)
    token = CancellationToken()
    assert (await executor.execute_code_blocks(_blocks("x = 'abcdefg'"), token)).exit_code == 0
    kept = await executor.execute_code_blocks(_blocks("print(x)"), token)
    assert kept.exit_code == 0 and "abcdefg" in kept.output
    await executor.restart()
    janitor.add(executor._session_id)
    gone = await executor.execute_code_blocks(_blocks("print(x)"), token)
    assert gone.exit_code != 0 and "NameError" in gone.output


async def test_get_available_packages_splits_into_names(
    local_pool: LocalPool, tmp_path: Path, janitor: SessionJanitor
) -> None:
    """AutoGen strips '[]' off str(result) and splits on ',\n': the pool answers a list
    with its text repr on generation 1, as the real service (issue 15 item 14)."""
    executor, _ = _executor(local_pool, tmp_path, janitor)
    executor._ensure_access_token()  # what execute_code_blocks does first (private)
    packages = await executor.get_available_packages(CancellationToken())
    assert {"ipykernel", "setuptools", "numpy", "matplotlib"} <= packages, sorted(packages)[:20]
    installing = await executor.execute_code_blocks(
        _blocks("!pip install numpy"), CancellationToken()
    )
    assert "unavailable" not in installing.output, installing.output
    assert installing.exit_code == 0 and "numpy" in installing.output
