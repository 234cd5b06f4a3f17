"""``%%aca`` in the standard python3 kernel (ipykernel) answers the session's ``input()``
through the front-end's stdin channel, when the front-end allows it."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client import BlockingKernelClient, KernelManager
from pool_env import pool_env

TIMEOUT = 90.0


@pytest.fixture(scope="module")
def ipykernel(local_pool: Any) -> Iterator[BlockingKernelClient]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=pool_env(local_pool))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        reply, _ = run(kc, "%load_ext remote_kernel")
        assert reply["content"]["status"] == "ok", reply["content"]
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run(
    kc: BlockingKernelClient, code: str, *, answer: str | None = None, allow_stdin: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``code``; answer its input_request with ``answer``; the reply and IOPub outputs
    (plus the input_request itself, as a message of type ``input_request``)."""
    msg_id = kc.execute(code, allow_stdin=allow_stdin)
    seen: list[dict[str, Any]] = []
    while True:
        if answer is not None:
            try:
                request = kc.get_stdin_msg(timeout=0.05)
            except queue.Empty:
                pass
            else:
                if request["parent_header"].get("msg_id") == msg_id:
                    seen.append(request)
                    kc.input(answer)
        try:
            msg = kc.get_iopub_msg(timeout=0.05 if answer is not None else TIMEOUT)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
        if msg["msg_type"] not in ("status", "execute_input"):
            seen.append(msg)
    while True:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply, seen


def _text(messages: list[dict[str, Any]]) -> str:
    return "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")


def test_aca_input_goes_to_the_front_end_and_back(ipykernel: BlockingKernelClient) -> None:
    code = "%%aca --timeout 120\nprint('before')\nname = input('who? ')\nprint('hello', name)"
    reply, seen = run(ipykernel, code, answer="Ada", allow_stdin=True)
    assert reply["content"]["status"] == "ok", reply["content"]
    requests = [m["content"] for m in seen if m["msg_type"] == "input_request"]
    assert requests == [{"prompt": "who? ", "password": False}]
    assert _text(seen) == "before\nhello Ada\n"

    code = "%%aca --timeout 120\nimport getpass\nkey = getpass.getpass('Key: ')\nprint(len(key))"
    reply, seen = run(ipykernel, code, answer="s3cr3t", allow_stdin=True)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert [m["content"]["password"] for m in seen if m["msg_type"] == "input_request"] == [True]
    assert _text(seen) == "6\n"


def test_aca_input_when_the_front_end_allows_no_stdin_fails_clearly(
    ipykernel: BlockingKernelClient,
) -> None:
    reply, seen = run(ipykernel, "%%aca --timeout 120\ninput('x? ')", allow_stdin=False)
    content = reply["content"]
    assert content["status"] == "error"
    assert content["ename"] == "RemoteExecutionError"  # how %%aca fails on a remote error
    assert content["evalue"].startswith("StdinNotImplementedError: input() and getpass() need")
    shown = "\n".join(content["traceback"])
    assert "need a front-end that streams" in shown
    assert "remote_kernel/" not in shown, shown  # the remote traceback, none of ours
    assert not [m for m in seen if m["msg_type"] == "input_request"]
