"""Where the sandbox's parts come from, and the exact permissions a session gets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from remote_kernel.server.runtimes.pyodide import deno_command
from remote_kernel.server.sandbox import (
    PYODIDE_VERSION,
    SandboxUnavailableError,
    find_deno,
    prepare,
)
from remote_kernel.server.sandbox.environment import HERE, WORKER_SCRIPT


def test_deno_binary_comes_from_the_wheel():
    deno = find_deno()
    out = subprocess.run([deno, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("deno ")


def test_pyodide_is_pinned_once():
    assert PYODIDE_VERSION.count(".") == 2
    assert WORKER_SCRIPT.read_text().count(f"npm:pyodide@{PYODIDE_VERSION}") == 1


def test_session_permissions_are_exactly_listed(tmp_path):
    pyodide = tmp_path / "cache" / "pyodide"
    workdir = tmp_path / "session"
    snapshot = tmp_path / "cache" / "snapshots" / "pyodide.bin"
    command = deno_command("/bin/deno", pyodide, workdir, 512, snapshot)
    flags = [part for part in command if part.startswith("--")]
    assert f"--allow-read={pyodide},{workdir},{HERE},{snapshot}" in flags
    assert f"--allow-write={workdir}" in flags
    assert "--no-prompt" in flags and "--cached-only" in flags
    assert "--v8-flags=--wasm-max-mem-pages=8192,--max-old-space-size=512" in flags
    granted = {flag.split("=")[0] for flag in flags if flag.startswith("--allow")}
    assert granted == {"--allow-read", "--allow-write"}
    assert not any(flag in ("-A", "--allow-all") for flag in command)


def test_paths_with_commas_are_refused(tmp_path):
    from remote_kernel.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="may not contain ','"):
        deno_command("/bin/deno", tmp_path, tmp_path / "a,b", 512)


def test_prepare_is_fast_once_cached(sandbox_prepared):
    again = prepare()
    assert not again.fetched and again.seconds < 1.0
    assert again.pyodide_dir == sandbox_prepared.pyodide_dir
    assert (again.pyodide_dir / "pyodide.asm.wasm").is_file()


def test_prepare_failure_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REMOTE_KERNEL_DENO_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", "http://127.0.0.1:9/")
    with pytest.raises(SandboxUnavailableError) as caught:
        prepare(timeout=60)
    message = str(caught.value)
    assert f"Could not fetch pyodide@{PYODIDE_VERSION}" in message
    assert "--prepare" in message


def test_prepare_command_line(sandbox_prepared):
    out = subprocess.run(
        [sys.executable, "-m", "remote_kernel.server.sandbox", "--prepare"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert f"pyodide@{PYODIDE_VERSION} already cached" in out.stdout
    assert str(Path(sandbox_prepared.pyodide_dir)) in out.stdout


def test_command_line_without_an_action_is_a_usage_error():
    out = subprocess.run(
        [sys.executable, "-m", "remote_kernel.server.sandbox"], capture_output=True, text=True
    )
    assert out.returncode == 2 and "nothing to do" in out.stderr
