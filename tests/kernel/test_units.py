"""The kernel's local pieces, without a kernel process."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from remote_kernel.kernel import introspect
from remote_kernel.kernel.history import History
from remote_kernel.kernel.interrupt import CancelOnInterrupt
from remote_kernel.kernel.kernel import command_lines


@pytest.mark.parametrize(
    "code, expected",
    [
        ("%aca_files", ["%aca_files"]),
        ("\n  %aca_files\n# list them\n%aca_session  \n", ["%aca_files", "%aca_session"]),
        ("%aca_files\nprint(1)", None),
        ("print(1)", None),
        ("# only a comment", None),
        ("%%aca\nprint(1)", None),
        ("", None),
    ],
)
def test_command_cells_are_recognised(code: str, expected: list[str] | None) -> None:
    assert command_lines(code) == expected


async def test_sigint_cancels_the_watched_task_and_the_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGINT)
    task = asyncio.ensure_future(asyncio.sleep(30))
    with CancelOnInterrupt(asyncio.get_running_loop()) as guard:
        guard.watch(task)
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGINT)
        await asyncio.wait({task}, timeout=5)
    assert task.cancelled()
    assert guard.interrupted
    assert signal.getsignal(signal.SIGINT) is before


async def test_sigint_without_a_task_is_only_recorded() -> None:
    with CancelOnInterrupt(asyncio.get_running_loop()) as guard:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(0.05)
    assert guard.interrupted


def test_page_requests() -> None:
    assert introspect.page_request("len?") == ("len", 0)
    assert introspect.page_request("?len") == ("len", 0)
    assert introspect.page_request("os.path.join??") == ("os.path.join", 1)
    assert introspect.page_request("x = 1\nlen?") is None
    assert introspect.page_request("print('?')") is None


def test_remote_replies_are_parsed_after_the_marker() -> None:
    stdout = "noise\n" + introspect.MARKER + '[[8, 10, "print", "function"], [8, 10, "pr2", "x"]]\n'
    reply = introspect.completion_reply(stdout, 10)
    assert reply["matches"] == ["print", "pr2"]
    assert (reply["cursor_start"], reply["cursor_end"]) == (8, 10)
    types = reply["metadata"]["_jupyter_types_experimental"]
    assert types[0] == {"start": 8, "end": 10, "text": "print", "type": "function"}
    assert introspect.completion_reply(introspect.MARKER + "[]", 4)["matches"] == []
    with pytest.raises(ValueError):
        introspect.parse_reply("no marker here")
    bundle = introspect.inspection_reply(
        introspect.MARKER + '{"text/plain": "doc", "text/html": "<p>doc</p>"}'
    )
    assert bundle == {"status": "ok", "found": True, "data": {"text/plain": "doc"}, "metadata": {}}


def test_introspection_code_is_one_statement_without_a_value() -> None:
    for code in (
        introspect.completion_code("import os\nos.pa", 15),
        introspect.inspection_code("zip(", 3, 0),
    ):
        assert code.startswith(("exec(", "print(")) and "\n" not in code
        compile(code, "<remote>", "single")  # one statement
    assert introspect.inspection_code("   ", 1, 0) is None


def test_completion_code_runs_against_a_real_ipython(capsys: pytest.CaptureFixture) -> None:
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.user_ns["unit_local_variable"] = 1
    before = set(shell.user_ns)
    result = shell.run_cell(introspect.completion_code("x = 1\nunit_local_v", 18))
    assert result.result is None  # nothing for _ / Out
    assert set(shell.user_ns) == before
    reply = introspect.completion_reply(capsys.readouterr().out, 18)
    assert "unit_local_variable" in reply["matches"]
    assert (reply["cursor_start"], reply["cursor_end"]) == (6, 18)


def test_history_queries() -> None:
    history = History()
    for line, source in enumerate(["a = 1", "a + 1", "b = 2", "a + 1"], start=1):
        history.record(line, source)
    history.record_output(2, {"text/plain": "2"})
    assert [e.line for e in history.query("tail", n=2)] == [3, 4]
    assert history.query("tail", n=3)[0].as_reply(True) == (1, 2, ("a + 1", "2"))
    assert [e.line for e in history.query("range", session=1, start=2, stop=4)] == [2, 3]
    assert history.query("range", session=7, start=1) == []
    assert [e.line for e in history.query("search", pattern="a*")] == [1, 2, 4]
    assert [e.line for e in history.query("search", pattern="a*", unique=True)] == [1, 4]
    assert [e.line for e in history.query("search", pattern="a*", n=1)] == [4]
