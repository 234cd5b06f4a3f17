"""Live cells through a real kernel on the real local pool: output reaches IOPub while the
cell runs (a marker-file handshake, not timing), display updates and clears in order,
and nothing is shown twice when the result arrives.
"""

from __future__ import annotations

import queue
import uuid
from pathlib import Path
from typing import Any

from jupyter_client import BlockingKernelClient

from .conftest import CELL_TIMEOUT, answer_stdin, as_shown, collect, execute, stream_text


def waits_for(marker: Path) -> str:
    """Prints ``line 1``, waits (60 s at most) for ``marker``, then ``line 2`` or ``not live``."""
    return (
        "import os, time\nprint('line 1', flush=True)\ndeadline = time.time() + 60\n"
        f"while not os.path.exists({str(marker)!r}) and time.time() < deadline:\n"
        "    time.sleep(0.02)\n"
        f"print('line 2' if os.path.exists({str(marker)!r}) else 'not live')\n"
    )


def outputs_while_running(
    kc: BlockingKernelClient, code: str, on_message: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``code``, calling ``on_message`` with each IOPub output message as it arrives."""
    msg_id = kc.execute(code)
    seen: list[dict[str, Any]] = []
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=CELL_TIMEOUT * 2)
        except queue.Empty:
            raise AssertionError(f"the cell did not end; got {seen}") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            break
        if kind not in ("status", "execute_input"):
            seen.append(msg)
            on_message(msg)
    while True:  # skip stale replies, as conftest.collect does
        reply = kc.get_shell_msg(timeout=CELL_TIMEOUT)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply, seen


def test_a_print_reaches_iopub_while_the_cell_runs(
    kernel: BlockingKernelClient, tmp_path: Path
) -> None:
    marker = tmp_path / f"go-{uuid.uuid4().hex}"

    def on_message(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream" and "line 1" in msg["content"]["text"]:
            marker.touch()

    reply, seen = outputs_while_running(kernel, waits_for(marker), on_message)
    assert reply["content"]["status"] == "ok"
    text = "".join(m["content"]["text"] for m in seen if m["msg_type"] == "stream")
    assert text == "line 1\nline 2\n"  # once each: the result did not repeat them


def test_display_updates_and_clears_arrive_in_order(kernel: BlockingKernelClient) -> None:
    code = (
        "from IPython.display import display, clear_output\n"
        "h = display('a', display_id=True)\n"
        "h.update('b')\n"
        "clear_output(wait=True)\n"
        "print('y')\n"
        "42\n"
    )
    reply, messages = execute(kernel, code)
    assert reply["content"]["status"] == "ok"
    kinds = [m["msg_type"] for m in messages]
    assert kinds == [
        "display_data",
        "update_display_data",
        "clear_output",
        "stream",
        "execute_result",
    ]
    shown, updated = messages[0]["content"], messages[1]["content"]
    assert shown["transient"]["display_id"] == updated["transient"]["display_id"]
    assert updated["data"]["text/plain"] == "'b'"
    assert messages[2]["content"] == {"wait": True}
    assert messages[4]["content"]["execution_count"] == reply["content"]["execution_count"]


def test_an_error_after_live_output_is_sent_once(kernel: BlockingKernelClient) -> None:
    reply, messages = execute(kernel, "print('before')\n1/0")
    messages = as_shown(messages)
    assert reply["content"]["status"] == "error"
    assert [m["msg_type"] for m in messages] == ["stream", "error"]
    assert messages[1]["content"]["ename"] == "ZeroDivisionError"


def test_input_goes_to_the_front_end_and_back(kernel: BlockingKernelClient) -> None:
    msg_id = kernel.execute("name = input('Name? ')\nprint('hello', name)", allow_stdin=True)
    request = answer_stdin(kernel, msg_id, "Ada")
    assert request == {"prompt": "Name? ", "password": False}
    reply, messages = collect(kernel, msg_id)
    assert reply["content"]["status"] == "ok"
    assert "hello Ada\n" in stream_text(messages)


def test_getpass_asks_for_hidden_input(kernel: BlockingKernelClient) -> None:
    code = "import getpass\nkey = getpass.getpass('Key: ')\nprint(len(key))"
    msg_id = kernel.execute(code, allow_stdin=True)
    request = answer_stdin(kernel, msg_id, "s3cr3t")
    assert request["password"] is True
    reply, messages = collect(kernel, msg_id)
    assert reply["content"]["status"] == "ok"
    assert stream_text(messages) == "6\n"


def test_input_without_stdin_fails_at_once_saying_why(kernel: BlockingKernelClient) -> None:
    reply, messages = execute(kernel, "input('x? ')", allow_stdin=False)
    assert reply["content"]["status"] == "error"
    assert "need a front-end that streams" in reply["content"]["evalue"]
