"""What a front-end sees: one kernel on the shared pool, real Jupyter messages."""

from __future__ import annotations

import base64
import re
import time

from jupyter_client import BlockingKernelClient

from .conftest import as_shown, execute, kinds, stream_text


def test_kernel_info(kernel: BlockingKernelClient) -> None:
    content = kernel.kernel_info(reply=True, timeout=10)["content"]
    assert content["status"] == "ok"
    assert content["implementation"] == "remote_kernel"
    info = content["language_info"]
    assert info["name"] == "python"
    assert info["file_extension"] == ".py"
    assert info["version"].count(".") == 2
    assert "remote session" in content["banner"]
    assert content["help_links"]


def test_state_survives_across_cells(kernel: BlockingKernelClient) -> None:
    reply, _ = execute(kernel, "x = 41")
    assert reply["content"]["status"] == "ok"
    reply, outputs = execute(kernel, "x + 1")
    assert kinds(outputs) == ["execute_result"]
    result = outputs[0]["content"]
    assert result["data"]["text/plain"] == "42"
    assert result["execution_count"] == reply["content"]["execution_count"]


def test_execution_count_increments_and_silent_sends_nothing(
    kernel: BlockingKernelClient,
) -> None:
    first, _ = execute(kernel, "1")
    silent, outputs = execute(kernel, "print('hidden'); 2", silent=True)
    second, _ = execute(kernel, "3")
    assert outputs == []
    assert silent["content"]["status"] == "ok"
    assert second["content"]["execution_count"] == first["content"]["execution_count"] + 1


def test_outputs_arrive_in_order_with_their_types(kernel: BlockingKernelClient) -> None:
    code = (
        "import sys\n"
        "from IPython.display import HTML, display\n"
        "print('one')\n"
        "display(HTML('<b>two</b>'))\n"
        "print('three', file=sys.stderr)\n"
        "'four'"
    )
    reply, outputs = execute(kernel, code)
    outputs = as_shown(outputs)
    assert reply["content"]["status"] == "ok"
    assert kinds(outputs) == ["stream", "display_data", "stream", "execute_result"]
    assert outputs[0]["content"] == {"name": "stdout", "text": "one\n"}
    assert outputs[1]["content"]["data"]["text/html"] == "<b>two</b>"
    assert outputs[2]["content"] == {"name": "stderr", "text": "three\n"}
    assert outputs[3]["content"]["data"]["text/plain"] == "'four'"


def test_image_result_has_a_png_bundle(kernel: BlockingKernelClient) -> None:
    reply, outputs = execute(kernel, "from PIL import Image\nImage.new('RGB', (3, 2), 'red')")
    assert reply["content"]["status"] == "ok"
    assert kinds(outputs) == ["execute_result"]
    png = base64.b64decode(outputs[0]["content"]["data"]["image/png"])
    assert png.startswith(b"\x89PNG")


def test_failing_cell_sends_exactly_one_error(kernel: BlockingKernelClient) -> None:
    reply, outputs = execute(kernel, "print('before')\n1 / 0")
    outputs = as_shown(outputs)
    assert kinds(outputs) == ["stream", "error"]
    assert stream_text(outputs) == "before\n"
    error = outputs[1]["content"]
    assert error["ename"] == "ZeroDivisionError"
    assert "division by zero" in error["evalue"]
    plain = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))
    assert "1 / 0" in plain  # the remote traceback, colours and all
    content = reply["content"]
    assert content["status"] == "error"
    assert (content["ename"], content["evalue"]) == (error["ename"], error["evalue"])
    assert "Traceback" not in stream_text(outputs, "stderr")


def test_kernel_keeps_working_after_an_error(kernel: BlockingKernelClient) -> None:
    execute(kernel, "raise KeyError('k')")
    reply, outputs = execute(kernel, "'still here'")
    assert reply["content"]["status"] == "ok"
    assert outputs[0]["content"]["data"]["text/plain"] == "'still here'"


def test_empty_cell_is_ok_without_a_remote_call(kernel: BlockingKernelClient) -> None:
    reply, outputs = execute(kernel, "   \n")
    assert reply["content"]["status"] == "ok"
    assert outputs == []


def test_is_complete_is_answered_locally(kernel: BlockingKernelClient) -> None:
    def status(code: str) -> dict:
        kernel.is_complete(code)
        return kernel.get_shell_msg(timeout=10)["content"]

    assert status("x = 1") == {"status": "complete"}
    assert status("for i in range(3):") == {"status": "incomplete", "indent": "    "}
    assert status("x = (1,")["status"] == "incomplete"
    assert status("%aca_files")["status"] == "complete"
    assert status("import = 7q")["status"] == "invalid"


def complete(kernel: BlockingKernelClient, code: str) -> dict:
    """A completion, asked again (at most twice) while it comes back empty: the kernel's
    2 s budget can run out on a loaded machine while the session's completer warms up
    (the late answer then finishes in the background, so a second ask is quick)."""
    for _ in range(3):
        content = kernel.complete(code, len(code), reply=True, timeout=10)["content"]
        if content["matches"]:
            break
    return content


def test_completion_comes_from_the_remote_namespace(kernel: BlockingKernelClient) -> None:
    execute(kernel, "remote_only_variable_xyz = 1")
    code = "remote_only_var"
    content = complete(kernel, code)
    assert content["status"] == "ok"
    assert "remote_only_variable_xyz" in content["matches"]
    assert content["cursor_start"] == 0
    assert content["cursor_end"] == len(code)


def test_completion_on_the_second_line_uses_cell_offsets(kernel: BlockingKernelClient) -> None:
    code = "import os\nos.pa"
    content = complete(kernel, code)
    assert "os.path" in content["matches"] or "path" in content["matches"]
    assert content["cursor_start"] in (len("import os\n"), len("import os\nos."))


def test_completion_does_not_leave_traces_in_the_remote_session(
    kernel: BlockingKernelClient,
) -> None:
    execute(kernel, "'marker value'")
    kernel.complete("pri", 3, reply=True, timeout=10)
    _, outputs = execute(kernel, "_")
    assert outputs[0]["content"]["data"]["text/plain"] == "'marker value'"


def test_inspection_comes_from_the_remote_session(kernel: BlockingKernelClient) -> None:
    execute(kernel, "def remote_func_abc(a, b):\n    'Adds things remotely.'\n    return a + b")
    code = "remote_func_abc"
    content = kernel.inspect(code, len(code), reply=True, timeout=10)["content"]
    assert content["status"] == "ok"
    assert content["found"] is True
    assert "Adds things remotely." in content["data"]["text/plain"]
    missing = kernel.inspect("no_such_name_q", 5, reply=True, timeout=10)["content"]
    assert missing["found"] is False


def test_question_mark_pages_the_remote_docstring(kernel: BlockingKernelClient) -> None:
    execute(kernel, "def paged_func():\n    'Docstring shown in the pager.'")
    reply, outputs = execute(kernel, "paged_func?")
    payload = reply["content"]["payload"]
    assert [p["source"] for p in payload] == ["page"]
    assert "Docstring shown in the pager." in payload[0]["data"]["text/plain"]
    reply, outputs = execute(kernel, "not_defined_anywhere?")
    assert reply["content"]["payload"] == []
    assert "not found" in stream_text(outputs)


def test_completion_while_a_cell_runs_answers_empty_at_once(
    kernel: BlockingKernelClient,
) -> None:
    running = kernel.execute("import time; time.sleep(4)")
    time.sleep(0.5)
    request = kernel.session.msg("complete_request", {"code": "pri", "cursor_pos": 3})
    started = time.monotonic()
    kernel.control_channel.send(request)
    reply = kernel.get_control_msg(timeout=5)
    elapsed = time.monotonic() - started
    assert reply["parent_header"]["msg_id"] == request["header"]["msg_id"]
    assert reply["content"]["matches"] == []
    assert elapsed < 2.5  # the cell still has 3.5 s to go
    from .conftest import collect

    cell_reply, _ = collect(kernel, running)
    assert cell_reply["content"]["status"] == "ok"


def test_history_lists_this_kernels_inputs(kernel: BlockingKernelClient) -> None:
    execute(kernel, "history_a = 1")
    execute(kernel, "history_a + 1")
    tail = kernel.history(hist_access_type="tail", n=2, output=True, raw=True, reply=True)
    entries = tail["content"]["history"]
    assert [e[2][0] for e in entries] == ["history_a = 1", "history_a + 1"]
    assert entries[1][2][1] == "2"
    session, line = entries[1][0], entries[1][1]
    found = kernel.history(
        hist_access_type="range",
        session=session,
        start=line,
        stop=line + 1,
        output=False,
        raw=True,
        reply=True,
    )["content"]["history"]
    assert found == [[session, line, "history_a + 1"]]
    search = kernel.history(
        hist_access_type="search",
        pattern="history_a*",
        unique=True,
        output=False,
        raw=True,
        reply=True,
    )["content"]["history"]
    assert [e[2] for e in search] == ["history_a = 1", "history_a + 1"]
