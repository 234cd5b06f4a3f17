"""examples/bash.ipynb and examples/javascript.ipynb through ``remote-kernel run``: no
endpoint, no installed kernelspec, each kernel on the embedded pool its language needs.
A failing cell fails the run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from .conftest import (
    REPO,
    cell_starting,
    clean_env,
    jupyter_dirs,
    mime_outputs,
    outputs_text,
    run_cli,
)

pytestmark = pytest.mark.timeout(300)


def run_example(example: Path, tmp_path: Path) -> tuple[object, object]:
    name = example.name
    shutil.copy(example, tmp_path / name)
    env = clean_env(**jupyter_dirs(tmp_path / "jupyter"))
    proc = run_cli(["run", name, "-o", "out.ipynb"], env, cwd=tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stderr
    return nbformat.read(tmp_path / "out.ipynb", as_version=4), proc


def test_the_bash_example_keeps_its_shell_state(tmp_path: Path) -> None:
    nb, _ = run_example(REPO / "examples" / "bash.ipynb", tmp_path)
    assert outputs_text(cell_starting(nb, "pwd\necho")).startswith("/mnt/data\nbash ")
    assert outputs_text(cell_starting(nb, "pwd\ngreet")) == (
        "/mnt/data/project\nhello from the-session (build)\n"
    )
    assert outputs_text(cell_starting(nb, "printf")) == "3\npoints.csv\n"


def test_the_javascript_example_has_values_files_and_html(tmp_path: Path) -> None:
    nb, _ = run_example(REPO / "examples" / "javascript.ipynb", tmp_path)
    assert outputs_text(cell_starting(nb, "const prices")) == "3 prices\n"
    assert mime_outputs(cell_starting(nb, "prices.reduce"), "text/plain") == ["16"]
    assert json.loads(
        json.loads(mime_outputs(cell_starting(nb, "Deno.write"), "text/plain")[0])
    ) == [3, 5, 8]
    assert mime_outputs(cell_starting(nb, "Deno.jupyter.html"), "text/html") == ["<b>total:</b> 16"]


def test_a_failing_bash_cell_fails_the_run_with_its_exit_code(tmp_path: Path) -> None:
    nb = nbformat.read(REPO / "examples" / "bash.ipynb", as_version=4)
    nb.cells.append(
        nbformat.v4.new_code_cell("echo about to fail\nexit_with() { return 4; }\nexit_with")
    )
    nb.cells.append(nbformat.v4.new_code_cell("echo never reached"))
    nbformat.write(nb, tmp_path / "failing.ipynb")
    env = clean_env(**jupyter_dirs(tmp_path / "jupyter"))
    proc = run_cli(["run", "failing.ipynb", "-o", "out.ipynb"], env, cwd=tmp_path, timeout=240)
    assert proc.returncode != 0
    assert "code 4" in proc.stderr, proc.stderr
