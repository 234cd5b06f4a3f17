"""jupyter_kernel_test's protocol conformance suite, run against our kernel."""

from __future__ import annotations

import os
import unittest
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jupyter_kernel_test as jkt
import pytest

from remote_kernel.kernel.spec import SpecOptions, install

NAME = "remote-python-conformance"


@pytest.fixture(scope="module", autouse=True)
def installed_on_jupyter_path(
    tmp_path_factory: pytest.TempPathFactory, local_pool: Any
) -> Iterator[None]:
    """jupyter_kernel_test starts kernels by name: put ours on JUPYTER_PATH."""
    prefix = tmp_path_factory.mktemp("conformance")
    env = {"ACA_POOL_ENDPOINT": local_pool.url, "ACA_POOL_TOKEN": local_pool.token}
    install(SpecOptions(name=NAME, env=env), prefix=str(prefix))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(Path(prefix) / "share" / "jupyter")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


class RemoteKernelConformance(jkt.KernelTests):
    kernel_name = NAME
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('test', file=sys.stderr)"
    completion_samples = [{"text": "zi", "matches": {"zip"}}]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2"]
    invalid_code_samples = ["import = 7q"]
    code_page_something = "zip?"
    code_generate_error = "raise ValueError('conformance')"
    code_execute_result = [
        {"code": "1+2+3", "result": "6"},
        {"code": "[n*n for n in range(1, 4)]", "result": "[1, 4, 9]"},
    ]
    code_display_data = [
        {"code": "from IPython.display import HTML, display; display(HTML('<b>test</b>'))",
         "mime": "text/html"},
        {"code": "from IPython.display import Math, display; display(Math('\\\\frac{1}{2}'))",
         "mime": "text/latex"},
    ]  # fmt: skip
    code_history_pattern = "1?2*"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "zip"

    def test_clear_output(self) -> None:
        """On a streaming pool clear_output arrives as its message, in its place (so
        animations work); the front-end applies it."""
        self.flush_channels()
        reply, output_msgs = self.execute_helper(
            code="from IPython.display import clear_output\n"
            "print('gone'); clear_output(); print('shown')"
        )
        self.assertEqual(reply["content"]["status"], "ok")
        seen = [(m["msg_type"], m["content"].get("text")) for m in output_msgs]
        self.assertEqual(
            seen, [("stream", "gone\n"), ("clear_output", None), ("stream", "shown\n")]
        )


if __name__ == "__main__":  # pragma: no cover
    unittest.main()
