"""Cells in a sandboxed session behave as in an IPython session."""

from __future__ import annotations

import base64

import pytest
from sandbox_helpers import result_text, run

from remote_kernel.server.runtimes.base import NO_STDIN

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_state_survives_across_cells(shared_sandbox):
    first = await run(shared_sandbox, "counter = 40\ndef bump(n):\n    return counter + n")
    assert first.error is None and first.outputs == []
    second = await run(shared_sandbox, "bump(2)")
    assert result_text(second) == "42"


async def test_stdout_and_stderr_in_order(shared_sandbox):
    code = "import sys\nprint('one')\nprint('two', file=sys.stderr)\nprint('three')"
    outcome = await run(shared_sandbox, code)
    assert [(o["name"], o["text"]) for o in outcome.outputs] == [
        ("stdout", "one\n"),
        ("stderr", "two\n"),
        ("stdout", "three\n"),
    ]
    assert outcome.stdout == "one\nthree\n"
    assert outcome.stderr == "two\n"


async def test_last_expression_is_the_result_and_none_or_semicolon_hides_it(shared_sandbox):
    outcome = await run(shared_sandbox, "x = [1, 2]\nx + [3]")
    (result,) = outcome.outputs
    assert result["output_type"] == "execute_result"
    assert result["data"] == {"text/plain": "[1, 2, 3]"}
    assert isinstance(result["execution_count"], int)
    assert (await run(shared_sandbox, "None")).outputs == []
    assert (await run(shared_sandbox, "len(x);")).outputs == []
    assert result_text(await run(shared_sandbox, "_")) == "[1, 2, 3]"


async def test_display_outputs_and_rich_reprs(shared_sandbox):
    png = base64.b64encode(b"\x89PNG fake").decode()
    code = (
        "class Pic:\n"
        "    def _repr_png_(self):\n"
        "        return b'\\x89PNG fake'\n"
        "    def _repr_html_(self):\n"
        "        return '<b>pic</b>'\n"
        "print('before')\n"
        "display(1, 'two')\n"
        "display(Pic())\n"
        "print('after')\n"
        "Pic()"
    )
    outcome = await run(shared_sandbox, code)
    kinds = [o["output_type"] for o in outcome.outputs]
    assert kinds == [
        "stream",
        "display_data",
        "display_data",
        "display_data",
        "stream",
        "execute_result",
    ]
    assert outcome.outputs[1]["data"] == {"text/plain": "1"}
    assert outcome.outputs[2]["data"] == {"text/plain": "'two'"}
    rich = outcome.outputs[3]["data"]
    assert rich["image/png"] == png and rich["text/html"] == "<b>pic</b>"
    assert outcome.outputs[-1]["data"]["image/png"] == png


async def test_ipython_display_module_stand_in(shared_sandbox):
    code = "from IPython.display import HTML, Markdown, display\ndisplay(HTML('<i>x</i>'), Markdown('*y*'))"
    outcome = await run(shared_sandbox, code)
    assert [
        o["data"].get("text/html") or o["data"].get("text/markdown") for o in outcome.outputs
    ] == [
        "<i>x</i>",
        "*y*",
    ]


async def test_error_has_traceback_and_session_keeps_working(shared_sandbox):
    code = "def inner():\n    return 1 / 0\n\ninner()"
    outcome = await run(shared_sandbox, code)
    assert outcome.error is not None
    assert outcome.error["ename"] == "ZeroDivisionError"
    assert outcome.error["evalue"] == "division by zero"
    text = "\n".join(outcome.error["traceback"])
    assert "return 1 / 0" in text and "in inner" in text
    assert outcome.outputs[-1]["output_type"] == "error"
    assert result_text(await run(shared_sandbox, "'alive'")) == "'alive'"


async def test_output_before_an_error_is_kept(shared_sandbox):
    outcome = await run(shared_sandbox, "print('partial')\nraise ValueError('bad value')")
    assert outcome.stdout == "partial\n"
    assert outcome.error["ename"] == "ValueError" and outcome.error["evalue"] == "bad value"


async def test_syntax_error(shared_sandbox):
    outcome = await run(shared_sandbox, "def broken(:\n    pass")
    assert outcome.error["ename"] == "SyntaxError"
    assert any("def broken(:" in line for line in outcome.error["traceback"])


async def test_output_is_truncated_at_the_limit(shared_sandbox):
    outcome = await run(shared_sandbox, "for i in range(5000):\n    print(i)", max_chars=100)
    assert outcome.truncated
    full = "".join(f"{i}\n" for i in range(5000))
    assert outcome.stdout == full[:100]  # the field keeps its maximum exactly
    assert outcome.outputs[-1]["text"] == full[:100] + (
        f"\n[output truncated: {len(full) - 100} more characters of stdout were dropped; "
        "the limit is 100 characters per stream]\n"
    )


async def test_raw_fd_writes_are_captured(shared_sandbox):
    outcome = await run(shared_sandbox, "import os\nos.write(1, b'raw bytes\\n')\nprint('printed')")
    assert outcome.stdout == "raw bytes\nprinted\n"


async def test_top_level_await(shared_sandbox):
    outcome = await run(shared_sandbox, "import asyncio\nawait asyncio.sleep(0.01)\n'awaited'")
    assert result_text(outcome) == "'awaited'"


async def test_standard_library_is_there(shared_sandbox):
    code = (
        "import json, sqlite3, hashlib, decimal, csv, zlib\n"
        "con = sqlite3.connect(':memory:')\n"
        "con.execute('select 1').fetchone()[0] + len(hashlib.sha256(b'x').hexdigest())"
    )
    assert result_text(await run(shared_sandbox, code)) == "65"


async def test_pyodide_packages_give_a_clear_offline_error(shared_sandbox):
    outcome = await run(shared_sandbox, "import numpy")
    assert outcome.error["ename"] == "ModuleNotFoundError"
    assert "not available offline in the sandbox" in outcome.error["evalue"]
    still = await run(shared_sandbox, "try:\n    import numpy\nexcept ImportError:\n    ok = 1\nok")
    assert result_text(still) == "1"


async def test_input_without_a_streaming_caller_fails_clearly(shared_sandbox):
    outcome = await run(shared_sandbox, "input('name? ')")
    assert outcome.error["ename"] == "StdinNotImplementedError"
    assert outcome.error["evalue"] == NO_STDIN
    outcome = await run(shared_sandbox, "import getpass\ngetpass.getpass()")
    assert outcome.error["evalue"] == NO_STDIN
