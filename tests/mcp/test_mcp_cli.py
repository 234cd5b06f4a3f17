"""``remote-kernel serve --mcp`` and ``remote-kernel doctor``'s MCP check, as a user runs them."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from mcp_helpers import McpPool

from remote_kernel.cli import doctor_mcp

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize"}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACA_")}
    return {**env, **extra}


@contextlib.contextmanager
def serve(
    env: dict[str, str], *args: str, banner: int = 3
) -> Iterator[tuple[list[str], list[str]]]:
    """Run ``serve ARGS``; yields (its first ``banner`` stdout lines, stderr once stopped)."""
    command = [sys.executable, "-m", "remote_kernel.cli", "serve", "--prewarm", "0", *args]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    lines: list[str] = []
    errors: list[str] = []
    try:
        lines += [proc.stdout.readline().rstrip("\n") for _ in range(banner)]
        yield lines, errors
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        lines += out.splitlines()
        errors += err.splitlines()
    assert proc.returncode == 0, err


def test_serve_mcp_prints_a_generated_key_once_and_doctor_checks_it() -> None:
    env = clean_env(ACA_POOL_TOKEN=secrets.token_urlsafe(16))
    with serve(env, "--mcp") as (lines, errors):
        pool_url = lines[0].removeprefix("Pool endpoint: ")
        assert lines[1] == f"MCP endpoint: {pool_url}/mcp"
        key = lines[2].removeprefix("MCP API key: ")
        assert len(key) >= 32
        answer = httpx.post(f"{pool_url}/mcp", json=INIT, headers={"x-ms-apikey": key})
        assert answer.json()["result"]["protocolVersion"] == "2025-03-26"

        doctor_env = {
            **env,
            "ACA_POOL_ENDPOINT": pool_url,
            "ACA_MCP_ENDPOINT": f"{pool_url}/mcp",
            "ACA_MCP_API_KEY": key,
        }
        doctor = subprocess.run(
            [sys.executable, "-m", "remote_kernel.cli", "doctor", "--kernel", "no-such-kernel"],
            capture_output=True,
            text=True,
            env=doctor_env,
            timeout=180,
        )
        assert "✓ mcp: the MCP server answers with its 3 tools" in doctor.stdout, doctor.stdout
        assert "api key: set (hidden)  [ACA_MCP_API_KEY]" in doctor.stdout
        assert key not in doctor.stdout + doctor.stderr
    assert sum(line.count(key) for line in lines) == 1
    assert not any(key in line for line in errors)


def test_serve_with_a_given_key_never_echoes_it() -> None:
    key = "given-" + secrets.token_urlsafe(16)
    with serve(clean_env(ACA_MCP_API_KEY=key), "--mcp", "--log-level", "debug") as (lines, errors):
        pool_url = lines[0].removeprefix("Pool endpoint: ")
        assert lines[2] == "MCP API key: the one given (--mcp-api-key or ACA_MCP_API_KEY)"
        ok = httpx.post(f"{pool_url}/mcp", json=INIT, headers={"x-ms-apikey": key})
        assert ok.status_code == 200
    assert not any(key in line for line in lines + errors)


def test_serve_without_mcp_has_no_mcp_endpoint() -> None:
    with serve(clean_env(ACA_MCP_API_KEY="k"), "--port", "0", banner=1) as (lines, _):
        pool_url = lines[0].removeprefix("Pool endpoint: ")
        assert not any(line.startswith("MCP") for line in lines)
        answer = httpx.post(f"{pool_url}/mcp", json=INIT, headers={"x-ms-apikey": "k"})
        assert answer.status_code == 404


# -- the doctor check in-process ----------------------------------------------------------


def test_doctor_check_passes_with_the_right_key(
    mcp_pool: McpPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACA_MCP_ENDPOINT", mcp_pool.url)
    monkeypatch.setenv("ACA_MCP_API_KEY", mcp_pool.key)
    ok, summary, details, _ = doctor_mcp.check()
    assert ok, summary
    assert "protocol 2025-03-26" in details[-1]


@pytest.mark.parametrize("key", ["wrong-key", ""])
def test_doctor_check_fails_with_a_fix_for_a_wrong_or_missing_key(
    mcp_pool: McpPool, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("ACA_MCP_ENDPOINT", mcp_pool.url)
    monkeypatch.setenv("ACA_MCP_API_KEY", key)
    ok, summary, details, fix = doctor_mcp.check()
    assert not ok
    assert summary in ("the API key was refused (HTTP 401)", "no API key to send")
    assert "fetchMCPServerCredentials" in fix
    assert "wrong-key" not in " ".join([summary, fix, *details])


def test_doctor_check_names_an_endpoint_that_is_not_an_mcp_server(
    mcp_pool: McpPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACA_MCP_ENDPOINT", f"{mcp_pool.pool.url}/openapi.json")
    monkeypatch.setenv("ACA_MCP_API_KEY", "k")
    ok, summary, _, fix = doctor_mcp.check()
    assert not ok and "initialize failed" in summary
    assert "mcpServerEndpoint" in fix


def test_doctor_shows_the_endpoint_without_credentials() -> None:
    assert doctor_mcp.shown("https://u:p@pool.example:8443/mcp?code=s") == (
        "https://pool.example:8443/mcp"
    )
