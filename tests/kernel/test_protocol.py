"""Every reply kind and status is complete by the messaging spec (5.3+).

The kernel fixture's client validates each message as it arrives (see
conftest); these tests make the kernel send each kind, in each status, and
prove the validator rejects what the kernel used to send.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from jupyter_client import BlockingKernelClient

from . import msgspec
from .conftest import execute


def _reply(kc: BlockingKernelClient, msg_id: str) -> dict[str, Any]:
    while True:
        reply = kc.get_shell_msg(timeout=30)
        if reply["parent_header"]["msg_id"] == msg_id:
            return reply


def test_error_reply_carries_the_execution_count(kernel: BlockingKernelClient) -> None:
    before, _ = execute(kernel, "'before'")
    reply, _ = execute(kernel, "1 / 0")
    content = reply["content"]
    assert content["status"] == "error"
    assert content["execution_count"] == before["content"]["execution_count"] + 1
    assert msgspec.validate(reply, "shell") == []


def test_the_old_error_reply_is_rejected(kernel: BlockingKernelClient) -> None:
    """What sink.error_reply used to send: status, ename, evalue, traceback, no count."""
    reply, _ = execute(kernel, "raise ValueError('x')")
    old = copy.deepcopy(reply)
    old["content"] = {k: reply["content"][k] for k in ("status", "ename", "evalue", "traceback")}
    assert msgspec.validate(old, "shell") == ["execute_reply: missing 'execution_count'"]
    with pytest.raises(msgspec.MessageSpecError, match="execution_count"):
        msgspec.check(old, "shell")


def test_a_cell_queued_behind_an_error_is_aborted_with_a_count(
    kernel: BlockingKernelClient,
) -> None:
    failing = kernel.execute("raise RuntimeError('stop here')")
    queued = kernel.execute("'never runs'")
    first = _reply(kernel, failing)["content"]
    second = _reply(kernel, queued)["content"]
    assert first["status"] == "error"
    assert second == {"status": "aborted", "execution_count": first["execution_count"]}
    time.sleep(0.2)  # let the kernel stop aborting before the next test


def test_user_expressions_are_evaluated_in_the_remote_session(
    kernel: BlockingKernelClient,
) -> None:
    execute(kernel, "ux_value = 6")
    expressions = {"answer": "ux_value * 7", "missing": "no_such_name_ux"}
    reply, outputs = execute(kernel, "", silent=True, user_expressions=expressions)
    values = reply["content"]["user_expressions"]
    assert outputs == []
    assert values["answer"]["status"] == "ok"
    assert values["answer"]["data"]["text/plain"] == "42"
    assert values["missing"]["status"] == "error"
    assert values["missing"]["ename"] == "NameError"


def test_every_other_reply_kind_is_complete(kernel: BlockingKernelClient) -> None:
    replies = [
        kernel.kernel_info(reply=True, timeout=10),
        kernel.comm_info(reply=True, timeout=10),
        kernel.complete("pri", 3, reply=True, timeout=10),
        kernel.inspect("print", 5, reply=True, timeout=10),
        kernel.history(hist_access_type="tail", n=3, output=True, reply=True, timeout=10),
        _reply(kernel, kernel.is_complete("for i in range(3):")),
        _reply(kernel, kernel.is_complete("x = 1")),
    ]
    for reply in replies:
        assert msgspec.validate(reply, "shell") == [], reply["msg_type"]
    info = replies[0]["content"]
    assert info["debugger"] is False
    assert "debugger" not in info.get("supported_features", [])
    assert replies[5]["content"] == {"status": "incomplete", "indent": "    "}


def test_interrupt_reply_is_complete(kernel: BlockingKernelClient) -> None:
    request = kernel.session.msg("interrupt_request", {})
    kernel.control_channel.send(request)
    reply = kernel.get_control_msg(timeout=10)
    assert reply["msg_type"] == "interrupt_reply"
    assert reply["content"]["status"] == "ok"
    reply, _ = execute(kernel, "'alive'")
    assert reply["content"]["status"] == "ok"


def test_execute_input_and_status_are_complete(kernel: BlockingKernelClient) -> None:
    msg_id = kernel.execute("'seen'")
    seen = []
    while True:
        msg = kernel.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(msg["msg_type"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    assert seen[:2] == ["status", "execute_input"]
    assert _reply(kernel, msg_id)["content"]["status"] == "ok"
