"""``%aca_*`` command cells run in the kernel itself (shared with the magics)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jupyter_client import BlockingKernelClient
from pool_env import pool_env

from remote_kernel.in_session import ALREADY_REMOTE
from remote_kernel.session import LOCAL_POOL_NOTICE

from .conftest import execute, kinds, running_kernel, stream_text


def all_text(outputs: list[dict]) -> str:
    parts = []
    for m in outputs:
        content = m["content"]
        parts.append(content.get("text", ""))
        parts.append(str(content.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def test_upload_then_list_then_use_the_file_remotely(
    kernel: BlockingKernelClient, tmp_path: Path
) -> None:
    local = tmp_path / "kernel-upload.txt"
    local.write_text("uploaded through the kernel")
    reply, outputs = execute(kernel, f"# send it\n%aca_upload {local}\n%aca_files")
    assert reply["content"]["status"] == "ok"
    assert "kernel-upload.txt" in all_text(outputs)
    reply, outputs = execute(kernel, "print(open('kernel-upload.txt').read())")
    assert stream_text(outputs) == "uploaded through the kernel\n"


def test_session_command_names_the_kernels_session(kernel: BlockingKernelClient) -> None:
    execute(kernel, "x = 1")
    reply, outputs = execute(kernel, "%aca_session")
    assert reply["content"]["status"] == "ok"
    assert "Session: " in all_text(outputs)


def test_unknown_command_is_one_error_and_nothing_runs(
    kernel: BlockingKernelClient, tmp_path: Path
) -> None:
    local = tmp_path / "never-sent.txt"
    local.write_text("x")
    reply, outputs = execute(kernel, f"%aca_upload {local}\n%aca_nope")
    assert kinds(outputs) == ["error"]
    assert "Unknown command %aca_nope" in outputs[0]["content"]["evalue"]
    assert reply["content"]["status"] == "error"
    _, outputs = execute(kernel, "%aca_files")
    assert "never-sent.txt" not in all_text(outputs)


def test_bad_command_input_is_one_error(kernel: BlockingKernelClient) -> None:
    reply, outputs = execute(kernel, "%aca_session use bad_id")
    assert kinds(outputs) == ["error"]
    assert "Invalid session identifier" in outputs[0]["content"]["evalue"]
    assert len(outputs[0]["content"]["traceback"]) == 1


def test_commands_mixed_with_code_run_first_here_in_order(
    kernel: BlockingKernelClient, tmp_path: Path
) -> None:
    local = tmp_path / "mixed.txt"
    local.write_text("sent before the code")
    code = f"print('python')\n%aca_upload {local}\nprint(open('mixed.txt').read())\n1 / 0"
    reply, outputs = execute(kernel, code)
    text = all_text(outputs)
    # The upload ran before any of the code, and the error keeps the cell's line numbers.
    assert text.index("mixed.txt -> /mnt/data/mixed.txt") < text.index("python\nsent before the")
    assert (
        reply["content"]["status"] == "error" and reply["content"]["ename"] == "ZeroDivisionError"
    )
    traceback = re.sub(r"\x1b\[[0-9;]*m", "", "".join(reply["content"]["traceback"]))
    assert "line 4" in traceback and "----> 4 1 / 0" in traceback


def test_aca_cell_magic_runs_the_body_with_its_timeout(kernel: BlockingKernelClient) -> None:
    reply, outputs = execute(kernel, "%%aca\nprint('body ran')")
    assert reply["content"]["status"] == "ok" and stream_text(outputs) == "body ran\n"
    reply, outputs = execute(kernel, "%%aca -t 1 -o value\nimport time\ntime.sleep(30)")
    assert reply["content"]["status"] == "error"
    assert "-o ignored" in stream_text(outputs, "stderr")
    reply, outputs = execute(kernel, "%%aca --nope\n1")
    assert kinds(outputs) == ["error"] and reply["content"]["ename"] == "UsageError"


def test_missing_local_file_is_a_usage_error_as_in_ipython(kernel: BlockingKernelClient) -> None:
    reply, outputs = execute(kernel, "%aca_upload no-such-local-file.csv")
    assert kinds(outputs) == ["error"]
    assert reply["content"]["ename"] == "UsageError"
    assert "no such local file 'no-such-local-file.csv'" in reply["content"]["evalue"]


def test_load_ext_in_the_remote_kernel_says_it_is_remote_already(
    kernel: BlockingKernelClient,
) -> None:
    code = "%load_ext remote_kernel\nprint('aca' in get_ipython().magics_manager.magics['cell'])"
    reply, outputs = execute(kernel, code)
    assert reply["content"]["status"] == "ok"
    assert stream_text(outputs) == ALREADY_REMOTE + "False\n"


def test_missing_file_that_is_local_gets_the_upload_hint(
    kernel_prefix: Path, local_pool: Any, tmp_path: Path
) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "script.py").write_text("print('ran')\n")
    with running_kernel(kernel_prefix, pool_env(local_pool), cwd=tmp_path) as (_, kc):
        for code, name in [
            ("open('data.csv')", "data.csv"),
            ("%run script.py", "script.py"),
        ]:
            reply, _ = execute(kc, code)
            assert reply["content"]["status"] == "error"
            hint = f"{name} is on this machine, not in the session: %aca_upload {name}"
            assert reply["content"]["traceback"][-1] == hint
        reply, _ = execute(kc, "open('absent.csv')")
        assert "%aca_upload" not in json.dumps(reply["content"])


def test_config_change_keeps_the_embedded_pool_and_its_note_shows_once(
    kernel_prefix: Path,
) -> None:
    with running_kernel(kernel_prefix, pool_env()) as (_, kc):
        shown = []
        for code in ("print(1)", "%aca_config execution_timeout=3", "print(2)"):
            reply, outputs = execute(kc, code)
            assert reply["content"]["status"] == "ok"
            shown.append(stream_text(outputs, "stderr"))
        assert "".join(shown).count(LOCAL_POOL_NOTICE) == 1, shown


def test_input_without_stdin_is_refused_as_the_readme_says(kernel: BlockingKernelClient) -> None:
    """With stdin it works (tests/kernel/test_live_output.py); without, a clear error."""
    reply, _ = execute(kernel, "input('name? ')", allow_stdin=False)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "StdinNotImplementedError"
    assert "need a front-end that streams" in reply["content"]["evalue"]
