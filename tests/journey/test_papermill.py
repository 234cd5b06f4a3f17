"""papermill drives the remote kernel: parameters are injected, an example runs, and a
failing remote cell raises PapermillExecutionError with the partial notebook written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from papermill.exceptions import PapermillExecutionError

from .conftest import EXAMPLES, clean_env, jupyter_dirs, outputs_text
from .test_examples import check_quickstart


@pytest.fixture
def remote_env(
    spec_prefix: Path, local_pool: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """papermill starts kernels with this process's environment: point it at the pool and
    at the installed kernelspec (and drop any pool settings of the user's)."""
    env = clean_env(local_pool, **jupyter_dirs(tmp_path / "jupyter", spec_prefix))
    for name in [k for k in os.environ if k not in env]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_papermill_runs_the_quickstart(remote_env: None, tmp_path: Path) -> None:
    source = tmp_path / "quickstart.ipynb"
    shutil.copy(EXAMPLES / "quickstart.ipynb", source)
    out = tmp_path / "quickstart-papermill.ipynb"
    papermill.execute_notebook(
        str(source), str(out), kernel_name="remote-python", cwd=str(tmp_path), progress_bar=False
    )
    nb = nbformat.read(out, as_version=4)
    check_quickstart(nb)
    assert not nb.metadata.papermill.get("exception")


def test_papermill_parameters_reach_the_remote_session(remote_env: None, tmp_path: Path) -> None:
    params = new_code_cell("greeting = 'default'\nrepeat = 1")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, new_code_cell("print(' '.join([greeting] * repeat))")])
    # What JupyterLab or VS Code records for a notebook saved with the remote kernel.
    nb.metadata["kernelspec"] = {
        "name": "remote-python",
        "display_name": "Python (remote session)",
        "language": "python",
    }
    source = tmp_path / "params.ipynb"
    nbformat.write(nb, source)
    out = tmp_path / "params-out.ipynb"
    papermill.execute_notebook(
        str(source),
        str(out),
        parameters={"greeting": "remote", "repeat": 3},
        progress_bar=False,
    )
    result = nbformat.read(out, as_version=4)
    assert outputs_text(result.cells[-1]) == "remote remote remote\n"


def test_papermill_fails_on_a_failing_remote_cell(remote_env: None, tmp_path: Path) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell("values = {'a': 1}\nprint('ran first')"),
            new_code_cell("values['missing']"),
            new_code_cell("print('never')"),
        ]
    )
    source = tmp_path / "fails.ipynb"
    nbformat.write(nb, source)
    out = tmp_path / "fails-out.ipynb"
    with pytest.raises(PapermillExecutionError) as caught:
        papermill.execute_notebook(
            str(source), str(out), kernel_name="remote-python", progress_bar=False
        )
    assert caught.value.ename == "KeyError"
    assert "missing" in caught.value.evalue
    written = nbformat.read(out, as_version=4)
    code = [c for c in written.cells if c.cell_type == "code"]
    assert outputs_text(code[0]) == "ran first\n"
    assert code[1].outputs[-1].output_type == "error"
    assert code[2].outputs == []
    assert written.metadata.papermill.exception is True
