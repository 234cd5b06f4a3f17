"""Starting and stopping pools: no orphan processes, no leftover directories, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
from pool_api import GEN2, Api

from remote_kernel.server import start_local_pool


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if not _gone(pid)]
        if not alive:
            return []
        time.sleep(0.05)
    return alive


def test_stop_leaves_no_process_and_no_directory(tmp_path: Path) -> None:
    pool = start_local_pool(token="lifecycle-token", root=tmp_path, prewarm=1)
    api = Api(pool, token="lifecycle-token")
    try:
        pids = [api.value(f"life-{i}", "import os\nos.getpid()") for i in range(2)]
        child = api.value("life-0", "import subprocess\nsubprocess.Popen(['sleep', '60']).pid")
        running = api.request(
            "POST",
            "/executions",
            "life-1",
            json={"code": "import time; time.sleep(60)", "executionType": "Asynchronous"},
        )
        assert running.status_code == 202
        deadline = time.monotonic() + 30
        while len(pool.kernel_pids()) < 3:  # the prewarmed spare is back too
            assert time.monotonic() < deadline
            time.sleep(0.05)
        all_pids = sorted(set(pool.kernel_pids()) | set(pids) | {child})
        assert set(pids) <= set(pool.kernel_pids())
        root = pool.pool.root
        assert root.parent == tmp_path and root.is_dir()
    finally:
        api.close()
        started = time.monotonic()
        pool.stop()
    assert time.monotonic() - started < 15
    assert _wait_gone(all_pids) == []
    assert not root.exists() and tmp_path.is_dir()
    assert not pool.running
    pool.stop()  # idempotent


def test_stopped_pool_refuses_connections() -> None:
    with start_local_pool(prewarm=0) as pool:
        url = pool.url
        assert httpx.get(f"{url}/openapi.json").status_code == 200
    try:
        httpx.get(f"{url}/openapi.json", timeout=2)
    except httpx.ConnectError:
        pass
    else:
        raise AssertionError("the stopped pool still answers")


def test_cli_serve_prints_the_endpoint_and_stops_on_sigint(tmp_path: Path) -> None:
    env = {**os.environ, "ACA_POOL_TOKEN": "cli-token"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "remote_kernel.cli", "serve", "--port", "0", "--prewarm", "0",
         "--root", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("Pool endpoint: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1].strip()
        query = {"api-version": GEN2, "identifier": "cli-session"}
        denied = httpx.post(f"{url}/executions", params=query, json={"code": "1"})
        assert denied.status_code == 401
        ok = httpx.post(
            f"{url}/executions",
            params=query,
            json={"code": "import os\nos.getpid()"},
            headers={"Authorization": "Bearer cli-token"},
            timeout=60,
        )
        kernel_pid = ok.json()["result"]["executionResult"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "cli-token" not in proc.stderr.read()
    assert _wait_gone([kernel_pid]) == []
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_remote_bind_without_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ACA_POOL_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "remote_kernel.cli", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == 1
    assert "without a token" in done.stderr and "Traceback" not in done.stderr


HOST_SCRIPT = """
import httpx, sys
from remote_kernel.server import start_local_pool
pool = start_local_pool(prewarm=1)
query = {"api-version": "2024-10-02-preview", "identifier": "crash-test"}
body = httpx.post(pool.url + "/executions", params=query, json={"code": "import os; os.getpid()"},
                  timeout=60).json()
print(body["result"]["executionResult"], *pool.kernel_pids(), flush=True)
sys.stdin.read()
"""


def test_kernels_exit_when_the_host_process_is_killed() -> None:
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pids = [int(p) for p in host.stdout.readline().split()]
        assert len(set(pids)) >= 1 and all(not _gone(p) for p in pids)
        host.kill()  # no atexit, no stop(): the kernels must notice on their own
        host.wait(10)
    finally:
        if host.poll() is None:
            host.kill()
    assert _wait_gone(pids, timeout=15) == []
