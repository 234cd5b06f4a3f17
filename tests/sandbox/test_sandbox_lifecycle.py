"""Sessions that time out, get cancelled, run out of memory, crash, and move files."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import psutil
import pytest
from sandbox_helpers import result_text, run, start_runtime

from remote_kernel.errors import ConfigurationError
from remote_kernel.server.runtimes.pyodide import SandboxRuntime

pytestmark = pytest.mark.asyncio(loop_scope="module")

STUBBORN_LOOP = (
    "while True:\n"
    "    try:\n"
    "        while True:\n"
    "            pass\n"
    "    except KeyboardInterrupt:\n"
    "        pass"
)


async def test_timeout_interrupts_and_keeps_state(shared_sandbox):
    await run(shared_sandbox, "kept = 'still here'")
    started = time.perf_counter()
    outcome = await run(shared_sandbox, "print('working')\nwhile True:\n    pass", timeout=1.0)
    assert time.perf_counter() - started < 4.0
    assert outcome.timed_out and not outcome.state_lost
    assert outcome.error["ename"] == "TimeoutError"
    assert "1 s timeout" in outcome.error["evalue"]  # one wording for every runtime
    assert outcome.stdout == "working\n"
    assert result_text(await run(shared_sandbox, "kept")) == "'still here'"


async def test_sleep_is_interruptible(shared_sandbox):
    started = time.perf_counter()
    outcome = await run(shared_sandbox, "import time\ntime.sleep(30)", timeout=0.5)
    assert outcome.timed_out and not outcome.state_lost
    assert time.perf_counter() - started < 3.0


async def test_a_cell_waiting_in_await_is_interrupted_too(shared_sandbox):
    await run(shared_sandbox, "kept_async = 'yes'")
    started = time.perf_counter()
    outcome = await run(shared_sandbox, "import asyncio\nawait asyncio.sleep(30)", timeout=0.5)
    assert outcome.timed_out and not outcome.state_lost
    assert time.perf_counter() - started < 3.0
    assert result_text(await run(shared_sandbox, "kept_async")) == "'yes'"


async def test_cancel_interrupts_with_keyboard_interrupt(shared_sandbox):
    await run(shared_sandbox, "before_cancel = 1")
    task = asyncio.create_task(run(shared_sandbox, "import time\ntime.sleep(30)"))
    await asyncio.sleep(0.5)
    await shared_sandbox.interrupt()
    outcome = await asyncio.wait_for(task, 10)
    assert outcome.cancelled and not outcome.timed_out and not outcome.state_lost
    assert outcome.error["ename"] == "KeyboardInterrupt"
    assert result_text(await run(shared_sandbox, "before_cancel")) == "1"


async def test_a_caller_that_gives_up_stops_the_cell(shared_sandbox):
    task = asyncio.create_task(run(shared_sandbox, "import time\ntime.sleep(30)"))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    started = time.perf_counter()
    assert result_text(await run(shared_sandbox, "1 + 1", timeout=10)) == "2"
    assert time.perf_counter() - started < 5


async def test_files_move_both_ways_through_mnt_data(shared_sandbox):
    workdir = shared_sandbox.workdir
    (workdir / "uploaded.csv").write_text("a,b\n1,2\n")
    outcome = await run(
        shared_sandbox,
        "import os, csv\n"
        "rows = list(csv.reader(open('/mnt/data/uploaded.csv')))\n"
        "os.makedirs('out', exist_ok=True)\n"
        "with open('out/result.txt', 'w') as fh:\n"
        "    fh.write(str(rows))\n"
        "os.getcwd(), sorted(os.listdir('.'))",
    )
    assert result_text(outcome) == "('/mnt/data', ['out', 'uploaded.csv'])"
    assert (workdir / "out" / "result.txt").read_text() == "[['a', 'b'], ['1', '2']]"
    (workdir / "uploaded.csv").unlink()
    outcome = await run(shared_sandbox, "import os\nos.path.exists('uploaded.csv')")
    assert result_text(outcome) == "False"


async def test_memory_limit_gives_memory_error_and_session_survives(sandbox_prepared, tmp_path):
    runtime = await start_runtime(tmp_path, memory_limit_mb=256)
    try:
        await run(runtime, "small = bytearray(10 * 1024 * 1024)")
        outcome = await run(runtime, "big = bytearray(400 * 1024 * 1024)")
        assert outcome.error["ename"] == "MemoryError" and not outcome.state_lost
        outcome = await run(runtime, "hog = []\nwhile True:\n    hog.append(bytearray(1 << 20))")
        assert outcome.error["ename"] == "MemoryError" and not outcome.state_lost
        assert result_text(await run(runtime, "del hog\nlen(small)")) == str(10 * 1024 * 1024)
    finally:
        await runtime.shutdown()


async def test_stubborn_cell_costs_a_restart_and_says_so(sandbox_prepared, tmp_path):
    (tmp_path / "survives.txt").write_text("files outlive a restart")
    runtime = await start_runtime(tmp_path, interrupt_grace=1.0)
    try:
        await run(runtime, "lost_soon = 1")
        old_pid = runtime.pids[0]
        outcome = await run(runtime, STUBBORN_LOOP, timeout=0.5)
        assert outcome.timed_out and outcome.state_lost
        assert outcome.error["ename"] == "TimeoutError"
        assert "variables are gone (files are kept)" in outcome.error["evalue"]
        assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == "zombie"
        assert runtime.pids and runtime.pids[0] != old_pid
        after = await run(runtime, "'lost_soon' in globals(), open('survives.txt').read()")
        assert after.state_lost is False
        assert result_text(after) == "(False, 'files outlive a restart')"
    finally:
        await runtime.shutdown()


async def test_dead_process_is_restarted_and_reported(sandbox_prepared, tmp_path):
    runtime = await start_runtime(tmp_path)
    try:
        await run(runtime, "gone = 1")
        os.kill(runtime.pids[0], signal.SIGKILL)
        for _ in range(50):
            if not runtime.is_alive():
                break
            await asyncio.sleep(0.05)
        assert not runtime.is_alive()
        outcome = await run(runtime, "'gone' in globals()")
        assert outcome.state_lost
        assert result_text(outcome) == "False"
    finally:
        await runtime.shutdown()


async def test_a_fatal_pyodide_error_restarts_the_session_and_says_so(sandbox_prepared, tmp_path):
    """C code reaching a denied host call (here libc's system()) aborts Pyodide itself."""
    runtime = await start_runtime(tmp_path)
    try:
        await run(runtime, "doomed = 1")
        outcome = await run(runtime, "import ctypes\nctypes.CDLL(None).system(b'id')")
        assert outcome.state_lost and outcome.error["ename"] == "SandboxCrashed"
        assert "variables are gone" in outcome.error["evalue"]
        assert result_text(await run(runtime, "'doomed' in globals()")) == "False"
    finally:
        await runtime.shutdown()


async def test_new_session_sees_no_host_environment(sandbox_prepared, tmp_path, monkeypatch):
    monkeypatch.setenv("RK_SANDBOX_FRESH_SECRET", "fresh-secret-91c2")
    runtime = await start_runtime(tmp_path)
    try:
        outcome = await run(runtime, "import os\nsorted(os.environ.items())")
        assert "fresh-secret-91c2" not in result_text(outcome)
        assert "RK_SANDBOX_FRESH_SECRET" not in result_text(outcome)
        proc_env = psutil.Process(runtime.pids[0]).environ()
        assert "RK_SANDBOX_FRESH_SECRET" not in proc_env
    finally:
        await runtime.shutdown()


async def test_shutdown_leaves_no_process(sandbox_prepared, tmp_path):
    runtime = await start_runtime(tmp_path)
    pid = runtime.pids[0]
    assert psutil.pid_exists(pid)
    await runtime.shutdown()
    assert runtime.pids == [] and not runtime.is_alive()
    assert not psutil.pid_exists(pid)


async def test_bad_memory_limit_is_a_clear_error(monkeypatch):
    with pytest.raises(ConfigurationError, match="outside 128-4096 MB"):
        SandboxRuntime(memory_limit_mb=16)
    monkeypatch.setenv("REMOTE_KERNEL_SANDBOX_MEMORY_MB", "lots")
    with pytest.raises(ConfigurationError, match="not a whole number"):
        SandboxRuntime()


async def test_snapshot_can_be_turned_off(sandbox_prepared, monkeypatch):
    from remote_kernel.server.sandbox import environment

    assert sandbox_prepared.snapshot is not None and sandbox_prepared.snapshot.is_file()
    monkeypatch.setenv("REMOTE_KERNEL_SANDBOX_SNAPSHOT", "0")
    assert environment.prepare().snapshot is None


async def test_unusable_snapshot_falls_back_to_a_normal_load(
    sandbox_prepared, tmp_path, monkeypatch
):
    from remote_kernel.server.sandbox import environment

    broken = tmp_path / "snapshots" / "broken.bin"
    broken.parent.mkdir()
    broken.write_bytes(b"not a snapshot" * 100)
    monkeypatch.setattr(environment, "snapshot_path", lambda deno, cache: broken)
    assert environment.prepare().snapshot == broken
    runtime = await start_runtime(tmp_path / "session")  # a full load: what no snapshot costs
    try:
        assert result_text(await run(runtime, "6 * 7")) == "42"
        assert any("unusable" in line for line in runtime._stderr_tail)
    finally:
        await runtime.shutdown()


async def test_a_deno_that_cannot_start_is_a_clear_error(sandbox_prepared, tmp_path, monkeypatch):
    from remote_kernel.server.sandbox import SandboxUnavailableError

    fake = tmp_path / "deno"
    fake.write_text("#!/bin/sh\necho 'error: this is not deno' >&2\nexit 7\n")
    fake.chmod(0o755)
    monkeypatch.setenv("REMOTE_KERNEL_DENO", str(fake))
    runtime = SandboxRuntime()
    with pytest.raises(SandboxUnavailableError) as caught:
        await runtime.start(tmp_path / "session")
    assert "failed while starting" in str(caught.value)
    assert "this is not deno" in str(caught.value)
    assert "--check" in str(caught.value)
    assert runtime.pids == []
