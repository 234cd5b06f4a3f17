"""``input()`` through the wrapper kernel on a sandbox (Pyodide) pool: the session's
``input_request`` reaches the front-end's stdin channel and the answer goes back."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client import BlockingKernelClient
from pool_env import pool_env

from remote_kernel.server import start_local_pool
from remote_kernel.server.runtimes.base import NO_STDIN
from remote_kernel.server.sandbox import prepare

from .conftest import answer_stdin, collect, execute, running_kernel, stream_text


@pytest.fixture(scope="module")
def sandbox_kernel(kernel_prefix: Path) -> Iterator[BlockingKernelClient]:
    prepare()  # Pyodide in Deno's cache (fails, never skips, when it cannot be had)
    pool = start_local_pool(token=secrets.token_urlsafe(24), prewarm=1, sandbox=True)
    try:
        with running_kernel(kernel_prefix, pool_env(pool)) as (_, kc):
            yield kc
    finally:
        pool.stop()


def test_input_and_getpass_round_trip_through_the_kernel(
    sandbox_kernel: BlockingKernelClient,
) -> None:
    # The kernel's first cell: the client does not know yet that this pool (reached
    # by URL) takes input, and learns it before the run.
    code = "import sys\nname = input('who? ')\nprint('hello', name, sys.platform)"
    msg_id = sandbox_kernel.execute(code, allow_stdin=True)
    assert answer_stdin(sandbox_kernel, msg_id, "Ada") == {"prompt": "who? ", "password": False}
    reply, messages = collect(sandbox_kernel, msg_id)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stream_text(messages) == "hello Ada emscripten\n"  # it ran in Pyodide

    code = "import getpass\nkey = getpass.getpass('Key: ')\nprint(len(key))"
    msg_id = sandbox_kernel.execute(code, allow_stdin=True)
    assert answer_stdin(sandbox_kernel, msg_id, "s3cr3t")["password"] is True
    reply, messages = collect(sandbox_kernel, msg_id)
    assert reply["content"]["status"] == "ok"
    assert stream_text(messages) == "6\n"


def test_input_without_stdin_fails_at_once_saying_why(
    sandbox_kernel: BlockingKernelClient,
) -> None:
    reply, _ = execute(sandbox_kernel, "input('x? ')", allow_stdin=False)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "StdinNotImplementedError"
    assert reply["content"]["evalue"] == NO_STDIN
