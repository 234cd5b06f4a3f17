"""A notebook run end to end by nbclient, the standard runner (papermill, nbconvert)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from .conftest import SIGNAL_SPEC, kernel_manager, pool_env


def run_notebook(prefix: Path, pool: Any, sources: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    km = kernel_manager(prefix)  # its client validates every message nbclient reads
    client = NotebookClient(nb, km=km, timeout=60, kernel_name=SIGNAL_SPEC)
    client.execute(env=pool_env(pool))
    return nb


def test_notebook_runs_with_outputs(kernel_prefix: Path, local_pool: Any) -> None:
    nb = run_notebook(
        kernel_prefix,
        local_pool,
        [
            "data = [1, 2, 3]",
            "print(sum(data))",
            "from IPython.display import Markdown, display\ndisplay(Markdown('**hi**'))\nlen(data)",
        ],
    )
    assert nb.cells[0].outputs == []
    assert nb.cells[1].outputs[0].text == "6\n"
    kinds = [o.output_type for o in nb.cells[2].outputs]
    assert kinds == ["display_data", "execute_result"]
    assert nb.cells[2].outputs[0].data["text/markdown"] == "**hi**"
    assert nb.cells[2].outputs[1].data["text/plain"] == "3"
    assert [c.execution_count for c in nb.cells] == [1, 2, 3]


def test_failing_cell_raises_cell_execution_error(kernel_prefix: Path, local_pool: Any) -> None:
    with pytest.raises(CellExecutionError) as info:
        run_notebook(kernel_prefix, local_pool, ["x = 1", "raise ValueError('bad cell')", "x"])
    assert "ValueError" in str(info.value) and "bad cell" in str(info.value)
