"""Sessions across a kernel's life: creation, loss, restart, shutdown, the embedded pool."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from .conftest import execute, kinds, pool_env, running_kernel, stream_text


def session_ids(pool_client: Any) -> set[str]:
    return {s.identifier for s in pool_client.list_sessions()}


def test_shutdown_deletes_the_session_the_kernel_created(
    kernel_prefix: Path, local_pool: Any, pool_client: Any
) -> None:
    before = session_ids(pool_client)
    with running_kernel(kernel_prefix, pool_env(local_pool)):
        pass  # no cell: no session
    assert session_ids(pool_client) == before
    with running_kernel(kernel_prefix, pool_env(local_pool)) as (_, kc):
        execute(kc, "a = 1")
        created = session_ids(pool_client) - before
        assert len(created) == 1
    assert not created & session_ids(pool_client)


def test_session_kept_when_configured(
    kernel_prefix: Path, local_pool: Any, pool_client: Any
) -> None:
    before = session_ids(pool_client)
    keep = ["--RemoteKernel.delete_session_on_shutdown=False"]
    with running_kernel(kernel_prefix, pool_env(local_pool), extra_arguments=keep) as (_, kc):
        execute(kc, "a = 1")
    kept = session_ids(pool_client) - before
    assert len(kept) == 1
    pool_client.delete_session(kept.pop())


def test_restart_gives_a_new_session(
    kernel_prefix: Path, local_pool: Any, pool_client: Any
) -> None:
    before = session_ids(pool_client)
    with running_kernel(kernel_prefix, pool_env(local_pool)) as (km, kc):
        execute(kc, "restart_var = 1")
        first = session_ids(pool_client) - before
        km.restart_kernel()
        kc.wait_for_ready(timeout=60)
        reply, outputs = execute(kc, "restart_var")
        assert reply["content"]["ename"] == "NameError"
        second = session_ids(pool_client) - before
    assert len(first) == 1 and len(second) == 1
    assert first != second


@pytest.mark.parametrize(
    "budget",
    [
        pytest.param([], id="completion-in-time"),
        # Starting the recreated session takes longer: the completion is always late.
        pytest.param(["--RemoteKernel.completion_timeout=0.1"], id="completion-late"),
    ],
)
def test_lost_session_warns_before_the_next_cell(
    kernel_prefix: Path, local_pool: Any, pool_client: Any, budget: list[str]
) -> None:
    session = "kernel-lost-state-test"
    env = pool_env(local_pool, ACA_SESSION_ID=session)
    with running_kernel(kernel_prefix, env, extra_arguments=budget) as (_, kc):
        execute(kc, "precious = 1")
        pool_client.delete_session(session)  # what the pool's cooldown does
        # A completion reaches the new session first, answered in time or not (one past
        # its budget finishes in the background): its warning comes before the next cell.
        assert kc.complete("prec", 4, reply=True, timeout=20)["content"]["status"] == "ok"
        reply, outputs = execute(kc, "print('after'); precious")
        assert outputs[0]["msg_type"] == "stream"
        assert outputs[0]["content"]["name"] == "stderr"
        warning = outputs[0]["content"]["text"]
        assert "Variables" in warning and "gone" in warning
        assert reply["content"]["ename"] == "NameError"
        reply, outputs = execute(kc, "precious = 2; precious")
        assert "gone" not in stream_text(outputs, "stderr")  # said once
    pool_client.delete_session(session)


def test_a_recycled_session_is_said_before_the_cells_output(
    kernel_prefix: Path, local_pool: Any, pool_client: Any
) -> None:
    """No completion first: the cell itself finds the new session (the pool's ``session``
    event), and the warning still comes before what the cell prints."""
    session = "kernel-recycled-test"
    env = pool_env(local_pool, ACA_SESSION_ID=session)
    with running_kernel(kernel_prefix, env) as (_, kc):
        execute(kc, "kept = 1")
        pool_client.delete_session(session)
        reply, outputs = execute(kc, "print('after'); kept")
        texts = [(o["content"].get("name"), o["content"].get("text", "")) for o in outputs]
        assert texts[0][0] == "stderr" and "gone" in texts[0][1]
        assert texts[1] == ("stdout", "after\n")
        assert reply["content"]["ename"] == "NameError"
        assert sum("gone" in text for _, text in texts) == 1  # said once
    pool_client.delete_session(session)


def test_unreachable_pool_gives_one_clear_error(kernel_prefix: Path) -> None:
    env = pool_env(None, ACA_POOL_ENDPOINT="http://127.0.0.1:9", ACA_POOL_TOKEN="secret-token-1")
    with running_kernel(kernel_prefix, env) as (km, kc):
        reply, outputs = execute(kc, "1 + 1")
        assert kinds(outputs) == ["error"]
        error = outputs[0]["content"]
        assert error["ename"] == "PoolConnectionError"
        assert len(error["traceback"]) == 1  # no Python traceback from our code
        assert "secret-token-1" not in str(outputs)
        assert reply["content"]["status"] == "error"
        assert km.is_alive()


def test_no_endpoint_starts_the_local_pool_and_cleans_it_up(kernel_prefix: Path) -> None:
    with running_kernel(kernel_prefix, pool_env(None)) as (km, kc):
        kernel_pid = km.provisioner.process.pid
        # Front-ends (VS Code) run silent set-up code first: the notice must wait for a cell.
        assert execute(kc, "import os", silent=True)[1] == []
        reply, outputs = execute(kc, "print('pid', os.getpid())\n40 + 2")
        assert reply["content"]["status"] == "ok"
        notice = stream_text(outputs, "stderr")
        assert "embedded local session pool" in notice and "ACA_POOL_ENDPOINT" in notice
        assert outputs[-1]["content"]["data"]["text/plain"] == "42"
        remote_pid = int(stream_text(outputs).split()[1])
        children = psutil.Process(kernel_pid).children(recursive=True)
        assert remote_pid in {c.pid for c in children}
        reply, outputs = execute(kc, "'second'")
        assert "embedded" not in stream_text(outputs, "stderr")  # said once
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(c.is_running() for c in children):
        time.sleep(0.1)
    alive = [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == []


def test_bad_configured_session_id_is_one_error_per_cell(kernel_prefix: Path) -> None:
    env = pool_env(None, ACA_SESSION_ID="bad_id")
    with running_kernel(kernel_prefix, env) as (km, kc):
        for _ in range(2):
            reply, outputs = execute(kc, "1")
            assert kinds(outputs) == ["error"]
            assert outputs[0]["content"]["ename"] == "InvalidIdentifierError"
            assert "'bad_id'" in outputs[0]["content"]["evalue"]
        assert km.is_alive()
