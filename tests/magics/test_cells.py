"""%%aca and %aca in a real IPython shell against the real local pool."""

from __future__ import annotations

from remote_kernel.commands import RemoteValue
from remote_kernel.errors import ExecutionError, RemoteKernelError
from remote_kernel.in_session import ALREADY_REMOTE
from remote_kernel.magics import RemoteExecutionError

from .conftest import one_line_error


def test_cell_streams_and_value(shell):
    ran = shell.run(
        "%%aca\nprint('to stdout')\nimport sys\nprint('to stderr', file=sys.stderr)\n40 + 2"
    )
    assert ran.success
    assert "to stdout" in ran.stdout
    assert "to stderr" in ran.stderr
    assert isinstance(ran.result.result, RemoteValue)
    assert repr(ran.result.result) == "42"
    assert "Out[" in ran.stdout and "42" in ran.stdout


def test_several_displays_and_a_figure_show_as_local(shell):
    ran = shell.run(
        "%%aca\n"
        "from IPython.display import display, HTML\n"
        "display(HTML('<b>one</b>'))\n"
        "display(HTML('<i>two</i>'))\n"
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3]); plt.show()\n"
        "'done'"
    )
    assert ran.success, ran.text
    html = [o["text/html"] for o in ran.outputs if "text/html" in o]
    assert html == ["<b>one</b>", "<i>two</i>"]
    assert any("image/png" in o for o in ran.outputs)
    assert repr(ran.result.result) == "'done'"


def test_state_persists_between_cells(shell):
    assert shell.run("%%aca\ncounter = 10").success
    ran = shell.run("%%aca\ncounter += 1\ncounter")
    assert repr(ran.result.result) == "11"


def test_line_magic_returns_the_value(shell):
    assert shell.run("n = %aca 2 ** 10").success
    assert shell.ns["n"] == 1024 and isinstance(shell.ns["n"], int)
    assert shell.run("s = %aca 'text'").success
    assert shell.ns["s"] == "text"
    assert shell.run("l = %aca [1, 'a', None]").success
    assert shell.ns["l"] == [1, "a", None]
    assert shell.run("r = %aca {1, 2}, {3: (4,)}").success  # JSON would lose the types
    assert shell.ns["r"] == ({1, 2}, {3: (4,)})
    assert shell.run("o = %aca object()").success  # no literal: the remote display
    assert isinstance(shell.ns["o"], RemoteValue) and repr(shell.ns["o"]).startswith("<object")
    shell.ns["local_only"] = "LOCAL"
    assert shell.run('t = %aca f"{1 + 1}-$local_only"').success  # remote code: not expanded here
    assert shell.ns["t"] == "2-$local_only"
    assert shell.run("none = %aca x_unused = 1").success
    assert shell.ns["none"] is None


def test_remote_error_shows_remote_traceback_and_fails_the_cell(shell):
    ran = shell.run("%%aca\ndef f():\n    return 1 / 0\nf()")
    assert not ran.success
    err = ran.error
    assert isinstance(err, RemoteExecutionError)
    assert isinstance(err, ExecutionError) and isinstance(err, RemoteKernelError)
    assert err.ename == "ZeroDivisionError"
    assert "ZeroDivisionError" in ran.stdout and "return 1 / 0" in ran.stdout
    assert "remote_kernel/" not in ran.text  # no traceback through our code
    assert "Traceback" in ran.stdout or "----" in ran.stdout  # the remote one is shown


def test_line_magic_error_raises_too(shell):
    ran = shell.run("%aca undefined_name_xyz")
    assert isinstance(ran.error, RemoteExecutionError) and ran.error.ename == "NameError"


def test_output_option_stores_the_real_object(shell):
    ran = shell.run("%%aca -o squares\n{i: i * i for i in range(4)}")
    assert ran.success, ran.text
    assert shell.ns["squares"] == {0: 0, 1: 1, 2: 4, 3: 9}
    ran = shell.run("%%aca --output frozen\nfrozenset({3, 4})")
    assert shell.ns["frozen"] == frozenset({3, 4})
    ran = shell.run("%%aca -o quiet_value\nx = 5\nx * 3;")
    assert ran.success and ran.result.result is None  # ';' still hides the display
    assert shell.ns["quiet_value"] == 15
    assert shell.run("%aca '_aca_last_value' in globals()").result.result is False


def test_output_option_errors_are_one_line(shell):
    text = one_line_error(shell.run("%%aca -o v\nx = 1"))
    assert "ends with an expression" in text
    text = one_line_error(shell.run("%%aca -o 1bad\n1"))
    assert "not a valid Python variable name" in text
    ran = shell.run("%%aca -o gen\n(i for i in range(3))")
    text = one_line_error(ran)
    assert "generator" in text and "cannot be pickled" in text


def test_quiet_hides_outputs(shell):
    ran = shell.run("%%aca --quiet\nprint('hidden')\n123")
    assert ran.success and "hidden" not in ran.text and ran.result.result is None
    ran = shell.run("%%aca -q\nraise ValueError('still shown')")
    assert isinstance(ran.error, RemoteExecutionError) and "still shown" in ran.stdout


def test_session_option_runs_elsewhere_for_one_cell(shell):
    before = shell.magics.remote.session_id
    assert shell.run("%%aca --session other-session-0001\nonly_there = 1").success
    assert shell.magics.remote.session_id == before
    ran = shell.run("%%aca\n'only_there' in globals()")
    assert repr(ran.result.result) == "False"
    ran = shell.run("%%aca -s other-session-0001\nonly_there")
    assert repr(ran.result.result) == "1"
    shell.magics.remote.client.delete_session("other-session-0001")


def test_timeout_option(shell):
    ran = shell.run("%%aca --timeout 1\nimport time\ntime.sleep(30)")
    assert isinstance(ran.error, RemoteExecutionError)
    assert "Timeout" in ran.error.ename or "KeyboardInterrupt" in ran.error.ename


def test_bad_options_are_one_line_usage_errors(shell):
    assert "UsageError" in one_line_error(shell.run("%%aca --bogus\n1"))
    assert "UsageError" in one_line_error(shell.run("%%aca --timeout abc\n1"))
    assert "between 0 and 220" in one_line_error(shell.run("%%aca --timeout -3\n1"))
    assert "Invalid session identifier" in one_line_error(shell.run("%%aca --session a_b\n1"))
    assert "empty" in one_line_error(shell.run("%%aca\n\n"))
    assert "Usage" in one_line_error(shell.run("%aca"))


def test_help_for_magics(shell):
    ran = shell.run("%aca?")
    for word in ("--session", "--timeout", "--quiet", "-o", "%aca CODE"):
        assert word in ran.text, word
    ran = shell.run("%%aca?")
    assert "--timeout" in ran.text and "%%aca [options]" in ran.text
    ran = shell.run("%aca_upload?")
    assert "%aca_upload LOCAL" in ran.text and "glob" in ran.text
    ran = shell.run("%aca_pull -h")
    assert ran.success and "protocol 4" in ran.stdout
    ran = shell.run("%aca_help")
    assert all(f"%aca_{n}" in ran.stdout for n in ("upload", "download", "push", "pull", "config"))


def test_interrupt_cancels_the_remote_run(shell):
    """Ctrl-C (SIGINT in the local kernel) while waiting cancels the remote execution too."""
    import signal
    import threading
    import time

    main = threading.main_thread().ident
    timer = threading.Timer(1.0, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    started = time.monotonic()
    ran = shell.run("%%aca\nimport time\ntime.sleep(60)\nfinished = True")
    timer.join()
    assert isinstance(ran.error, KeyboardInterrupt)
    assert time.monotonic() - started < 20
    started = time.monotonic()
    ran = shell.run("%aca 'finished' in globals()")  # the session is free again at once
    assert ran.result.result is False and time.monotonic() - started < 10


def test_missing_file_that_is_local_gets_the_upload_hint(shell, tmp_path, monkeypatch):
    (tmp_path / "my data.csv").write_text("a,b\n1,2\n")
    monkeypatch.chdir(tmp_path)
    ran = shell.run("%%aca\nopen('my data.csv')")
    assert not ran.success
    hint = "my data.csv is on this machine, not in the session: %aca_upload 'my data.csv'"
    raised = f"(raised in remote session {shell.magics.remote.session_id})"
    assert ran.stdout.rstrip().splitlines()[-2:] == [hint, raised]
    assert "%aca_upload" not in shell.run("%%aca\nopen('absent.csv')").text


def test_load_ext_inside_a_session_loads_nothing(shell):
    ran = shell.run(
        "%%aca\n%load_ext remote_kernel\n"
        "print('aca' in get_ipython().magics_manager.magics['cell'])"
    )
    assert ran.success
    assert ran.stdout.startswith(ALREADY_REMOTE + "False\n")
