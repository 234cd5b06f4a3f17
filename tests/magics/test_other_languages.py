"""%%aca_bash and %%aca_js from a Python notebook: each on an embedded pool of its own type."""

from __future__ import annotations

import pytest

from remote_kernel.magics import RemoteExecutionError

pytestmark = pytest.mark.timeout(180)


def test_aca_bash_keeps_shell_state_and_fails_on_an_exit_code(shell) -> None:
    first = shell.run("%%aca_bash\ncd /tmp\nexport GREETING=hello\necho started")
    assert first.success, first.text
    assert first.stdout == "started\n"
    second = shell.run('%%aca_bash\necho "$PWD $GREETING"; echo warn >&2')
    assert (second.stdout, second.stderr) == ("/tmp hello\n", "warn\n")
    failed = shell.run("%%aca_bash\necho partial\nfalse")
    assert isinstance(failed.error, RemoteExecutionError)
    assert failed.error.ename == "NonZeroExitCode" and "code 1" in failed.error.evalue
    assert "partial\n" in failed.stdout


def test_aca_js_runs_javascript_with_state_and_a_value(shell) -> None:
    shell.run("%%aca_js\nvar total = 40;")
    ran = shell.run("%%aca_js\nconsole.log('adding');\ntotal + 2")
    assert ran.success, ran.text
    assert "adding\n" in ran.stdout
    assert any(o.get("text/plain") == "42" for o in ran.outputs), ran.outputs
    failed = shell.run("%%aca_js\nthrow new RangeError('too far')")
    assert isinstance(failed.error, RemoteExecutionError)
    assert (failed.error.ename, failed.error.evalue) == ("RangeError", "too far")


def test_the_python_cells_still_go_to_the_python_pool(shell) -> None:
    ran = shell.run("%%aca\nimport sys\nsys.version_info[0]")
    assert ran.success and repr(ran.result.result) == "3"
