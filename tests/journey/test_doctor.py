"""``remote-kernel doctor`` against the real local pool, a refused port, a fake Azure
CLI behind the real DefaultAzureCredential, and broken configurations."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from .conftest import clean_env, jupyter_dirs, run_cli


def refused_url() -> str:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def marks(stdout: str) -> dict[str, str]:
    """check name -> mark, from the report's top-level lines."""
    found = {}
    for line in stdout.splitlines():
        if line[:2] in ("✓ ", "✗ "):
            found[line[2:].split(":", 1)[0]] = line[0]
    return found


ALL = ["configuration", "endpoint", "token", "execution", "kernelspec"]


def test_all_pass_against_the_local_pool(local_pool: Any, spec_prefix: Path, tmp_path: Path):
    env = clean_env(local_pool, **jupyter_dirs(tmp_path, spec_prefix))
    proc = run_cli(["doctor"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert marks(proc.stdout) == dict.fromkeys(ALL, "✓")
    assert f"endpoint: {local_pool.url}  [ACA_POOL_ENDPOINT from the environment]" in proc.stdout
    assert "token: set (hidden)  [ACA_POOL_TOKEN from the environment]" in proc.stdout
    assert "`-7 % 3` returned 2, as Python does" in proc.stdout
    assert f"'remote-python' at {spec_prefix}" in proc.stdout
    assert proc.stdout.rstrip().endswith("All 5 checks passed.")
    assert local_pool.token not in proc.stdout + proc.stderr


def test_all_pass_on_the_embedded_pool(spec_prefix: Path, tmp_path: Path) -> None:
    proc = run_cli(["doctor"], clean_env(**jupyter_dirs(tmp_path, spec_prefix)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "endpoint: (embedded local pool)  [default]" in proc.stdout
    assert "✓ endpoint: the embedded local pool started at http://127.0.0.1:" in proc.stdout


def test_refused_endpoint_fails_with_the_fix(spec_prefix: Path, tmp_path: Path) -> None:
    url = refused_url()
    env = clean_env(**jupyter_dirs(tmp_path, spec_prefix))
    proc = run_cli(["doctor", "--endpoint", url], env)
    assert proc.returncode == 1
    assert marks(proc.stdout) == {
        "configuration": "✓",
        "endpoint": "✗",
        "token": "✓",  # loopback, no token: none needed
        "execution": "✗",
        "kernelspec": "✓",
    }
    assert f"endpoint: {url}  [--endpoint]" in proc.stdout
    assert f"✗ endpoint: {url} is not reachable: connection refused" in proc.stdout
    assert "fix: Nothing listens there: start the local pool (`remote-kernel serve`)" in (
        proc.stdout
    )
    assert "✗ execution: not tried" in proc.stdout
    assert proc.stdout.rstrip().endswith("2 of 5 checks failed.")
    assert proc.stderr == ""


def test_remote_refused_endpoint_points_at_az(spec_prefix: Path, tmp_path: Path) -> None:
    """A non-loopback host that does not resolve: the fix shows how to find the endpoint."""
    env = clean_env(
        ACA_POOL_ENDPOINT="https://no-such-host.invalid/subscriptions/x/sessionPools/p",
        ACA_POOL_TOKEN="static-token-never-shown",
        **jupyter_dirs(tmp_path, spec_prefix),
    )
    proc = run_cli(["doctor"], env)
    assert proc.returncode == 1
    assert "is not reachable: the host name does not resolve" in proc.stdout
    assert "--query properties.poolManagementEndpoint -o tsv" in proc.stdout
    assert "static-token-never-shown" not in proc.stdout + proc.stderr


def fake_az(bin_dir: Path, token: str) -> None:
    """An ``az`` that answers ``az account get-access-token`` like the real CLI."""
    bin_dir.mkdir()
    script = bin_dir / "az"
    body = json.dumps(
        {
            "accessToken": token,
            "expiresOn": "2099-01-01 00:00:00.000000",
            "expires_on": 4070908800,
            "subscription": "00000000-0000-0000-0000-000000000000",
            "tenant": "00000000-0000-0000-0000-000000000000",
            "tokenType": "Bearer",
        }
    )
    script.write_text(f"#!/bin/sh\ncat <<'JSON'\n{body}\nJSON\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def azure_env(pool: Any, tmp_path: Path, prefix: Path, path: str) -> dict[str, str]:
    env = clean_env(**jupyter_dirs(tmp_path, prefix))
    for name in [k for k in env if k.startswith(("AZURE_", "IDENTITY_", "MSI_"))]:
        del env[name]
    env.update(ACA_POOL_ENDPOINT=pool.url, ACA_AUTH="azure", PATH=path)
    return env


def test_azure_auth_token_from_default_azure_credential(
    local_pool: Any, spec_prefix: Path, tmp_path: Path
) -> None:
    """The real DefaultAzureCredential chain, reaching its Azure CLI step (a fake ``az``
    that hands out the pool's token): the token is used and never printed."""
    fake_az(tmp_path / "bin", local_pool.token)
    path = f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"
    proc = run_cli(["doctor"], azure_env(local_pool, tmp_path, spec_prefix, path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "auth: azure  [ACA_AUTH from the environment]" in proc.stdout
    assert "✓ token: DefaultAzureCredential gave a token for https://dynamicsessions.io" in (
        proc.stdout
    )
    assert "not shown" in proc.stdout
    assert local_pool.token not in proc.stdout + proc.stderr


def test_azure_auth_without_login_fails_with_the_fix(
    local_pool: Any, spec_prefix: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    # No `az` (or anything else) on PATH: the Azure CLI step of the chain is unavailable.
    proc = run_cli(["doctor"], azure_env(local_pool, tmp_path, spec_prefix, str(empty)))
    assert proc.returncode == 1
    assert marks(proc.stdout)["token"] == "✗"
    assert "AzureCliCredential:" in proc.stdout
    assert "fix: Run `az login`" in proc.stdout
    assert "✗ execution: not tried" in proc.stdout
    assert proc.stderr == ""  # azure-identity's own warning is not repeated


@pytest.mark.parametrize(
    ("env_extra", "problem", "fix"),
    [
        ({"ACA_API_VERSION": "2023-01-01"}, "unknown api-version '2023-01-01'", "ACA_API_VERSION"),
        ({"ACA_SESSION_ID": "no spaces allowed"}, "Invalid session identifier", "4-128"),
        ({"ACA_AUTH": "token"}, "auth is 'token' but no token is set", "ACA_POOL_TOKEN"),
        ({"ACA_AUTH": "kerberos"}, "unknown auth mode 'kerberos'", "auto, azure, token or none"),
        ({"ACA_POOL_ENDPOINT": "dynamicsessions.io/pool"}, "Invalid endpoint", "az containerapp"),
    ],
)
def test_bad_configuration_is_reported_with_a_fix(
    spec_prefix: Path, tmp_path: Path, env_extra: dict, problem: str, fix: str
) -> None:
    proc = run_cli(["doctor"], clean_env(**jupyter_dirs(tmp_path, spec_prefix), **env_extra))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("✗ configuration: ") and problem in lines[0], lines[0]
    fix_line = next(line for line in lines if line.strip().startswith("fix:"))
    assert fix in fix_line
    assert "✗ endpoint: not tried" in proc.stdout


def test_kernelspec_missing_or_broken(local_pool: Any, tmp_path: Path) -> None:
    env = clean_env(local_pool, **jupyter_dirs(tmp_path / "j1"))
    proc = run_cli(["doctor"], env)
    assert proc.returncode == 1
    assert marks(proc.stdout) == {**dict.fromkeys(ALL, "✓"), "kernelspec": "✗"}
    assert "no kernelspec named 'remote-python' is installed" in proc.stdout
    assert "fix: Run `remote-kernel install`" in proc.stdout

    prefix = tmp_path / "prefix"
    env = clean_env(local_pool, **jupyter_dirs(tmp_path / "j2", prefix))
    assert run_cli(["install", "--prefix", str(prefix)], env).returncode == 0
    spec_file = prefix / "share" / "jupyter" / "kernels" / "remote-python" / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["argv"][0] = "/gone/venv/bin/python"
    spec_file.write_text(json.dumps(spec))
    proc = run_cli(["doctor"], env)
    assert proc.returncode == 1
    assert "its interpreter /gone/venv/bin/python does not exist" in proc.stdout
    assert "fix: Run `remote-kernel install` again" in proc.stdout


def test_kernelspec_endpoint_is_what_the_kernel_uses(local_pool: Any, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    env = clean_env(ACA_POOL_TOKEN=local_pool.token, **jupyter_dirs(tmp_path, prefix))
    proc = run_cli(["install", "--prefix", str(prefix), "--endpoint", local_pool.url], env)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli(["doctor"], env)
    assert proc.returncode == 0, proc.stdout
    assert f"endpoint: {local_pool.url}  [ACA_POOL_ENDPOINT from the kernelspec]" in proc.stdout


def test_ascii_terminal_gets_ascii_marks(local_pool: Any, spec_prefix: Path, tmp_path: Path):
    env = clean_env(local_pool, PYTHONIOENCODING="ascii", **jupyter_dirs(tmp_path, spec_prefix))
    proc = run_cli(["doctor"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("[ok] ") == 5


def test_kernel_config_file_settings_and_their_source(
    local_pool: Any, spec_prefix: Path, tmp_path: Path
) -> None:
    """``c.RemoteKernel.*`` in ipython_kernel_config.py beats the environment, as in the
    kernel; a broken config file is named, not fatal."""
    env = clean_env(**jupyter_dirs(tmp_path, spec_prefix), ACA_POOL_ENDPOINT=refused_url())
    profile = Path(env["IPYTHONDIR"]) / "profile_default"
    profile.mkdir(parents=True)
    config = profile / "ipython_kernel_config.py"
    config.write_text(
        f"c.RemoteKernel.pool_endpoint = {local_pool.url!r}\n"
        f"c.PoolSettings.token = {local_pool.token!r}\n"
    )
    (profile / "ipython_config.py").write_text("c.InteractiveShell.colors = (\n")
    proc = run_cli(["doctor"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"endpoint: {local_pool.url}  [c.RemoteKernel.pool_endpoint in {config}]" in (
        proc.stdout
    )
    assert f"token: set (hidden)  [c.PoolSettings.token in {config}]" in proc.stdout
    assert f"could not read {profile / 'ipython_config.py'}: SyntaxError" in proc.stdout
    assert local_pool.token not in proc.stdout + proc.stderr
