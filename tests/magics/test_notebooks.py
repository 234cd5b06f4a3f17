"""Notebooks run by nbclient on the standard python3 kernel (ipykernel) with ``%load_ext remote_kernel``."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from pool_env import pool_env as clean_env

from remote_kernel.session import LOCAL_POOL_NOTICE


def run_notebook(cells: list[str], cwd: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in cells])
    client = NotebookClient(
        nb, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute(env=env)
    return nb


def texts(cell: Any, name: str) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == name)


def kinds(cell: Any) -> list[str]:
    return [o["output_type"] for o in cell.outputs]


def test_notebook_every_kind_of_output_and_file_and_variable_round_trips(local_pool, tmp_path):
    cells = [
        "%load_ext remote_kernel",
        "%%aca\nprint('hello')\nfrom IPython.display import display, Markdown\n"
        "display(Markdown('**a**'))\ndisplay(Markdown('**b**'))\n21 * 2",
        "n = %aca 5 * 5\nn",
        "%aca_config progress_threshold=64KiB",
        "data = bytes(range(256)) * 1024\nopen('blob.bin', 'wb').write(data)",
        "%aca_upload blob.bin",
        "%aca_download blob.bin back.bin",
        "assert open('back.bin', 'rb').read() == data",
        "d = {'k': [1, 2], 't': (3, 4)}\ns = {1, 2}\n%aca_push d s",
        "%%aca -o size\nd['k'].append(len(s))\nd2 = d\nlen(d2['k'])",
        "%aca_pull d2\nassert d2 == {'k': [1, 2, 2], 't': (3, 4)}, d2\nassert size == 3",
        "%aca_files",
        "%aca_config",
        "%aca_session",
    ]
    nb = run_notebook(cells, tmp_path, clean_env(local_pool))
    c = nb.cells
    assert kinds(c[1]) == ["stream", "display_data", "display_data", "execute_result"]
    assert texts(c[1], "stdout") == "hello\n"
    assert [o["data"]["text/markdown"] for o in c[1].outputs[1:3]] == ["**a**", "**b**"]
    assert c[1].outputs[3]["data"]["text/plain"] == "42"
    assert c[2].outputs[-1]["data"]["text/plain"] == "25"
    assert "100%" in texts(c[5], "stderr") and "upload blob.bin" in texts(c[5], "stderr")
    assert (tmp_path / "back.bin").read_bytes() == bytes(range(256)) * 1024
    assert "blob.bin" in c[11].outputs[0]["data"]["text/html"]
    config = json.dumps(c[12].outputs)
    assert local_pool.url in config and "set (hidden)" in config
    assert "Session:" in texts(c[13], "stdout")
    assert local_pool.token not in json.dumps(nb)  # the token appears nowhere


def test_remote_error_fails_the_cell_and_stops_nbclient(local_pool, tmp_path):
    cells = [
        "%load_ext remote_kernel",
        "%%aca\ndef inner():\n    raise ValueError('boom-remote')\ninner()",
        "print('not reached')",
    ]
    with pytest.raises(CellExecutionError) as info:
        run_notebook(cells, tmp_path, clean_env(local_pool))
    assert "boom-remote" in str(info.value)
    nb_error = info.value
    assert nb_error.ename == "RemoteExecutionError"


def test_remote_error_output_is_the_remote_traceback(local_pool, tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("%load_ext remote_kernel"),
            nbformat.v4.new_code_cell("%%aca\ndef inner():\n    raise ValueError('boom')\ninner()"),
            nbformat.v4.new_code_cell("%aca_upload /no/such/file"),
            nbformat.v4.new_code_cell("%aca_download no-such-remote.bin"),
        ]
    )
    client = NotebookClient(
        nb,
        timeout=90,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(env=clean_env(local_pool))
    errors = [o for o in nb.cells[1].outputs if o["output_type"] == "error"]
    assert len(errors) == 1
    tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(errors[0]["traceback"]))
    assert "raise ValueError('boom')" in tb and "remote_kernel/" not in tb
    # A usage mistake: one line on stderr, no traceback.
    usage = texts(nb.cells[2], "stderr")
    assert usage.startswith("UsageError: ") and len(usage.strip().splitlines()) == 1
    assert kinds(nb.cells[2]) == ["stream"]
    # A failure reported by the pool: one short error, our code not shown.
    errors = [o for o in nb.cells[3].outputs if o["output_type"] == "error"]
    assert [e["ename"] for e in errors] == ["NotFoundError"]
    assert len(errors[0]["traceback"]) == 1 and "404" in errors[0]["traceback"][0]


def test_embedded_pool_via_extension_config_announced_once(tmp_path):
    ipython_dir = tmp_path / "ipython"
    profile = ipython_dir / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        "c.InteractiveShellApp.extensions = ['remote_kernel']\n"
        "c.AcaMagics.progress_threshold = 1234\n"
    )
    cells = [
        "%aca_files",  # a command before any cell ran remotely
        "%%aca\nprint('remote')",
        "%aca_session",
        "%aca_config",
        "import psutil\nprint(sorted(p.pid for p in psutil.Process().children(recursive=True)))",
    ]
    nb = run_notebook(cells, tmp_path, clean_env(IPYTHONDIR=str(ipython_dir)))
    everything = json.dumps([c.outputs for c in nb.cells])
    assert everything.count(LOCAL_POOL_NOTICE[:60]) == 1
    assert LOCAL_POOL_NOTICE[:60] in texts(nb.cells[0], "stderr")
    assert texts(nb.cells[1], "stdout") == "remote\n"
    assert "embedded local pool" in texts(nb.cells[2], "stdout")
    assert "1.2 KiB" in json.dumps(nb.cells[3].outputs)
    # The embedded pool's session kernels end with the notebook's kernel.
    children = json.loads(texts(nb.cells[4], "stdout"))
    assert children, "the embedded pool should have started a session kernel"
    deadline = time.monotonic() + 15
    while any(psutil.pid_exists(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = [p for p in children if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert alive == []


def test_magics_example_notebook_runs(local_pool, tmp_path):
    source = Path(__file__).resolve().parents[2] / "examples" / "magics.ipynb"
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(
        nb, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=clean_env(local_pool))
    code = [c for c in nb.cells if c.cell_type == "code"]
    by_start = {c.source.split("\n")[0]: c for c in code}
    assert (
        by_start['summary["median"]  # a real local dict'].outputs[0]["data"]["text/plain"] == "3.5"
    )
    assert by_start["count = %aca len(rolls)"].outputs[0]["data"]["text/plain"] == "80"
    pulled = by_start["%aca_pull buckets"].outputs[-1]["data"]["text/plain"]
    assert pulled == "{'low': [3, 4, 5, 9, 2, 6], 'high': [5, 9, 6]}"
    assert local_pool.token not in json.dumps(nb)
