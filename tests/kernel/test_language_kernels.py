"""jupyter_kernel_test's suite against ``remote-bash`` and ``remote-javascript``, each on
the embedded pool it starts itself (a shell or a JavaScript runtime: the kernel's language
decides), installed as ``remote-kernel install --language`` writes them."""

from __future__ import annotations

import json
import os
import unittest
from collections.abc import Iterator
from pathlib import Path

import jupyter_kernel_test as jkt
import pytest

from remote_kernel.cli import main as cli_main

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module", autouse=True)
def installed_on_jupyter_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    prefix = tmp_path_factory.mktemp("languages")
    for language in ("bash", "javascript"):
        # An empty endpoint: each kernel starts its embedded pool.
        argv = ["install", "--language", language, "--prefix", str(prefix)]
        assert cli_main([*argv, "--env", "ACA_POOL_ENDPOINT="]) == 0
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(Path(prefix) / "share" / "jupyter")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


def test_the_kernelspecs_name_their_language(tmp_path: Path) -> None:
    for language, display in (("bash", "Bash"), ("javascript", "JavaScript")):
        assert cli_main(["install", "--language", language, "--prefix", str(tmp_path)]) == 0
        spec_file = (
            tmp_path / "share" / "jupyter" / "kernels" / f"remote-{language}" / "kernel.json"
        )
        spec = json.loads(spec_file.read_text())
        assert spec["display_name"] == f"{display} (remote session)"
        assert spec["language"] == language
        assert spec["env"]["REMOTE_KERNEL_LANGUAGE"] == language


class BashKernelTests(jkt.KernelTests):
    kernel_name = "remote-bash"
    language_name = "bash"
    file_extension = ".sh"
    code_hello_world = "echo 'hello, world'"
    code_stderr = "echo test >&2"
    code_generate_error = "false"  # no output: the exit code is the one error
    completion_samples: list = []
    code_history_pattern = "echo*"
    supported_history_operations = ("tail", "range", "search")

    def test_a_non_zero_exit_code_is_an_error_with_the_code(self) -> None:
        self.flush_channels()
        reply, outputs = self.execute_helper(
            code="echo before; exit_with() { return 3; }; exit_with"
        )
        self.assertEqual(reply["content"]["status"], "error")
        self.assertIn("3", reply["content"]["evalue"])
        texts = [m["content"]["text"] for m in outputs if m["msg_type"] == "stream"]
        self.assertIn("before\n", "".join(texts))

    def test_aca_commands_work_in_a_bash_cell(self) -> None:
        self.flush_channels()
        self.execute_helper(code="echo listed > /mnt/data/made-by-bash.txt")
        reply, outputs = self.execute_helper(code="%aca_files")
        self.assertEqual(reply["content"]["status"], "ok")
        shown = json.dumps([m["content"] for m in outputs])
        self.assertIn("made-by-bash.txt", shown)

    def test_state_persists_across_cells(self) -> None:
        self.flush_channels()
        self.execute_helper(code="cd /tmp && export KEPT=yes")
        _, outputs = self.execute_helper(code='echo "$PWD $KEPT"')
        texts = [m["content"]["text"] for m in outputs if m["msg_type"] == "stream"]
        self.assertEqual("".join(texts), "/tmp yes\n")


class JavaScriptKernelTests(jkt.KernelTests):
    kernel_name = "remote-javascript"
    language_name = "javascript"
    file_extension = ".js"
    code_hello_world = "console.log('hello, world')"
    code_stderr = "console.error('test')"
    code_generate_error = "throw new RangeError('conformance')"
    completion_samples: list = []
    code_execute_result = [
        {"code": "1 + 2 + 3", "result": "6"},
        {"code": "[1, 2, 3].map((n) => n * n).join(',')", "result": '"1,4,9"'},
    ]
    code_display_data = [
        {"code": "Deno.jupyter.display({'text/html': '<b>test</b>'}, {raw: true})",
         "mime": "text/html"},
    ]  # fmt: skip
    code_history_pattern = "1 +*"
    supported_history_operations = ("tail", "range", "search")


if __name__ == "__main__":  # pragma: no cover
    unittest.main()
