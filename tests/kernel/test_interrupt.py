"""Interrupts in both interrupt modes: the cell ends at once, the kernel lives on."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import BlockingKernelClient, KernelManager

from .conftest import (
    MESSAGE_SPEC,
    SIGNAL_SPEC,
    as_shown,
    collect,
    execute,
    kinds,
    pool_env,
    running_kernel,
    stream_text,
)


@pytest.fixture(scope="module", params=[SIGNAL_SPEC, MESSAGE_SPEC], ids=["signal", "message"])
def mode_kernel(
    request: pytest.FixtureRequest, kernel_prefix: Path, local_pool: Any
) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    with running_kernel(kernel_prefix, pool_env(local_pool), name=request.param) as pair:
        yield pair


def wait_until_busy(kc: BlockingKernelClient, msg_id: str) -> None:
    while True:
        msg = kc.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            return


def interrupt_running_cell(
    km: KernelManager, kc: BlockingKernelClient, code: str
) -> tuple[dict, list[dict], float]:
    msg_id = kc.execute(code)
    wait_until_busy(kc, msg_id)
    time.sleep(0.5)  # let the remote run start
    started = time.monotonic()
    km.interrupt_kernel()
    reply, outputs = collect(kc, msg_id, timeout=20)
    return reply, outputs, time.monotonic() - started


def test_interrupt_ends_the_cell_and_keeps_state(
    mode_kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    km, kc = mode_kernel
    execute(kc, "before_interrupt = 'kept'")
    reply, outputs, elapsed = interrupt_running_cell(km, kc, "import time\ntime.sleep(30)")
    assert elapsed < 3.0, elapsed  # the cell would take 30 s otherwise
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert kinds(outputs) == ["error"]
    assert outputs[0]["content"]["ename"] == "KeyboardInterrupt"
    assert km.is_alive()
    started = time.monotonic()
    reply, outputs = execute(kc, "before_interrupt")
    assert reply["content"]["status"] == "ok"
    assert outputs[-1]["content"]["data"]["text/plain"] == "'kept'"
    assert time.monotonic() - started < 10  # the remote sleep was cancelled, not waited out


def test_interrupted_cell_keeps_what_it_printed(
    mode_kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    km, kc = mode_kernel
    code = "import time\nprint('started')\ntime.sleep(30)"
    reply, outputs, elapsed = interrupt_running_cell(km, kc, code)
    outputs = as_shown(outputs)
    assert elapsed < 3.0, elapsed
    assert kinds(outputs) == ["stream", "error"]
    assert stream_text(outputs) == "started\n"
    assert outputs[1]["content"]["ename"] == "KeyboardInterrupt"
    assert "time.sleep(30)" in re.sub(
        r"\x1b\[[0-9;]*m", "", "".join(outputs[1]["content"]["traceback"])
    )
    assert reply["content"]["ename"] == "KeyboardInterrupt"


def test_interrupt_between_cells_is_harmless(
    mode_kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    km, kc = mode_kernel
    km.interrupt_kernel()
    time.sleep(0.3)
    assert km.is_alive()
    reply, outputs = execute(kc, "6 * 7")
    assert reply["content"]["status"] == "ok"
    assert outputs[-1]["content"]["data"]["text/plain"] == "42"


def test_two_quick_interrupts_keep_the_kernel_alive(
    mode_kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    km, kc = mode_kernel
    msg_id = kc.execute("import time\ntime.sleep(30)")
    wait_until_busy(kc, msg_id)
    time.sleep(0.3)
    km.interrupt_kernel()
    km.interrupt_kernel()
    reply, _ = collect(kc, msg_id, timeout=20)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert km.is_alive()
    assert execute(kc, "1")[0]["content"]["status"] == "ok"


def test_pool_without_cancel_says_the_run_may_go_on(
    kernel_prefix: Path, no_cancel_pool: Any
) -> None:
    with running_kernel(kernel_prefix, pool_env(no_cancel_pool)) as (km, kc):
        execute(kc, "still_there = 1")
        reply, outputs, elapsed = interrupt_running_cell(km, kc, "import time\ntime.sleep(3)")
        assert elapsed < 3.0, elapsed
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert kinds(as_shown(outputs)) == ["stream", "error"]
        assert "may still be going" in stream_text(outputs, "stderr")
        # The remote sleep could not be stopped; the next cell runs after it.
        reply, outputs = execute(kc, "still_there + 1")
        assert reply["content"]["status"] == "ok"
        assert outputs[-1]["content"]["data"]["text/plain"] == "2"
