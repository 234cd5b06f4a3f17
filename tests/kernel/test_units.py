"""The kernel's local pieces, without a kernel process."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from remote_kernel.errors import ConfigurationError
from remote_kernel.kernel import introspect
from remote_kernel.kernel.history import History
from remote_kernel.kernel.interrupt import CancelOnInterrupt
from remote_kernel.kernel.routing import route_cell


@pytest.mark.parametrize(
    "code, commands, has_code",
    [
        ("%aca_files", ["%aca_files"], False),
        ("\n  %aca_files\n# list them\n%aca_session  \n", ["%aca_files", "%aca_session"], False),
        ("%aca_files\nprint(1)", ["%aca_files"], True),
        ("print(1)", [], True),
        ("# only a comment", [], False),
        ("%%aca\nprint(1)", [], True),
        ("", [], False),
    ],
)
def test_command_lines_are_split_from_the_code(
    code: str, commands: list[str], has_code: bool
) -> None:
    route = route_cell(code)
    assert route.commands == commands
    assert route.has_code is has_code


def test_mixed_cell_keeps_the_line_numbers_of_the_code() -> None:
    route = route_cell("x = 1\n%aca_upload data.csv\ny = x + 1")
    assert route.code == "x = 1\n\ny = x + 1"
    assert route.commands == ["%aca_upload data.csv"]


def test_aca_cell_keeps_timeout_and_names_ignored_options() -> None:
    route = route_cell("%%aca -t 5 -q -o value\nprint(1)")
    assert route.code == "\nprint(1)" and route.timeout == 5
    assert route.notes and "-o, -q ignored" in route.notes[0]
    assert route_cell("%%aca\nprint(1)").notes == []


@pytest.mark.parametrize(
    "code, message", [("%%aca --nope\n1", "unrecognized"), ("%%aca -t 999\n1", "--timeout")]
)
def test_aca_cell_bad_options_are_one_line(code: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        route_cell(code)


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
