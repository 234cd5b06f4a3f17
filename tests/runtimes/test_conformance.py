"""The runtime contract, checked against every registered runtime.

Each test runs once per name in :func:`runtime_names` (``python``: IPython
kernels; ``pyodide``: Pyodide under Deno), through the registry and the
:class:`SessionRuntime` methods the pool uses, with real interpreters. A new
runtime registered in ``server/runtimes/registry.py`` gets the whole suite.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from remote_kernel.server import mnt_data
from remote_kernel.server.outputs import OutputEvent, RunOutcome
from remote_kernel.server.runtimes import SessionRuntime, runtime_factory, runtime_names

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(180)]

STUBBORN = (
    "import time\n"
    "while True:\n"
    "    try:\n"
    "        time.sleep(10)\n"
    "    except KeyboardInterrupt:\n"
    "        pass"
)
#: Prints, then waits (at most 20 s) for a file the test creates only once it has
#: received that print through the sink: proof of live output, with no timing.
LIVE = (
    "import os, time\n"
    "print('line 1', flush=True)\n"
    "for _ in range(400):\n"
    "    if os.path.exists('/mnt/data/seen'):\n"
    "        break\n"
    "    time.sleep(0.05)\n"
    "else:\n"
    "    print('not live')\n"
    "print('line 2')"
)


@pytest.fixture(scope="module", params=runtime_names())
def name(request: pytest.FixtureRequest) -> str:
    if request.param == "pyodide":
        request.getfixturevalue("sandbox_prepared")
    elif not mnt_data.probe().available:
        pytest.fail(f"this machine gives sessions no /mnt/data: {mnt_data.probe().reason}")
    return str(request.param)


@pytest.fixture(scope="session")
def sandbox_prepared():
    """Pyodide in Deno's cache (fails, never skips, when it cannot be had)."""
    from remote_kernel.server.sandbox import prepare

    return prepare()


async def start(name: str, base: Path) -> tuple[SessionRuntime, Path]:
    workdir, state = base / "files", base / "state"
    workdir.mkdir()
    runtime = runtime_factory(name)(state)
    await runtime.start(workdir)
    return runtime, workdir


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(name: str, tmp_path_factory) -> AsyncIterator[tuple[SessionRuntime, Path]]:
    """One session per runtime for the tests that only add state."""
    runtime, workdir = await start(name, tmp_path_factory.mktemp(f"conformance-{name}"))
    yield runtime, workdir
    await runtime.shutdown()


@pytest_asyncio.fixture(loop_scope="module")
async def own(name: str, tmp_path: Path) -> AsyncIterator[tuple[SessionRuntime, Path]]:
    """A session of its own, for the tests that restart or kill the interpreter."""
    runtime, workdir = await start(name, tmp_path)
    yield runtime, workdir
    await runtime.shutdown()


async def run(runtime: SessionRuntime, code: str, **kwargs) -> RunOutcome:
    kwargs.setdefault("timeout", 60.0)
    kwargs.setdefault("max_output_chars", 1_000_000)
    return await runtime.execute(code, **kwargs)


def result_text(outcome: RunOutcome) -> str:
    results = [o for o in outcome.outputs if o["output_type"] == "execute_result"]
    assert results, f"no execute_result in {outcome.outputs} (error: {outcome.error})"
    return str(results[-1]["data"]["text/plain"])


async def test_state_persists_and_the_last_expression_is_the_result(shared) -> None:
    runtime, _ = shared
    first = await run(runtime, "counter = 40\ndef bump(n):\n    return counter + n")
    assert first.error is None and first.outputs == [] and not first.state_lost
    assert result_text(await run(runtime, "bump(2)")) == "42"


async def test_streams_in_order_merged_per_stream(shared) -> None:
    runtime, _ = shared
    code = (
        "import sys\nprint('one')\nprint('two')\n"
        "sys.stdout.flush()\nprint('err', file=sys.stderr)\nsys.stderr.flush()\nprint('three')"
    )
    outcome = await run(runtime, code)
    assert [(o["name"], o["text"]) for o in outcome.outputs] == [
        ("stdout", "one\ntwo\n"),
        ("stderr", "err\n"),
        ("stdout", "three\n"),
    ]
    assert (outcome.stdout, outcome.stderr) == ("one\ntwo\nthree\n", "err\n")


async def test_rich_outputs(shared) -> None:
    runtime, _ = shared
    code = "from IPython.display import HTML, display\ndisplay(HTML('<b>rich</b>'))\n6 * 7"
    outcome = await run(runtime, code)
    kinds = [o["output_type"] for o in outcome.outputs]
    assert kinds == ["display_data", "execute_result"], outcome.outputs
    assert outcome.outputs[0]["data"]["text/html"] == "<b>rich</b>"
    assert outcome.outputs[1]["data"]["text/plain"] == "42"


async def test_errors_are_outputs_and_keep_the_state(shared) -> None:
    runtime, _ = shared
    await run(runtime, "before_error = 'kept'")
    outcome = await run(runtime, "print('partial')\n1 / 0")
    assert outcome.error is not None and outcome.error["ename"] == "ZeroDivisionError"
    assert outcome.stdout == "partial\n"
    assert outcome.outputs[-1]["output_type"] == "error"
    assert any("ZeroDivisionError" in line for line in outcome.error["traceback"])
    assert not outcome.timed_out and not outcome.state_lost
    assert result_text(await run(runtime, "before_error")) == "'kept'"


async def test_the_sink_gets_each_output_as_it_happens(shared) -> None:
    runtime, workdir = shared
    events: list[OutputEvent] = []

    def sink(event: OutputEvent) -> None:
        events.append(event)
        if event.msg_type == "stream" and "line 1" in event.content["text"]:
            (workdir / "seen").write_text("")

    try:
        outcome = await run(runtime, LIVE + "\n'done'", sink=sink)
    finally:
        (workdir / "seen").unlink(missing_ok=True)
    assert outcome.stdout == "line 1\nline 2\n", "the cell never saw its first line arrive"
    streamed = "".join(e.content["text"] for e in events if e.msg_type == "stream")
    assert streamed == outcome.stdout
    assert [e.msg_type for e in events][-1] == "execute_result"
    assert events[-1].content["data"]["text/plain"] == "'done'"


async def test_timeout_interrupts_and_keeps_the_state(shared) -> None:
    runtime, _ = shared
    await run(runtime, "kept = 'still here'")
    started = time.perf_counter()
    outcome = await run(runtime, "print('working')\nimport time\ntime.sleep(30)", timeout=1.0)
    assert time.perf_counter() - started < 10
    assert outcome.timed_out and not outcome.cancelled and not outcome.state_lost
    assert outcome.error is not None and outcome.error["ename"] == "TimeoutError"
    assert "1 s timeout" in outcome.error["evalue"] and "kept its state" in outcome.error["evalue"]
    assert outcome.stdout == "working\n"
    assert result_text(await run(runtime, "kept")) == "'still here'"


async def test_cancel_interrupts_and_keeps_the_state(shared) -> None:
    runtime, _ = shared
    await run(runtime, "before_cancel = 1")
    started = asyncio.Event()

    def sink(event: OutputEvent) -> None:
        if event.msg_type == "stream":
            started.set()

    task = asyncio.create_task(
        run(runtime, "import time\nprint('started')\ntime.sleep(30)", sink=sink)
    )
    await asyncio.wait_for(started.wait(), 30)
    await runtime.interrupt()
    outcome = await asyncio.wait_for(task, 15)
    assert outcome.cancelled and not outcome.timed_out and not outcome.state_lost
    assert outcome.error is not None and outcome.error["ename"] == "KeyboardInterrupt"
    assert result_text(await run(runtime, "before_cancel")) == "1"


async def test_a_caller_that_gives_up_stops_the_cell(shared) -> None:
    runtime, _ = shared
    task = asyncio.create_task(run(runtime, "import time\ntime.sleep(30)"))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    started = time.perf_counter()
    assert result_text(await run(runtime, "1 + 1", timeout=20)) == "2"
    assert time.perf_counter() - started < 10


async def test_output_limit_cuts_each_stream_and_says_so(shared) -> None:
    runtime, _ = shared
    full = "".join(f"{i}\n" for i in range(5000))
    events: list[OutputEvent] = []
    outcome = await run(
        runtime, "for i in range(5000):\n    print(i)", max_output_chars=100, sink=events.append
    )
    notice = (
        f"\n[output truncated: {len(full) - 100} more characters of stdout were dropped; "
        "the limit is 100 characters per stream]\n"
    )
    assert outcome.truncated
    assert outcome.stdout == full[:100] + notice
    assert "".join(e.content["text"] for e in events if e.msg_type == "stream") == outcome.stdout


async def test_files_meet_at_mnt_data(shared) -> None:
    runtime, workdir = shared
    (workdir / "uploaded.txt").write_text("from the host")
    code = (
        "import os\n"
        "with open('/mnt/data/written.txt', 'w') as fh:\n"
        "    fh.write('from the session')\n"
        "os.getcwd(), open('/mnt/data/uploaded.txt').read()"
    )
    outcome = await run(runtime, code)
    assert result_text(outcome) == "('/mnt/data', 'from the host')"
    assert (workdir / "written.txt").read_text() == "from the session"


async def test_a_stubborn_cell_costs_a_restart_and_says_so(own) -> None:
    runtime, workdir = own
    runtime.interrupt_grace = 1.0
    (workdir / "survives.txt").write_text("files outlive a restart")
    await run(runtime, "lost_soon = 1")
    outcome = await run(runtime, STUBBORN, timeout=0.5)
    assert outcome.timed_out and outcome.state_lost and not outcome.session_lost
    assert outcome.error is not None and outcome.error["ename"] == "TimeoutError"
    assert "variables are gone (files are kept)" in outcome.error["evalue"]
    after = await run(runtime, "'lost_soon' in globals(), open('survives.txt').read()")
    assert not after.state_lost
    assert result_text(after) == "(False, 'files outlive a restart')"


async def test_a_dead_interpreter_is_reported_as_lost_state(own) -> None:
    runtime, _ = own
    await run(runtime, "gone = 1")
    os.kill(runtime.pids[0], signal.SIGKILL)
    for _ in range(100):
        if not runtime.is_alive():
            break
        await asyncio.sleep(0.05)
    assert not runtime.is_alive()
    outcome = await run(runtime, "'gone' in globals()")
    assert outcome.state_lost
    # A runtime that revives runs the cell in a fresh interpreter; the others give up
    # the session (the pool then discards it) and say so.
    if runtime.revives:
        assert result_text(outcome) == "False" and not outcome.session_lost
    else:
        assert outcome.session_lost and outcome.error["ename"] == "SessionLost"
        assert "interpreter died" in outcome.error["evalue"]


async def test_shutdown_leaves_no_process(own) -> None:
    runtime, _ = own
    pids = list(runtime.pids)
    assert pids and runtime.is_alive()
    await runtime.shutdown()
    assert not runtime.is_alive()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
