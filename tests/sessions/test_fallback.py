"""Without a mount namespace, sessions fall back to their file area as working directory.

Forced three ways: the setting (``mnt_data=False``), the environment variable,
and for real: a process tree where user namespaces are disabled (inside a user
namespace whose ``max_user_namespaces`` is 0, which leaves the host untouched).
The pool then warns once (logged; ``remote-kernel serve`` prints it instead).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pool_api import Api as Pool

from remote_kernel.server import LocalPool, mnt_data, start_local_pool

from .helpers import new_sid, serve

#: Runs a command where creating a user namespace fails (ENOSPC), as on hosts that disable them.
NO_USERNS = [
    "unshare",
    "--user",
    "--map-root-user",
    "sh",
    "-c",
    'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"',
    "sh",
]
WHERE = (
    "import json, os\n"
    "print(json.dumps([os.getcwd(), open('input.txt').read(),"
    " os.path.exists('/mnt/data') and os.path.samefile('/mnt/data', '.')]))"
)


def _fallback_seen(api: Pool) -> None:
    """Relative paths reach the session's files; /mnt/data is not them; the cwd is the area."""
    sid = new_sid()
    api.upload(sid, "input.txt", b"relative works")
    cwd, text, mnt_is_cwd = json.loads(api.ok(sid, WHERE)["stdout"])
    assert text == "relative works"
    assert mnt_is_cwd is False
    assert Path(cwd).parent.name == "sessions"  # the pool's own folder for this session
    api.ok(sid, "open('written.txt', 'w').write('back')")
    assert api.download(sid, "written.txt") == b"back"


@pytest.fixture(scope="module")
def plain_pool() -> Iterator[LocalPool]:
    with start_local_pool(token=secrets.token_urlsafe(16), mnt_data=False, prewarm=0) as pool:
        yield pool


def test_setting_turns_it_off(plain_pool: LocalPool) -> None:
    api = Pool.of(plain_pool)
    try:
        _fallback_seen(api)
    finally:
        api.close()


def test_environment_variable_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(mnt_data.DISABLE_ENV, "1")
    support = mnt_data.support(True)
    assert not support.available
    assert mnt_data.DISABLE_ENV in support.reason
    assert "Sessions have no /mnt/data" in support.describe()
    monkeypatch.setenv(mnt_data.DISABLE_ENV, "0")
    assert mnt_data.support(True).available


def test_serve_without_user_namespaces_warns_once_and_sessions_still_work() -> None:
    env = {k: v for k, v in os.environ.items() if k != mnt_data.DISABLE_ENV}
    with serve(["--prewarm", "1"], prefix=NO_USERNS, env=env) as (url, token, banner):
        warning = banner[-1]
        assert warning.startswith("Warning: Sessions have no /mnt/data: unshare(user+mount")
        assert "No space left on device" in warning
        api = Pool(url, token)
        try:
            _fallback_seen(api)
            _fallback_seen(api)  # a second session: no second warning (serve checks at exit)
        finally:
            api.close()


def test_serve_no_mnt_data_says_so() -> None:
    with serve(["--no-mnt-data", "--prewarm", "0"]) as (_, _, banner):
        assert banner[-1] == (
            "Warning: Sessions have no /mnt/data: turned off (--no-mnt-data / mnt_data=False). "
            "Their files are in their working directory only, so code that opens "
            "'/mnt/data/...' fails."
        )


def test_embedded_pool_without_user_namespaces_logs_the_warning_once() -> None:
    script = textwrap.dedent(
        """
        import httpx
        from remote_kernel.server import start_local_pool
        with start_local_pool(prewarm=0) as pool:
            for ident in ("fallback-one", "fallback-two"):
                body = httpx.post(
                    pool.url + "/executions",
                    params={"api-version": "2024-10-02-preview", "identifier": ident},
                    json={"code": "import os; print(os.getcwd())"},
                    timeout=60,
                ).json()
                print(body["status"], body["result"]["stdout"].strip() != "/mnt/data")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != mnt_data.DISABLE_ENV}
    done = subprocess.run(
        [*NO_USERNS, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["Succeeded True", "Succeeded True"]
    warnings = [line for line in done.stderr.splitlines() if "Sessions have no /mnt/data" in line]
    assert len(warnings) == 1, done.stderr
    assert "No space left on device" in warnings[0]
