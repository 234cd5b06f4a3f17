"""``/mnt/data`` inside local sessions is that session's file area, for real (Linux).

Against the shared pool (mount namespaces on by default): the paths Azure code
uses, files both ways through the API, isolation between sessions, and the
kernel's lifecycle through the namespace wrapper (PID, interrupt, restart,
prewarmed spares).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from pool_api import GEN1
from pool_api import Api as Pool

from remote_kernel.server import LocalPool, mnt_data


def test_this_machine_supports_mnt_data() -> None:
    # The rest of this module relies on it; a machine without it must say why.
    support = mnt_data.probe()
    assert support.available, support.reason
    assert "/mnt/data" in support.describe()


def test_uploaded_file_opens_at_mnt_data_and_cwd_is_mnt_data(
    pool_api: Pool, sids: list[str]
) -> None:
    sid = sids[0]
    pool_api.upload(sid, "input.csv", b"a,b\n1,2\n")
    result = pool_api.ok(
        sid,
        "import os\n"
        "print(os.getcwd())\n"
        "print(open('/mnt/data/input.csv').read(), end='')\n"
        "os.chdir('/mnt/data')\n"
        "print(sorted(os.listdir('/mnt/data')))\n"
        "print(open('input.csv').read(), end='')",
    )
    assert result["stdout"] == "/mnt/data\na,b\n1,2\n['input.csv']\na,b\n1,2\n"


def test_results_written_to_mnt_data_download_in_both_generations(
    pool_api: Pool, sids: list[str]
) -> None:
    sid = sids[0]
    pool_api.ok(
        sid,
        "import os\n"
        "os.makedirs('/mnt/data/out', exist_ok=True)\n"
        "open('/mnt/data/result.bin', 'wb').write(bytes(range(256)) * 40)\n"
        "open('/mnt/data/out/nested.txt', 'w').write('deep')",
    )
    assert pool_api.download(sid, "result.bin") == bytes(range(256)) * 40
    assert pool_api.download(sid, "result.bin", version=GEN1) == bytes(range(256)) * 40
    assert pool_api.download(sid, "out/nested.txt") == b"deep"
    assert set(pool_api.names(sid)) == {"result.bin", "out"}


def test_two_sessions_never_see_each_others_mnt_data(pool_api: Pool, sids: list[str]) -> None:
    first, second = sids[0], sids[1]
    pool_api.ok(first, "open('/mnt/data/secret-a.txt', 'w').write('only a')")
    pool_api.upload(second, "mine-b.txt", b"only b")
    seen_by_second = pool_api.ok(
        second,
        "import os\n"
        "print(sorted(os.listdir('/mnt/data')), os.path.exists('/mnt/data/secret-a.txt'))",
    )["stdout"]
    assert seen_by_second == "['mine-b.txt'] False\n"
    seen_by_first = pool_api.ok(first, "import os; print(sorted(os.listdir('/mnt/data')))")
    assert seen_by_first["stdout"] == "['secret-a.txt']\n"
    assert pool_api.names(second) == ["mine-b.txt"]


def test_kernel_pid_is_the_tracked_process_and_sys_path_is_a_normal_kernels(
    local_pool: LocalPool, pool_api: Pool, sids: list[str]
) -> None:
    sid = sids[0]
    value = json.loads(
        pool_api.ok(
            sid,
            "import os, sys, json\n"
            "print(json.dumps({'pid': os.getpid(), 'path': sys.path, 'uid': os.getuid(),"
            " 'main': sys.modules['__main__'].__name__}))",
        )["stdout"]
    )
    assert value["pid"] in local_pool.kernel_pids()
    assert value["uid"] == __import__("os").getuid()  # ids are mapped onto themselves
    assert not any(p.endswith("remote_kernel/server") for p in value["path"]), value["path"]
    assert value["main"] == "__main__"


def test_interrupt_reaches_the_kernel_through_the_namespace(
    pool_api: Pool, sids: list[str]
) -> None:
    sid = sids[0]
    pool_api.ok(sid, "kept = 41")
    started = time.monotonic()
    response = pool_api.call(
        "POST",
        "/executions",
        sid,
        json={"code": "import time; time.sleep(60)", "timeoutInSeconds": 1},
    )
    body = response.json()
    assert body["result"]["timedOut"] is True, body
    assert body["result"]["stateLost"] is False  # SIGINT stopped it: no restart needed
    assert time.monotonic() - started < 10
    assert pool_api.ok(sid, "kept + 1")["executionResult"] == 42


def test_restarted_kernel_gets_mnt_data_again(pool_api: Pool, sids: list[str]) -> None:
    sid = sids[0]
    pool_api.upload(sid, "survives.txt", b"files are kept")
    stubborn = (
        "import time\n"
        "while True:\n"
        "    try:\n"
        "        time.sleep(10)\n"
        "    except KeyboardInterrupt:\n"
        "        pass"
    )
    response = pool_api.call(
        "POST", "/executions", sid, json={"code": stubborn, "timeoutInSeconds": 1}
    )
    assert response.json()["result"]["stateLost"] is True  # the kernel was restarted
    after = pool_api.ok(sid, "import os; print(os.getcwd(), open('/mnt/data/survives.txt').read())")
    assert after["stdout"] == "/mnt/data files are kept\n"


def test_prewarmed_kernel_serves_a_new_session_with_its_own_mnt_data(
    local_pool: LocalPool, pool_api: Pool, sids: list[str]
) -> None:
    async def spare_pids() -> list[int]:
        return [pid for runtime, _ in local_pool.pool._warm for pid in runtime.pids]

    deadline = time.monotonic() + 60
    while not (spares := local_pool.call(spare_pids())) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert spares, "the pool kept no prewarmed kernel"
    sid = sids[2]
    pool_api.upload(
        sid, "claimed.txt", b"mine"
    )  # claims the spare: its folder was chosen at prewarm
    result = pool_api.ok(
        sid, "import os; print(os.getpid(), sorted(os.listdir('/mnt/data')), os.getcwd())"
    )
    pid, rest = result["stdout"].split(" ", 1)
    assert int(pid) in spares
    assert rest == "['claimed.txt'] /mnt/data\n"


def _wrapper(*args: str) -> list[str]:
    return [sys.executable, "-I", "-S", str(Path(mnt_data.__file__).with_name("_mnt_ns.py")), *args]


def test_a_folder_under_mnt_works_and_other_mnt_entries_stay_visible() -> None:
    # Inside an outer namespace (the host's /mnt is never touched): /mnt holds a
    # pool folder and another entry; the session's folder lives under /mnt itself.
    inner = shlex.join(_wrapper("/mnt/pool/session", "--", "sh", "-c", "cat /mnt/data/f; ls /mnt"))
    script = (
        "mount -t tmpfs none /mnt && mkdir -p /mnt/pool/session /mnt/other && "
        f"echo inside > /mnt/pool/session/f && exec {inner}"
    )
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["inside", "data", "other", "pool"]


def test_wrapper_failures_are_one_line_and_run_nothing(tmp_path: Path) -> None:
    missing = subprocess.run(
        _wrapper(str(tmp_path / "gone"), "--", "touch", str(tmp_path / "ran")),
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 121
    assert missing.stderr == f"mnt-data: No such file or directory ({tmp_path / 'gone'})\n"
    assert not (tmp_path / "ran").exists()
    unknown = subprocess.run(
        _wrapper(str(tmp_path), "--", "no-such-program-rk"), capture_output=True, text=True
    )
    assert unknown.returncode == 121
    assert unknown.stderr == "mnt-data: cannot run no-such-program-rk: No such file or directory\n"
    usage = subprocess.run(_wrapper(str(tmp_path)), capture_output=True, text=True)
    assert usage.returncode == 121 and usage.stderr.startswith("mnt-data: usage:")
