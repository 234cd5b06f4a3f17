"""``remote-kernel install`` / ``uninstall`` and a kernel launched from what they wrote."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from remote_kernel.cli import main

from .conftest import execute, kernel_manager, kernels_dir, pool_env, running_kernel


def spec_of(prefix: Path, name: str = "remote-python") -> dict[str, Any]:
    return json.loads((kernels_dir(prefix) / name / "kernel.json").read_text())


def test_install_writes_a_complete_kernelspec(tmp_path: Path, capsys: Any) -> None:
    assert main(["install", "--prefix", str(tmp_path)]) == 0
    spec = spec_of(tmp_path)
    assert spec["argv"] == [
        sys.executable,
        "-Xfrozen_modules=off",
        "-m",
        "remote_kernel",
        "-f",
        "{connection_file}",
    ]
    assert spec["display_name"] == "Python (remote session)"
    assert spec["language"] == "python"
    assert spec["interrupt_mode"] == "signal"
    assert spec["metadata"] == {"debugger": False}
    assert spec["env"] == {}
    for logo in ("logo-32x32.png", "logo-64x64.png"):
        assert (kernels_dir(tmp_path) / "remote-python" / logo).read_bytes()[:4] == b"\x89PNG"
    assert "remote-python" in capsys.readouterr().out


def test_install_options_go_into_the_spec(tmp_path: Path) -> None:
    argv = [
        "install", "--prefix", str(tmp_path), "--name", "My-Remote",
        "--display-name", "Remote (team pool)",
        "--endpoint", "https://eastus.dynamicsessions.io/subscriptions/s/sessionPools/p/",
        "--session", "team-session-1", "--env", "A=1", "--env", "B=x=y",
        "--interrupt-mode", "message",
    ]  # fmt: skip
    assert main(argv) == 0
    spec = spec_of(tmp_path, "my-remote")  # Jupyter lower-cases kernel names
    assert spec["display_name"] == "Remote (team pool)"
    assert spec["interrupt_mode"] == "message"
    assert spec["env"] == {
        "A": "1",
        "B": "x=y",
        "ACA_POOL_ENDPOINT": "https://eastus.dynamicsessions.io/subscriptions/s/sessionPools/p",
        "ACA_SESSION_ID": "team-session-1",
    }


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--env", "NOVALUE"], "Invalid --env 'NOVALUE'"),
        (["--env", "1X=2"], "Invalid --env '1X'"),
        (["--session", "bad_id"], "Invalid session identifier 'bad_id'"),
        (["--endpoint", "ftp://host/x"], "Invalid endpoint"),
        (["--name", "no spaces"], "Invalid kernel name"),
    ],
)
def test_bad_install_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: Any, argv: list[str], message: str
) -> None:
    assert main(["install", "--prefix", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not kernels_dir(tmp_path).exists()


def test_uninstall_removes_only_our_kernelspec(tmp_path: Path, capsys: Any) -> None:
    assert main(["install", "--prefix", str(tmp_path)]) == 0
    assert main(["uninstall", "--prefix", str(tmp_path)]) == 0
    assert not (kernels_dir(tmp_path) / "remote-python").exists()
    assert main(["uninstall", "--prefix", str(tmp_path)]) == 2
    assert "No kernelspec named 'remote-python'" in capsys.readouterr().err
    foreign = kernels_dir(tmp_path) / "other"
    foreign.mkdir(parents=True)
    (foreign / "kernel.json").write_text(json.dumps({"argv": ["python", "-m", "ipykernel"]}))
    assert main(["uninstall", "--prefix", str(tmp_path), "--name", "other"]) == 2
    assert "does not launch remote_kernel" in capsys.readouterr().err
    assert foreign.exists()


def test_jupyter_finds_the_installed_kernelspec(tmp_path: Path) -> None:
    """What `jupyter kernelspec list` (and so JupyterLab / VS Code) sees on JUPYTER_PATH."""
    env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "share" / "jupyter")}
    subprocess.run(
        [sys.executable, "-m", "remote_kernel", "install", "--prefix", str(tmp_path)],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
        check=True, env=env, capture_output=True, text=True,
    )  # fmt: skip
    specs = json.loads(listed.stdout)["kernelspecs"]
    assert specs["remote-python"]["spec"]["display_name"] == "Python (remote session)"
    ksm = KernelSpecManager(kernel_dirs=[str(kernels_dir(tmp_path))])
    assert ksm.get_kernel_spec("remote-python").language == "python"


def test_kernel_launched_from_the_installed_spec_runs_cells(
    tmp_path: Path, local_pool: Any
) -> None:
    argv = [
        "install", "--prefix", str(tmp_path), "--endpoint", local_pool.url,
        "--env", f"ACA_POOL_TOKEN={local_pool.token}",
    ]  # fmt: skip
    assert main(argv) == 0
    with running_kernel(tmp_path, pool_env(None)) as (_, kc):
        reply, outputs = execute(kc, "import sys\nprint('remote', sys.version_info[0])")
        assert reply["content"]["status"] == "ok"
        assert outputs[0]["content"]["text"] == "remote 3\n"


def test_install_warns_when_jupyter_will_not_search_the_prefix(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``jupyter kernelspec install --prefix`` does; quiet once JUPYTER_PATH has it."""
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    assert main(["install", "--prefix", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    data_dir = tmp_path.resolve() / "share" / "jupyter"
    assert "is not on Jupyter's kernel search path" in err
    assert f"JUPYTER_PATH={data_dir} " in err
    monkeypatch.setenv("JUPYTER_PATH", str(data_dir))
    assert main(["install", "--prefix", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""


def test_kernel_start_prints_no_frozen_modules_warning(tmp_path: Path, local_pool: Any) -> None:
    """debugpy warns on Python 3.11+ unless frozen modules are off (ipykernel's own kernelspec
    passes ``-Xfrozen_modules=off``; so does ours). ipykernel imports it while answering the
    first kernel_info, when stderr already goes to IOPub: look there and on the process's."""
    assert main(["install", "--prefix", str(tmp_path)]) == 0
    km = kernel_manager(tmp_path)
    stderr_path = tmp_path / "kernel-stderr.txt"
    with stderr_path.open("w") as stderr:
        km.start_kernel(env=pool_env(local_pool), stderr=stderr)
        kc = km.client()
        kc.start_channels()
        try:
            # A new IOPub subscription can miss the first request's messages: ask again,
            # as jupyter_client's wait_for_ready does, keeping every stderr text seen.
            text = ""
            for _ in range(6):
                try:
                    text += _stderr_until_idle(kc, kc.kernel_info(), wait=10)
                    break
                except queue.Empty:
                    continue
        finally:
            kc.stop_channels()
            km.shutdown_kernel()
    assert "frozen modules" not in text + stderr_path.read_text()


def _stderr_until_idle(kc: Any, msg_id: str, wait: float = 60) -> str:
    """The stderr stream text on IOPub until request ``msg_id`` is done."""
    text = ""
    while True:
        msg = kc.get_iopub_msg(timeout=wait)
        content = msg["content"]
        if msg["msg_type"] == "stream" and content["name"] == "stderr":
            text += content["text"]
        idle = msg["msg_type"] == "status" and content["execution_state"] == "idle"
        if idle and msg["parent_header"].get("msg_id") == msg_id:
            return text
