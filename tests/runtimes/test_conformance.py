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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import pytest
import pytest_asyncio

from remote_kernel.server import mnt_data
from remote_kernel.server.outputs import OutputEvent, RunOutcome
from remote_kernel.server.runtimes import SessionRuntime, runtime_factory, runtime_names

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(180)]


@dataclass(frozen=True)
class Snippets:
    """What each test runs, in one runtime's language, and what it expects back.

    ``value`` reads a cell's value: the ``execute_result`` for an interpreter, the
    trimmed stdout for a shell (which has no last-expression result).
    """

    define_state: str  # defines ``counter`` = 40 and ``bump(n)``, outputs nothing
    use_state: str  # bump(2): value 42
    streams: str  # stdout one, two; stderr err; stdout three (each a line)
    rich: str | None  # an HTML display then the value 42; None: the language has none
    plain_instead_of_rich: str  # a shell's "rich" text is plain stdout
    set_kept: str  # kept = 'still here'
    get_kept: str
    kept_value: str
    failing: str  # prints 'partial' then fails
    error_name: str
    sleeper: str  # prints 'working' then sleeps 30 s
    quick: str  # value 2
    count_lines: str  # prints 0..4999, one a line
    #: Prints, then waits (at most 20 s) for a file the test creates only once it has
    #: received that print through the sink: proof of live output, with no timing.
    live: str  # then the value 'done' where there are values
    done_value: str
    files: str  # writes /mnt/data/written.txt; value: cwd and /mnt/data/uploaded.txt
    files_value: str
    stubborn: str  # ignores interrupts forever
    lost_check: str  # value: whether ``lost_soon`` is still defined, then survives.txt
    lost_value: str
    dead_check: str  # value: whether ``lost_soon`` is still defined
    dead_value: str
    value: Callable[[RunOutcome], str]


def result_text(outcome: RunOutcome) -> str:
    results = [o for o in outcome.outputs if o["output_type"] == "execute_result"]
    assert results, f"no execute_result in {outcome.outputs} (error: {outcome.error})"
    return str(results[-1]["data"]["text/plain"])


def stdout_text(outcome: RunOutcome) -> str:
    assert outcome.error is None, outcome.error
    return outcome.stdout.strip()


PYTHON = Snippets(
    define_state="counter = 40\ndef bump(n):\n    return counter + n",
    use_state="bump(2)",
    streams=(
        "import sys\nprint('one')\nprint('two')\n"
        "sys.stdout.flush()\nprint('err', file=sys.stderr)\nsys.stderr.flush()\nprint('three')"
    ),
    rich="from IPython.display import HTML, display\ndisplay(HTML('<b>rich</b>'))\n6 * 7",
    plain_instead_of_rich="",
    set_kept="kept = 'still here'",
    get_kept="kept",
    kept_value="'still here'",
    failing="print('partial')\n1 / 0",
    error_name="ZeroDivisionError",
    sleeper="print('working')\nimport time\ntime.sleep(30)",
    quick="1 + 1",
    count_lines="for i in range(5000):\n    print(i)",
    live=(
        "import os, time\n"
        "print('line 1', flush=True)\n"
        "for _ in range(400):\n"
        "    if os.path.exists('/mnt/data/seen'):\n"
        "        break\n"
        "    time.sleep(0.05)\n"
        "else:\n"
        "    print('not live')\n"
        "print('line 2')\n"
        "'done'"
    ),
    done_value="'done'",
    files=(
        "import os\n"
        "with open('/mnt/data/written.txt', 'w') as fh:\n"
        "    fh.write('from the session')\n"
        "os.getcwd(), open('/mnt/data/uploaded.txt').read()"
    ),
    files_value="('/mnt/data', 'from the host')",
    stubborn=(
        "import time\n"
        "while True:\n"
        "    try:\n"
        "        time.sleep(10)\n"
        "    except KeyboardInterrupt:\n"
        "        pass"
    ),
    lost_check="'lost_soon' in globals(), open('survives.txt').read()",
    lost_value="(False, 'files outlive a restart')",
    dead_check="'lost_soon' in globals()",
    dead_value="False",
    value=result_text,
)

BASH = Snippets(
    define_state="counter=40\nbump() { echo $((counter + $1)); }\ncd /tmp",
    use_state='bump 2 && [ "$PWD" = /tmp ] && cd /mnt/data',
    # Two pipes: only time orders stdout against stderr, as in a terminal.
    streams="echo one\necho two\nsleep 0.3\necho err >&2\nsleep 0.3\necho three",
    rich=None,
    plain_instead_of_rich="printf '<b>rich</b>\\n'",
    set_kept="export kept='still here'",
    get_kept="bash -c 'echo $kept'",  # exported: a child process sees it
    kept_value="still here",
    failing="echo partial\nfalse",
    error_name="NonZeroExitCode",
    sleeper="echo working\nsleep 30",
    quick="echo $((1 + 1))",
    count_lines="seq 0 4999",
    live=(
        "echo 'line 1'\n"
        "for _ in $(seq 400); do [ -e /mnt/data/seen ] && break; sleep 0.05; done\n"
        "[ -e /mnt/data/seen ] || echo 'not live'\n"
        "echo 'line 2'"
    ),
    done_value="",
    files=(
        "printf 'from the session' > /mnt/data/written.txt\n"
        'echo "$PWD $(cat /mnt/data/uploaded.txt)"'
    ),
    files_value="/mnt/data from the host",
    stubborn="trap '' INT\nwhile true; do sleep 10; done",
    lost_check='echo "${lost_soon:-unset} $(cat survives.txt)"',
    lost_value="unset files outlive a restart",
    dead_check='echo "${lost_soon:-unset}"',
    dead_value="unset",
    value=stdout_text,
)

JAVASCRIPT = Snippets(
    define_state="var counter = 40;\nfunction bump(n) { return counter + n; }",
    use_state="bump(2)",
    streams="console.log('one');\nconsole.log('two');\nconsole.error('err');\nconsole.log('three');",
    rich="Deno.jupyter.display({'text/html': '<b>rich</b>'}, {raw: true});\n6 * 7",
    plain_instead_of_rich="",
    set_kept="globalThis.kept = 'still here';",
    get_kept="kept",
    kept_value='"still here"',
    failing="console.log('partial');\nnull.property;",
    error_name="TypeError",
    # Synchronous: Deno's interrupt stops running code, not an awaited timer.
    sleeper=(
        "console.log('working');\n{ const end = Date.now() + 30000; while (Date.now() < end) {} }"
    ),
    quick="1 + 1",
    count_lines="for (let i = 0; i < 5000; i++) console.log(i);",
    live=(
        "console.log('line 1');\n"
        "var seen = false;\n"
        "for (let i = 0; i < 400 && !seen; i++) {\n"
        "  try { Deno.statSync('/mnt/data/seen'); seen = true; }\n"
        "  catch { await new Promise((r) => setTimeout(r, 50)); }\n"
        "}\n"
        "if (!seen) console.log('not live');\n"
        "console.log('line 2');\n"
        "'done'"
    ),
    done_value='"done"',
    files=(
        "Deno.writeTextFileSync('/mnt/data/written.txt', 'from the session');\n"
        "[Deno.cwd(), Deno.readTextFileSync('/mnt/data/uploaded.txt')].join(' ')"
    ),
    files_value='"/mnt/data from the host"',
    stubborn="await new Promise(() => {});",  # nothing running to interrupt: never settles
    lost_check="[typeof lost_soon, Deno.readTextFileSync('survives.txt')].join(' ')",
    lost_value='"undefined files outlive a restart"',
    dead_check="typeof lost_soon",
    dead_value='"undefined"',
    value=result_text,
)

LANGUAGES = {"python": PYTHON, "pyodide": PYTHON, "shell": BASH, "javascript": JAVASCRIPT}


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


@pytest.fixture(scope="module")
def lang(name: str) -> Snippets:
    """The snippets in the language of the runtime under test."""
    return LANGUAGES[name]


async def test_state_persists_and_the_last_expression_is_the_result(shared, lang) -> None:
    runtime, _ = shared
    first = await run(runtime, lang.define_state)
    assert first.error is None and first.outputs == [] and not first.state_lost
    assert lang.value(await run(runtime, lang.use_state)) == "42"


async def test_streams_in_order_merged_per_stream(shared, lang) -> None:
    runtime, _ = shared
    outcome = await run(runtime, lang.streams)
    assert [(o["name"], o["text"]) for o in outcome.outputs] == [
        ("stdout", "one\ntwo\n"),
        ("stderr", "err\n"),
        ("stdout", "three\n"),
    ]
    assert (outcome.stdout, outcome.stderr) == ("one\ntwo\nthree\n", "err\n")


async def test_rich_outputs(shared, lang) -> None:
    runtime, _ = shared
    if lang.rich is None:  # a shell: markup is text on stdout, never a display
        outcome = await run(runtime, lang.plain_instead_of_rich)
        assert outcome.outputs == [
            {"output_type": "stream", "name": "stdout", "text": "<b>rich</b>\n"}
        ]
        return
    outcome = await run(runtime, lang.rich)
    kinds = [o["output_type"] for o in outcome.outputs]
    assert kinds == ["display_data", "execute_result"], outcome.outputs
    assert outcome.outputs[0]["data"]["text/html"] == "<b>rich</b>"
    assert outcome.outputs[1]["data"]["text/plain"] == "42"


async def test_errors_are_outputs_and_keep_the_state(shared, lang) -> None:
    runtime, _ = shared
    await run(runtime, lang.set_kept)
    outcome = await run(runtime, lang.failing)
    assert outcome.error is not None and outcome.error["ename"] == lang.error_name
    assert outcome.stdout == "partial\n"
    assert outcome.outputs[-1]["output_type"] == "error"
    assert any(lang.error_name in line for line in outcome.error["traceback"])
    assert not outcome.timed_out and not outcome.state_lost
    assert lang.value(await run(runtime, lang.get_kept)) == lang.kept_value


async def test_the_error_comes_after_what_the_cell_printed_every_time(shared, lang) -> None:
    """An error ends a cell: what it printed before goes first, in the outputs and
    live, however the interpreter times its messages (Deno once sent its ``console``
    output after the error in 1 run of 10)."""
    runtime, _ = shared
    for _ in range(30):
        events: list[OutputEvent] = []
        outcome = await run(runtime, lang.failing, sink=events.append)
        assert [o["output_type"] for o in outcome.outputs] == ["stream", "error"]
        # One print may come as two chunks (ipykernel's flush timer): front-ends join them.
        assert [kind for kind, _ in groupby(e.msg_type for e in events)] == ["stream", "error"]
        assert outcome.stdout == "partial\n"


async def test_the_sink_gets_each_output_as_it_happens(shared, lang) -> None:
    runtime, workdir = shared
    events: list[OutputEvent] = []

    def sink(event: OutputEvent) -> None:
        events.append(event)
        if event.msg_type == "stream" and "line 1" in event.content["text"]:
            (workdir / "seen").write_text("")

    try:
        outcome = await run(runtime, lang.live, sink=sink)
    finally:
        (workdir / "seen").unlink(missing_ok=True)
    assert outcome.stdout == "line 1\nline 2\n", "the cell never saw its first line arrive"
    streamed = "".join(e.content["text"] for e in events if e.msg_type == "stream")
    assert streamed == outcome.stdout
    if lang.done_value:
        assert [e.msg_type for e in events][-1] == "execute_result"
        assert events[-1].content["data"]["text/plain"] == lang.done_value


async def test_timeout_interrupts_and_keeps_the_state(shared, lang) -> None:
    runtime, _ = shared
    await run(runtime, lang.set_kept)
    started = time.perf_counter()
    outcome = await run(runtime, lang.sleeper, timeout=1.0)
    assert time.perf_counter() - started < 10
    assert outcome.timed_out and not outcome.cancelled and not outcome.state_lost
    assert outcome.error is not None and outcome.error["ename"] == "TimeoutError"
    assert "1 s timeout" in outcome.error["evalue"] and "kept its state" in outcome.error["evalue"]
    assert outcome.stdout == "working\n"
    assert lang.value(await run(runtime, lang.get_kept)) == lang.kept_value


async def test_cancel_interrupts_and_keeps_the_state(shared, lang) -> None:
    runtime, _ = shared
    await run(runtime, lang.set_kept)
    started = asyncio.Event()

    def sink(event: OutputEvent) -> None:
        if event.msg_type == "stream":
            started.set()

    task = asyncio.create_task(run(runtime, lang.sleeper, sink=sink))
    await asyncio.wait_for(started.wait(), 30)
    await runtime.interrupt()
    outcome = await asyncio.wait_for(task, 15)
    assert outcome.cancelled and not outcome.timed_out and not outcome.state_lost
    assert outcome.error is not None and outcome.error["ename"] == "KeyboardInterrupt"
    assert lang.value(await run(runtime, lang.get_kept)) == lang.kept_value


async def test_a_caller_that_gives_up_stops_the_cell(shared, lang) -> None:
    runtime, _ = shared
    task = asyncio.create_task(run(runtime, lang.sleeper))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    started = time.perf_counter()
    assert lang.value(await run(runtime, lang.quick, timeout=20)) == "2"
    assert time.perf_counter() - started < 10


async def test_output_limit_cuts_each_stream_and_says_so(shared, lang) -> None:
    runtime, _ = shared
    full = "".join(f"{i}\n" for i in range(5000))
    events: list[OutputEvent] = []
    outcome = await run(runtime, lang.count_lines, max_output_chars=100, sink=events.append)
    notice = (
        f"\n[output truncated: {len(full) - 100} more characters of stdout were dropped; "
        "the limit is 100 characters per stream]\n"
    )
    assert outcome.truncated
    # The stdout field keeps its maximum exactly (Azure's outputStreamsMaxLength); the
    # notice is in the outputs and reaches a live reader as a stream event.
    assert outcome.stdout == full[:100]
    streams = [o for o in outcome.outputs if o["output_type"] == "stream"]
    assert "".join(o["text"] for o in streams) == full[:100] + notice
    assert "".join(e.content["text"] for e in events if e.msg_type == "stream") == (
        full[:100] + notice
    )


async def test_files_meet_at_mnt_data(shared, lang) -> None:
    runtime, workdir = shared
    (workdir / "uploaded.txt").write_text("from the host")
    outcome = await run(runtime, lang.files)
    assert lang.value(outcome) == lang.files_value
    assert (workdir / "written.txt").read_text() == "from the session"


async def test_a_stubborn_cell_costs_a_restart_and_says_so(own, lang) -> None:
    runtime, workdir = own
    runtime.interrupt_grace = 1.0
    (workdir / "survives.txt").write_text("files outlive a restart")
    await run(runtime, lang.define_state.replace("counter", "lost_soon"))
    outcome = await run(runtime, lang.stubborn, timeout=0.5)
    assert outcome.timed_out and outcome.state_lost and not outcome.session_lost
    assert outcome.error is not None and outcome.error["ename"] == "TimeoutError"
    assert "variables are gone (files are kept)" in outcome.error["evalue"]
    after = await run(runtime, lang.lost_check)
    assert not after.state_lost
    assert lang.value(after) == lang.lost_value


async def test_a_dead_interpreter_is_reported_as_lost_state(own, lang) -> None:
    runtime, _ = own
    await run(runtime, lang.define_state.replace("counter", "lost_soon"))
    os.kill(runtime.pids[0], signal.SIGKILL)
    for _ in range(100):
        if not runtime.is_alive():
            break
        await asyncio.sleep(0.05)
    assert not runtime.is_alive()
    outcome = await run(runtime, lang.dead_check)
    assert outcome.state_lost
    # A runtime that revives runs the cell in a fresh interpreter; the others give up
    # the session (the pool then discards it) and say so.
    if runtime.revives:
        assert lang.value(outcome) == lang.dead_value and not outcome.session_lost
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
