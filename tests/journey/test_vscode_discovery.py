"""VS Code (and every other Jupyter front-end) finds kernels through the kernelspec
directories. Check the spec ``remote-kernel install --prefix`` writes has what they
read, and that jupyter_client starts a working kernel from exactly that spec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from .conftest import clean_env, jupyter_dirs


@pytest.fixture
def discovery_env(spec_prefix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """This process and its children look for kernelspecs where the prefix put one."""
    env = jupyter_dirs(tmp_path, spec_prefix)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_installed_spec_has_what_front_ends_read(spec_prefix: Path) -> None:
    spec_dir = spec_prefix / "share" / "jupyter" / "kernels" / "remote-python"
    spec = json.loads((spec_dir / "kernel.json").read_text(encoding="utf-8"))
    argv = spec["argv"]
    python = Path(argv[0])
    assert python.is_absolute() and python.is_file() and os.access(python, os.X_OK)
    # -Xfrozen_modules=off as ipykernel's own spec: no debugpy warning at start.
    assert argv[1:] == ["-Xfrozen_modules=off", "-m", "remote_kernel", "-f", "{connection_file}"]
    assert spec["language"] == "python"
    assert spec["display_name"] == "Python (remote session)"
    assert spec["interrupt_mode"] in ("signal", "message")
    assert isinstance(spec["metadata"], dict)
    assert isinstance(spec.get("env", {}), dict)
    assert (spec_dir / "logo-64x64.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The recorded interpreter is one that has remote_kernel.
    check = subprocess.run(
        [str(python), "-c", "import remote_kernel.kernel.kernel"], capture_output=True, timeout=60
    )
    assert check.returncode == 0, check.stderr


def test_jupyter_lists_it(discovery_env: dict, spec_prefix: Path) -> None:
    """``jupyter kernelspec list --json``: what VS Code's Jupyter extension asks Jupyter."""
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **discovery_env},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)["kernelspecs"]["remote-python"]
    assert Path(found["resource_dir"]) == spec_prefix / "share" / "jupyter" / "kernels" / (
        "remote-python"
    )
    assert found["spec"]["display_name"] == "Python (remote session)"


def test_jupyter_client_starts_the_kernel_from_that_spec(
    discovery_env: dict, spec_prefix: Path, local_pool: Any
) -> None:
    ksm = KernelSpecManager()
    spec = ksm.get_kernel_spec("remote-python")
    on_disk = json.loads((Path(spec.resource_dir) / "kernel.json").read_text(encoding="utf-8"))
    assert spec.argv == on_disk["argv"]
    assert str(spec_prefix) in spec.resource_dir

    km = KernelManager(kernel_name="remote-python", kernel_spec_manager=ksm)
    km.start_kernel(env=clean_env(local_pool, **discovery_env))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        info = kc.kernel_info(reply=True, timeout=30)["content"]
        assert info["implementation"] == "remote_kernel"
        assert info["language_info"]["name"] == "python"
        reply = kc.execute_interactive(
            f"import os\nprint('cwd is the session area:', os.getcwd() != {os.getcwd()!r})\n6 * 7",
            timeout=60,
            output_hook=(outputs := []).append,
        )
        assert reply["content"]["status"] == "ok"
        texts = [m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream"]
        assert "cwd is the session area: True\n" in texts
        results = [m for m in outputs if m["msg_type"] == "execute_result"]
        assert results[0]["content"]["data"]["text/plain"] == "42"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    assert not km.is_alive()
