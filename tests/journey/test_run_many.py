"""``remote-kernel run NB1 NB2 ... -j N``: a batch of notebooks, each in its own
session, with papermill-style ``-p`` parameters. Real command, real kernels, real pool."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from remote_kernel.cli.parameters import inject_parameters, parse_value
from remote_kernel.cli.run_board import Board, Job

from .conftest import clean_env, cli, jupyter_dirs, outputs_text, run_cli, session_ids

#: Says whether the session already ran another notebook, then marks it.
FRESH = "print('seen' if 'marker' in globals() else 'fresh')\nmarker = 1"


def write_notebook(path: Path, *cells: Any) -> Path:
    nbformat.write(new_notebook(cells=list(cells)), path)
    return path


def tagged(source: str, tag: str) -> Any:
    cell = new_code_cell(source)
    cell.metadata["tags"] = [tag]
    return cell


@pytest.fixture
def env(local_pool: Any, tmp_path: Path) -> dict[str, str]:
    return clean_env(local_pool, **jupyter_dirs(tmp_path / "jupyter"))


def test_a_failing_notebook_fails_the_batch_and_the_others_complete(
    env: dict, tmp_path: Path, local_pool: Any
) -> None:
    good = [
        write_notebook(tmp_path / f"good{i}.ipynb", new_code_cell(FRESH), new_code_cell(f"{i}*7"))
        for i in range(2)
    ]
    bad = write_notebook(
        tmp_path / "bad.ipynb", new_code_cell(FRESH), new_code_cell("1/0"), new_code_cell("2")
    )
    out = tmp_path / "out"
    out.mkdir()
    before = session_ids(local_pool)
    # A session id in the environment must not make the notebooks share a session.
    env = {**env, "ACA_SESSION_ID": "one-for-all"}
    args = ["run", str(good[0]), str(bad), str(good[1]), "-j", "2", "--output-dir", str(out)]
    proc = run_cli(args, env, timeout=240)
    assert proc.returncode == 1, proc.stderr
    table = proc.stdout.splitlines()
    assert table[0].split() == ["notebook", "cells", "time", "result"]
    assert table[1].startswith(str(good[0])) and table[1].endswith("  ok"), table
    assert (
        "failed at cell [2/3] (index 1): 1/0 -> ZeroDivisionError: division by zero" in (table[2])
    )
    assert table[3].startswith(str(good[1])) and table[3].endswith("  ok"), table
    assert "2 of 3 notebooks ok, 1 failed" in table[4]
    for i in range(len(good)):
        nb = nbformat.read(out / f"good{i}.out.ipynb", as_version=4)
        assert outputs_text(nb.cells[0]) == "fresh\n"
        assert nb.cells[1].outputs[0]["data"]["text/plain"] == str(i * 7)
    nb = nbformat.read(out / "bad.out.ipynb", as_version=4)
    assert outputs_text(nb.cells[0]) == "fresh\n"
    assert nb.cells[1].outputs[0]["ename"] == "ZeroDivisionError"
    assert nb.cells[2].outputs == []
    assert session_ids(local_pool) <= before  # every kernel deleted its session
    # In a pipe: plain lines, prefixed with the notebook.
    assert f"{bad}: [2/3] FAILED" in proc.stderr
    assert "\x1b[" not in proc.stderr


def test_parameters_are_injected_as_papermill_does(env: dict, tmp_path: Path) -> None:
    show = new_code_cell("print(repr(n), repr(rate), repr(flag), repr(nothing), repr(label))")
    defaults = tagged("n = 0\nrate = 0.0\nflag = False\nnothing = 1\nlabel = 'x'", "parameters")
    with_tag = write_notebook(tmp_path / "tagged.ipynb", new_code_cell("first = 1"), defaults, show)
    untagged = write_notebook(tmp_path / "plain.ipynb", show)
    params = ["-p", "n", "3", "-p", "rate", "0.5", "-p", "flag", "True", "-p", "nothing", "None"]
    params += ["-p", "label", "two words"]
    proc = run_cli(["run", str(with_tag), str(untagged), "-j", "2", *params], env, timeout=240)
    assert proc.returncode == 0, proc.stderr
    expected = "3 0.5 True None 'two words'\n"

    nb = nbformat.read(tmp_path / "tagged.out.ipynb", as_version=4)
    assert [c.metadata.get("tags") for c in nb.cells] == [
        None,
        ["parameters"],
        ["injected-parameters"],
        None,
    ]
    assert outputs_text(nb.cells[3]) == expected
    assert nb.metadata["papermill"]["parameters"]["n"] == 3

    nb = nbformat.read(tmp_path / "plain.out.ipynb", as_version=4)  # no parameters cell: top
    assert nb.cells[0].metadata["tags"] == ["injected-parameters"]
    assert outputs_text(nb.cells[1]) == expected


def test_parameters_in_the_single_form_replace_an_earlier_injection(
    env: dict, tmp_path: Path
) -> None:
    notebook = write_notebook(
        tmp_path / "again.ipynb",
        tagged("# Parameters\nn = 1\n", "injected-parameters"),
        new_code_cell("print(n * 2)"),
    )
    proc = run_cli(["run", str(notebook), "-p", "n", "21"], env)
    assert proc.returncode == 0, proc.stderr
    assert "[2/2] ok" in proc.stderr
    nb = nbformat.read(tmp_path / "again.out.ipynb", as_version=4)
    assert len(nb.cells) == 2
    assert outputs_text(nb.cells[1]) == "42\n"


@pytest.mark.parametrize(
    "text", ["3", "-7", "0.5", "1e3", "nan", "True", "False", "None", "true", "abc", "", "0x10"]
)
def test_values_parse_as_papermills_do(text: str) -> None:
    from papermill.cli import _resolve_type

    ours, theirs = parse_value(text), _resolve_type(text)
    assert type(ours) is type(theirs)
    assert repr(ours) == repr(theirs)


def test_non_finite_floats_are_valid_python() -> None:
    nb = new_notebook(cells=[new_code_cell("x")])
    inject_parameters(nb, {"a": float("nan"), "b": float("-inf")})
    scope: dict[str, Any] = {}
    exec(nb.cells[0].source, scope)
    assert scope["a"] != scope["a"] and scope["b"] == float("-inf")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a.ipynb", "-p", "not a name", "1"], "-p 'not a name': a parameter name must be"),
        (["a.ipynb", "-p", "class", "1"], "-p 'class': a parameter name must be"),
        (["a.ipynb", "b.ipynb", "-o", "x.ipynb"], "-o names one output; with several"),
        (["a.ipynb", "b.ipynb", "-j", "0"], "-j must be at least 1"),
        (["a.ipynb", "b.ipynb", "--output-dir", "nowhere"], "output directory nowhere"),
    ],
)
def test_bad_batch_input_is_one_line_and_exit_2(
    env: dict, tmp_path: Path, args: list[str], message: str
) -> None:
    for name in ("a", "b"):
        write_notebook(tmp_path / f"{name}.ipynb", new_code_cell("1"))
    proc = run_cli(["run", *args], env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("remote-kernel run: error: ") and message in lines[0], lines
    assert not list(tmp_path.glob("*.out.ipynb"))


def test_every_bad_notebook_is_named_before_anything_runs(env: dict, tmp_path: Path) -> None:
    write_notebook(tmp_path / "good.ipynb", new_code_cell("1"))
    (tmp_path / "bad.ipynb").write_text("{ nope")
    (tmp_path / "sub").mkdir()
    write_notebook(tmp_path / "sub" / "good.ipynb", new_code_cell("1"))
    args = ["good.ipynb", "bad.ipynb", "missing.ipynb", "sub/good.ipynb", "--output-dir", "."]
    proc = run_cli(["run", *args], env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3, proc.stderr
    assert "bad.ipynb is not a notebook" in lines[0]
    assert "no such notebook: missing.ipynb" in lines[1]
    assert "good.ipynb and sub/good.ipynb would both be written to good.out.ipynb" in lines[2]
    assert not list(tmp_path.glob("*.out.ipynb"))


def test_ctrl_c_stops_every_notebook_and_leaves_no_session(
    env: dict, tmp_path: Path, local_pool: Any
) -> None:
    """SIGINT to the foreground process group, as a terminal sends it."""
    slow = "import time\nfor _ in range(600):\n    time.sleep(0.1)"
    notebooks = [
        str(write_notebook(tmp_path / f"slow{i}.ipynb", new_code_cell(FRESH), new_code_cell(slow)))
        for i in range(3)
    ]
    before = session_ids(local_pool)
    proc = subprocess.Popen(
        [*cli(), "run", *notebooks, "-j", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None and proc.stdout is not None
    lines, running = [], set()
    for line in proc.stderr:  # wait until two slow cells run, each in its own session
        lines.append(line)
        if ": [1/2] ok" in line:
            running.add(line.split(":")[0])
        if len(running) == 2:
            break
    assert len(running) == 2, "".join(lines)
    assert len(session_ids(local_pool) - before) == 2
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGINT)
    started = time.monotonic()
    rest, table = proc.stderr.read(), proc.stdout.read()
    assert proc.wait(timeout=60) == 130, "".join(lines) + rest
    assert time.monotonic() - started < 30
    assert table.count("interrupted (Ctrl-C) at cell [2/2] (index 1)") == 2, table
    assert "slow2.ipynb" in table and "not run (Ctrl-C)" in table, table
    assert "0 of 3 notebooks ok, 2 failed, 1 not run" in table
    assert session_ids(local_pool) <= before
    for name in running:
        nb = nbformat.read(Path(name).with_name(Path(name).stem + ".out.ipynb"), as_version=4)
        assert nb.cells[1].outputs[-1].ename == "KeyboardInterrupt"


def test_embedded_pool_is_shared_and_bounds_j(tmp_path: Path) -> None:
    """No endpoint anywhere: one embedded pool for all kernels, -j capped at its limit."""
    env = clean_env(**jupyter_dirs(tmp_path / "jupyter"))
    notebooks = [
        str(write_notebook(tmp_path / f"n{i}.ipynb", new_code_cell("import os; os.getpid()")))
        for i in range(2)
    ]
    proc = run_cli(["run", *notebooks, "-j", "40"], env, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert (
        "remote-kernel run: -j 40 is more than the embedded local pool's 32 sessions: "
        "running at most 32 notebooks at a time" in proc.stderr
    )
    assert "the embedded local pool (shared)" in proc.stderr
    assert "2 of 2 notebooks ok, 0 failed" in proc.stdout


def test_terminal_lines_are_redrawn_in_place() -> None:
    jobs = [
        Job(Path(f"{name}.ipynb"), Path("o"), nb, "k", "why", None)
        for name, nb in (("a", new_notebook(cells=[new_code_cell("1")])), ("bb", new_notebook()))
    ]
    stream = io.StringIO()
    board = Board(jobs, stream, live=True)
    board.header(2)
    jobs[0].state, jobs[0].started = "running", time.monotonic()
    board.started(jobs[0])
    jobs[0].state, jobs[0].elapsed = "ok", 1.25
    board.finished(jobs[0])
    frames = stream.getvalue().split("\x1b[2F")  # each redraw moves up over the two lines
    assert len(frames) == 3, stream.getvalue()
    assert "a.ipynb   queued" in frames[0] and "[starting] running" in frames[1]
    assert "a.ipynb   ok (1.2s)" in frames[2] and "bb.ipynb  queued" in frames[2]
    long = Job(Path("d" * 300, "c.ipynb"), Path("o"), new_notebook(), "k", "why", None)
    board = Board([long], io.StringIO(), live=True)
    line = board.line(long, time.monotonic(), columns=80)
    assert line.startswith("...") and line.endswith("/c.ipynb  queued"), line
    assert len(line) == 32 + len("  queued"), line


LOSES_ITS_PORTS_ONCE = """\
import os, sys
marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tried")
if not os.path.exists(marker):
    open(marker, "w").close()
    print("zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:1')", file=sys.stderr)
    sys.exit(1)
os.execv(sys.executable, [sys.executable, "-m", "remote_kernel", "-f", sys.argv[1]])
"""


def test_a_kernel_that_lost_the_race_for_its_ports_is_started_again(
    local_pool: Any, tmp_path: Path
) -> None:
    """Many kernels starting at once can lose a port between jupyter_client choosing it
    and the kernel binding it: no cell ran, so the kernel is simply started again."""
    import json
    import sys

    spec_dir = tmp_path / "jupyter" / "data" / "kernels" / "flaky"
    spec_dir.mkdir(parents=True)
    (spec_dir / "start.py").write_text(LOSES_ITS_PORTS_ONCE)
    argv = [sys.executable, str(spec_dir / "start.py"), "{connection_file}"]
    spec = {"argv": argv, "display_name": "flaky", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    env = clean_env(local_pool, **jupyter_dirs(tmp_path / "jupyter"))
    flaky = new_notebook(cells=[new_code_cell("print('ran once')")])
    flaky.metadata["kernelspec"] = {"name": "flaky", "display_name": "flaky", "language": "python"}
    nbformat.write(flaky, tmp_path / "flaky.ipynb")
    other = write_notebook(tmp_path / "other.ipynb", new_code_cell("1"))
    proc = run_cli(["run", str(tmp_path / "flaky.ipynb"), str(other), "-j", "2"], env, timeout=240)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "the kernel lost a race for its ports; starting it again (1)" in proc.stderr
    assert "2 of 2 notebooks ok" in proc.stdout
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    nb = nbformat.read(tmp_path / "flaky.out.ipynb", as_version=4)
    assert outputs_text(nb.cells[0]) == "ran once\n"


def test_a_kernel_that_cannot_start_is_named_once_without_a_traceback(
    env: dict, tmp_path: Path
) -> None:
    import json

    spec_dir = Path(env["JUPYTER_DATA_DIR"]) / "kernels" / "broken"
    spec_dir.mkdir(parents=True)
    spec = {"argv": [str(tmp_path / "no-such-python")], "display_name": "b", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    notebooks = [str(write_notebook(tmp_path / f"{n}.ipynb", new_code_cell("1"))) for n in "ab"]
    proc = run_cli(["run", *notebooks, "--kernel", "broken"], env, timeout=120)
    assert proc.returncode == 1
    assert proc.stdout.count("  the kernel failed at before the first cell") == 2, proc.stdout
    assert "failed at the kernel" not in proc.stdout
    assert "Exception ignored" not in proc.stderr
