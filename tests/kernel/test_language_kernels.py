"""jupyter_kernel_test's suite against ``remote-bash`` and ``remote-javascript``, each on
the embedded pool it starts itself (a shell or a JavaScript runtime: the kernel's language
decides), installed as ``remote-kernel install --language`` writes them."""

from __future__ import annotations

import json
import os
import unittest
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


class WithoutPythonOnlyFeatures:
    """What these kernels answer where the Python kernel has a feature they lack: the
    suite's own tests would be skipped for want of samples, so each is replaced by a
    check of the documented answer (an empty, valid reply)."""

    kc: Any
    command: str  # a cell that prints "x" and returns nothing

    def _reply(self, msg_id: str) -> dict[str, Any]:
        while True:
            reply = self.kc.get_shell_msg(timeout=jkt.TIMEOUT)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def test_completion(self) -> None:
        self.flush_channels()  # type: ignore[attr-defined]
        content = self._reply(self.kc.complete("ec", 2))["content"]
        assert content["status"] == "ok" and content["matches"] == []
        assert content["cursor_start"] == content["cursor_end"] == 2

    def test_is_complete(self) -> None:
        self.flush_channels()  # type: ignore[attr-defined]
        content = self._reply(self.kc.is_complete("if true; then"))["content"]
        assert content == {"status": "unknown"}

    def test_inspect(self) -> None:
        self.flush_channels()  # type: ignore[attr-defined]
        content = self._reply(self.kc.inspect("echo", 2))["content"]
        assert content["status"] == "ok" and content["found"] is False

    def test_pager(self) -> None:
        self.flush_channels()  # type: ignore[attr-defined]
        reply, _ = self.execute_helper(code=self.command)  # type: ignore[attr-defined]
        assert reply["content"]["status"] == "ok" and reply["content"]["payload"] == []

    def test_clear_output(self) -> None:
        """No clear_output of their own: a printing cell sends its stream, nothing else."""
        self.flush_channels()  # type: ignore[attr-defined]
        _, outputs = self.execute_helper(code=self.command)  # type: ignore[attr-defined]
        kinds = [m["msg_type"] for m in outputs]
        assert "clear_output" not in kinds and "stream" in kinds, kinds


class BashKernelTests(WithoutPythonOnlyFeatures, jkt.KernelTests):
    kernel_name = "remote-bash"
    language_name = "bash"
    file_extension = ".sh"
    code_hello_world = "echo 'hello, world'"
    code_stderr = "echo test >&2"
    code_generate_error = "false"  # no output: the exit code is the one error
    command = "echo x"
    # Only test_history runs these (a shell has no execute_result: see below).
    code_execute_result = [{"code": "echo 6"}, {"code": "echo 7"}]

    def test_execute_result(self) -> None:
        """A shell has no values: output is stream text, never an execute_result."""
        self.flush_channels()
        reply, outputs = self.execute_helper(code="echo 6")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual([m["msg_type"] for m in outputs], ["stream"])

    def test_display_data(self) -> None:
        """Nor rich displays: a command's output is text."""
        self.test_execute_result()

    code_history_pattern = "echo 6*"
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


class JavaScriptKernelTests(WithoutPythonOnlyFeatures, jkt.KernelTests):
    kernel_name = "remote-javascript"
    language_name = "javascript"
    file_extension = ".js"
    code_hello_world = "console.log('hello, world')"
    code_stderr = "console.error('test')"
    code_generate_error = "throw new RangeError('conformance')"
    command = "console.log('x')"
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
