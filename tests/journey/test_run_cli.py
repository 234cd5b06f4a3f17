"""``remote-kernel run``: progress, the executed notebook, the failing cell named,
one-line errors for bad input. Each test runs the real command as a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .conftest import (
    EXAMPLES,
    cell_starting,
    clean_env,
    cli,
    jupyter_dirs,
    outputs_text,
    run_cli,
    session_ids,
)


def write_notebook(path: Path, *cells: Any) -> Path:
    nb = new_notebook(cells=list(cells))
    nbformat.write(nb, path)
    return path


@pytest.fixture
def env(local_pool: Any, tmp_path: Path) -> dict[str, str]:
    """The shared test pool; private Jupyter dirs (no kernelspec installed)."""
    return clean_env(local_pool, **jupyter_dirs(tmp_path / "jupyter"))


def test_failing_cell_is_named_and_partial_output_written(
    env: dict, tmp_path: Path, local_pool: Any
) -> None:
    notebook = write_notebook(
        tmp_path / "fails.ipynb",
        new_markdown_cell("# three code cells"),
        new_code_cell("x = 41\nprint('before', x)"),
        new_code_cell("y = x + 1\nprint('y is', y)\ny / 0"),
        new_code_cell("print('never runs')"),
    )
    out = tmp_path / "fails-out.ipynb"
    before = session_ids(local_pool)
    proc = run_cli(["run", str(notebook), "-o", str(out)], env)
    assert proc.returncode == 1
    assert re.search(r"^\[1/3\] ok", proc.stderr, re.M)
    assert re.search(r"^\[2/3\] FAILED", proc.stderr, re.M)
    assert "[3/3]" not in proc.stderr
    assert (
        "failed at cell [2/3] (index 2): y = x + 1 -> ZeroDivisionError: division by zero"
        in proc.stderr
    )
    assert f"Partial output written to {out}" in proc.stderr
    assert "Traceback" not in proc.stderr
    nb = nbformat.read(out, as_version=4)
    assert outputs_text(nb.cells[1]) == "before 41\n"
    assert outputs_text(nb.cells[2]) == "y is 42\n"
    assert nb.cells[2].outputs[-1].output_type == "error"
    assert nb.cells[2].outputs[-1].ename == "ZeroDivisionError"
    assert nb.cells[3].outputs == [] and nb.cells[3].execution_count is None
    assert session_ids(local_pool) <= before  # shut down gracefully: session deleted


def test_default_output_is_next_to_the_input(env: dict, tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "ok.ipynb", new_code_cell("6 * 7"))
    before = notebook.read_bytes()
    proc = run_cli(["run", "ok.ipynb"], env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote ok.out.ipynb" in proc.stderr
    assert notebook.read_bytes() == before  # the input is never overwritten by default
    nb = nbformat.read(tmp_path / "ok.out.ipynb", as_version=4)
    assert nb.cells[0].outputs[0]["data"]["text/plain"] == "42"


def test_live_chunks_are_saved_as_one_output_per_run_of_a_stream(env: dict, tmp_path: Path) -> None:
    """Output streamed in pieces is saved as JupyterLab saves it: neighbours of one
    stream merged, nothing moved across a display."""
    code = (
        "import sys, time\n"
        "from IPython.display import HTML, display\n"
        "for word in 'abc':\n"
        "    print(word, flush=True)\n"
        "    time.sleep(0.4)\n"
        "display(HTML('<i>plot</i>'))\n"
        "print('d')\n"
        "print('e', file=sys.stderr)"
    )
    notebook = write_notebook(tmp_path / "live.ipynb", new_code_cell(code))
    out = tmp_path / "live-out.ipynb"
    proc = run_cli(["run", str(notebook), "-o", str(out)], env)
    assert proc.returncode == 0, proc.stderr
    outputs = nbformat.read(out, as_version=4).cells[0].outputs
    shown = [(o.output_type, o.get("name"), o.get("text")) for o in outputs]
    assert shown == [
        ("stream", "stdout", "a\nb\nc\n"),
        ("display_data", None, None),
        ("stream", "stdout", "d\n"),
        ("stream", "stderr", "e\n"),
    ]


def test_raises_exception_tag_lets_the_run_continue(env: dict, tmp_path: Path) -> None:
    expected = new_code_cell("raise ValueError('expected')")
    expected.metadata["tags"] = ["raises-exception"]
    notebook = write_notebook(tmp_path / "tagged.ipynb", expected, new_code_cell("print('after')"))
    proc = run_cli(["run", str(notebook), "-o", str(tmp_path / "o.ipynb")], env)
    assert proc.returncode == 0, proc.stderr
    assert "[1/2] error (expected: raises-exception tag)" in proc.stderr
    assert "[2/2] ok" in proc.stderr


def test_timeout_interrupts_the_cell_and_fails_the_run(
    env: dict, tmp_path: Path, local_pool: Any
) -> None:
    notebook = write_notebook(
        tmp_path / "slow.ipynb",
        new_code_cell("import time\nfor _ in range(600):\n    time.sleep(0.1)"),
        new_code_cell("print('not reached')"),
    )
    before = session_ids(local_pool)
    started = time.monotonic()
    proc = run_cli(["run", str(notebook), "--timeout", "2", "-o", str(tmp_path / "o.ipynb")], env)
    elapsed = time.monotonic() - started
    # The interrupted first cell had created the session: the kernel still deletes it.
    assert session_ids(local_pool) <= before
    assert proc.returncode == 1
    assert "failed at cell [1/2] (index 0): import time -> TimeoutError" in proc.stderr
    assert "--timeout 2 s" in proc.stderr
    assert elapsed < 30, proc.stderr


def test_endpoint_flag_and_a_refused_endpoint(local_pool: Any, tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "one.ipynb", new_code_cell("print('hi there')"))
    env = clean_env(ACA_POOL_TOKEN=local_pool.token, **jupyter_dirs(tmp_path / "jupyter"))
    # --endpoint beats even a Jupyter config file's endpoint (here a dead one).
    profile = Path(env["IPYTHONDIR"]) / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        "c.RemoteKernel.pool_endpoint = 'http://127.0.0.1:9'\n"
    )
    proc = run_cli(["run", str(notebook), "--endpoint", local_pool.url], env)
    assert proc.returncode == 0, proc.stderr
    assert local_pool.url in proc.stderr
    nb = nbformat.read(tmp_path / "one.out.ipynb", as_version=4)
    assert outputs_text(nb.cells[0]) == "hi there\n"

    proc = run_cli(["run", str(notebook), "--endpoint", "http://127.0.0.1:9"], env)
    assert proc.returncode == 1
    assert "failed at cell [1/1] (index 0): print('hi there') -> PoolConnectionError" in (
        proc.stderr
    )


def test_installed_kernelspec_is_used(local_pool: Any, tmp_path: Path) -> None:
    """An installed spec's env (here its endpoint) is what the kernel runs with."""
    prefix = tmp_path / "prefix"
    env = clean_env(ACA_POOL_TOKEN=local_pool.token, **jupyter_dirs(tmp_path / "jupyter", prefix))
    proc = run_cli(
        ["install", "--prefix", str(prefix), "--name", "rk-journey", "--endpoint", local_pool.url],
        env,
    )
    assert proc.returncode == 0, proc.stderr
    notebook = write_notebook(tmp_path / "one.ipynb", new_code_cell("print(3 * 3)"))
    proc = run_cli(["run", str(notebook), "--kernel", "rk-journey"], env)
    assert proc.returncode == 0, proc.stderr
    assert f"on kernel 'rk-journey' (--kernel; {local_pool.url})" in proc.stderr
    assert outputs_text(nbformat.read(tmp_path / "one.out.ipynb", 4).cells[0]) == "9\n"


def test_kernel_that_cannot_start_is_one_line(local_pool: Any, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    env = clean_env(local_pool, **jupyter_dirs(tmp_path / "jupyter", prefix))
    assert run_cli(["install", "--prefix", str(prefix), "--name", "broken"], env).returncode == 0
    spec_file = prefix / "share" / "jupyter" / "kernels" / "broken" / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["argv"][0] = str(tmp_path / "no-such-python")
    spec_file.write_text(json.dumps(spec))
    notebook = write_notebook(tmp_path / "one.ipynb", new_code_cell("1"))
    proc = run_cli(["run", str(notebook), "--kernel", "broken"], env)
    assert proc.returncode == 1
    assert "the kernel failed at before the first cell" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "one.out.ipynb").exists()


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["missing.ipynb"], "no such notebook: missing.ipynb"),
        ("{ not json", ["bad.ipynb"], "bad.ipynb is not a notebook"),
        ('{"cells": 3}', ["bad.ipynb"], "bad.ipynb is not a notebook"),
        (b"\xff\xfe\x00binary", ["bad.ipynb"], "bad.ipynb is not a notebook"),
        (None, ["."], "not a file: ."),
        ("nb", ["good.ipynb", "-o", "nowhere/out.ipynb"], "output directory nowhere"),
        ("nb", ["good.ipynb", "--kernel", "nope"], "no kernelspec named 'nope' (--kernel;"),
        ("nb-ir", ["good.ipynb"], "no kernelspec named 'ir' (named by the notebook;"),
        ("nb", ["good.ipynb", "--endpoint", "ftp://x"], "Invalid endpoint 'ftp://x'"),
        ("nb", ["good.ipynb", "--timeout", "0"], "--timeout must be a positive number"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    env: dict, tmp_path: Path, setup: Any, args: list[str], message: str
) -> None:
    if setup == "nb":
        write_notebook(tmp_path / "good.ipynb", new_code_cell("1"))
    elif setup == "nb-ir":
        nb = new_notebook(cells=[new_code_cell("1")])
        nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
        nbformat.write(nb, tmp_path / "good.ipynb")
    elif isinstance(setup, bytes):
        (tmp_path / "bad.ipynb").write_bytes(setup)
    elif setup is not None:
        (tmp_path / "bad.ipynb").write_text(setup)
    proc = run_cli(["run", *args], env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("remote-kernel run: error: ") and message in lines[0], lines
    assert not list(tmp_path.glob("*.out.ipynb"))


def test_ctrl_c_interrupts_the_cell_and_keeps_the_outputs(
    env: dict, tmp_path: Path, local_pool: Any
) -> None:
    """Ctrl-C in a terminal: SIGINT to the whole foreground process group."""
    notebook = write_notebook(
        tmp_path / "long.ipynb",
        new_code_cell("print('first')"),
        new_code_cell("import time\nprint('started')\nfor _ in range(600):\n    time.sleep(0.1)"),
        new_code_cell("print('never')"),
    )
    out = tmp_path / "long-out.ipynb"
    before = session_ids(local_pool)
    proc = subprocess.Popen(
        [*cli(), "run", str(notebook), "-o", str(out)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:  # wait until the long cell is running
        lines.append(line)
        if line.startswith("[1/3] ok"):
            break
    time.sleep(1.5)
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=30) == 130, "".join(lines) + rest
    assert time.monotonic() - started < 15
    assert "interrupted (Ctrl-C) at cell [2/3] (index 1): import time" in rest
    nb = nbformat.read(out, as_version=4)
    assert outputs_text(nb.cells[1]) == "started\n"
    assert nb.cells[1].outputs[-1].ename == "KeyboardInterrupt"
    assert nb.cells[2].outputs == []
    time.sleep(1)
    survivors = [p for p in psutil.process_iter(["pid"]) if _in_group(p, proc.pid)]
    assert survivors == [], survivors
    assert session_ids(local_pool) <= before


def _in_group(process: Any, pgid: int) -> bool:
    try:
        return os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE
    except (ProcessLookupError, psutil.Error):
        return False


def test_command_only_notebook_uploads_and_leaves_no_session(
    env: dict, tmp_path: Path, local_pool: Any
) -> None:
    """%aca_* cells run in the kernel, relative to the notebook's folder; a kernel that
    only ran commands still deletes the session it made."""
    (tmp_path / "data.txt").write_text("some data\n")
    notebook = write_notebook(
        tmp_path / "files.ipynb", new_code_cell("%aca_upload data.txt"), new_code_cell("%aca_files")
    )
    before = session_ids(local_pool)
    proc = run_cli(["run", str(notebook)], env, cwd="/")  # not the notebook's folder
    assert proc.returncode == 0, proc.stderr
    nb = nbformat.read(tmp_path / "files.out.ipynb", as_version=4)
    assert "Uploaded data.txt -> /mnt/data/data.txt" in outputs_text(nb.cells[0])
    assert "data.txt" in nb.cells[1].outputs[0]["data"]["text/plain"]
    assert session_ids(local_pool) <= before


def test_notebook_runs_on_the_kernel_it_names_with_the_runs_endpoint(
    local_pool: Any, tmp_path: Path
) -> None:
    """examples/magics.ipynb is written for python3 + %load_ext: it runs there, and its
    magics reach the pool --endpoint names (the token comes from the environment)."""
    notebook = tmp_path / "magics.ipynb"
    notebook.write_bytes((EXAMPLES / "magics.ipynb").read_bytes())
    env = clean_env(ACA_POOL_TOKEN=local_pool.token, **jupyter_dirs(tmp_path / "jupyter"))
    proc = run_cli(["run", str(notebook), "--endpoint", local_pool.url], env, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert f"on kernel 'python3' (named by the notebook; {local_pool.url})" in proc.stderr
    nb = nbformat.read(tmp_path / "magics.out.ipynb", as_version=4)
    median = cell_starting(nb, 'summary["median"]')
    assert median.outputs[0]["data"]["text/plain"] == "3.5"  # a local dict: -o worked
    assert f"Pool: {local_pool.url}" in outputs_text(cell_starting(nb, "%aca_session"))


def test_kernel_flag_beats_the_notebooks_kernel(env: dict, tmp_path: Path) -> None:
    nb = new_notebook(
        cells=[new_code_cell("import os\nprint(os.environ.get('REMOTE_KERNEL_IN_SESSION'))")]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "py.ipynb")
    proc = run_cli(["run", "py.ipynb", "--kernel", "remote-python"], env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "on kernel 'remote-python' (--kernel;" in proc.stderr
    # The cell ran in a session of the pool, not in a local python3 kernel.
    assert outputs_text(nbformat.read(tmp_path / "py.out.ipynb", 4).cells[0]) == "1\n"


def test_failure_line_keeps_the_whole_fix(local_pool: Any, tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "one.ipynb", new_code_cell("print(1)"))
    env = clean_env(
        ACA_POOL_ENDPOINT=local_pool.url,
        ACA_POOL_TOKEN="not-the-pool-token",
        **jupyter_dirs(tmp_path / "jupyter"),
    )
    proc = run_cli(["run", str(notebook)], env)
    assert proc.returncode == 1
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("remote-kernel run: failed")]
    assert "AuthenticationError" in line
    assert line.endswith("pasted by hand expires after about an hour."), line
    assert "not-the-pool-token" not in proc.stderr
