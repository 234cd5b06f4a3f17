"""``%aca_*`` command cells run in the kernel itself (shared with the magics)."""

from __future__ import annotations

from pathlib import Path

from jupyter_client import BlockingKernelClient

from .conftest import execute, kinds, stream_text


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


def test_a_cell_mixing_python_and_commands_runs_remotely(kernel: BlockingKernelClient) -> None:
    reply, outputs = execute(kernel, "print('python')\n%aca_files")
    # Python and commands mixed: the whole cell is remote code, and the remote IPython
    # has no %aca_files magic.
    assert stream_text(outputs) == "python\n"
    assert "%aca_files` not found" in all_text(outputs)
