"""Sessions run a chosen interpreter: its packages are what the session has and lists.

The chosen interpreter is a second virtual environment made in a few
milliseconds (``venv --without-pip``) that reuses this environment's packages
through a ``.pth`` file and adds one distribution of its own, so a listing that
shows it proves it came from that interpreter.
"""

from __future__ import annotations

import json
import secrets
import site
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest
from pool_api import Api as Pool

from remote_kernel.client import SessionPoolClient
from remote_kernel.errors import ConfigurationError
from remote_kernel.server import LocalPool, start_local_pool

from .helpers import new_sid, serve

MARKER = "rk-session-marker"


def _make_env(root: Path, *, share_packages: bool) -> Path:
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if share_packages:
        ours = [p for p in site.getsitepackages() if p.endswith("site-packages")]
        lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in ours)
        Path(purelib, "rk_share_parent.pth").write_text(lines)
    dist = Path(purelib, "rk_session_marker-1.2.3.dist-info")
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {MARKER}\nVersion: 1.2.3\n")
    return python


@pytest.fixture(scope="module")
def other_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_env(tmp_path_factory.mktemp("session-env") / "env", share_packages=True)


@pytest.fixture(scope="module")
def other_pool(other_python: Path) -> Iterator[LocalPool]:
    with start_local_pool(
        token=secrets.token_urlsafe(16), session_python=str(other_python), prewarm=0
    ) as pool:
        yield pool


@pytest.fixture(scope="module")
def other_api(other_pool: LocalPool) -> Iterator[Pool]:
    api = Pool.of(other_pool)
    yield api
    api.close()


def test_sessions_run_the_chosen_interpreter_with_mnt_data(
    other_python: Path, other_api: Pool
) -> None:
    code = (
        "import json, os, shutil, sys\n"
        "print(json.dumps([sys.executable, sys.prefix, shutil.which('python'), os.getcwd()]))"
    )
    executable, prefix, on_path, cwd = json.loads(other_api.ok(new_sid(), code)["stdout"])
    assert executable == str(other_python)
    assert prefix == str(other_python.parent.parent)
    assert on_path == str(other_python)  # `!python` / `!pip` in a cell mean that environment's
    assert cwd == "/mnt/data"


def test_packages_route_and_client_list_the_chosen_interpreters_packages(
    other_pool: LocalPool, other_api: Pool, pool_api: Pool, sids: list[str]
) -> None:
    sid = new_sid()
    listed = other_api.call("GET", "/packages", sid).json()["value"]
    assert {"name": MARKER, "version": "1.2.3"} in listed
    assert any(p["name"] == "ipykernel" for p in listed)
    with SessionPoolClient(other_pool.url, token=other_pool.token) as client:
        names = {(p.name, p.version) for p in client.list_packages(session=sid)}
    assert (MARKER, "1.2.3") in names
    default = pool_api.call("GET", "/packages", sids[0]).json()["value"]
    assert MARKER not in {p["name"] for p in default}


def test_pkg_resources_working_set_works_in_sessions(
    other_api: Pool, pool_api: Pool, sids: list[str]
) -> None:
    # AutoGen lists packages this way; setuptools must be importable in the session.
    code = "import pkg_resources\nsorted(d.project_name for d in pkg_resources.working_set)"
    chosen = other_api.ok(new_sid(), code)["executionResult"]
    assert MARKER in chosen and "ipykernel" in chosen
    default = pool_api.ok(sids[0], code)["executionResult"]
    assert "ipykernel" in default and MARKER not in default


def test_a_missing_or_unusable_interpreter_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as missing:
        start_local_pool(session_python=str(tmp_path / "no-such-python"), prewarm=0)
    assert "not found" in str(missing.value) and "\n" not in str(missing.value)
    bare = _make_env(tmp_path / "bare", share_packages=False)
    with pytest.raises(ConfigurationError) as unusable:
        start_local_pool(session_python=str(bare), prewarm=0)
    assert "cannot import ipykernel" in str(unusable.value)
    assert f"{bare} -m pip install ipykernel" in str(unusable.value)


def test_a_sandbox_pool_refuses_a_session_interpreter() -> None:
    with pytest.raises(ConfigurationError, match="not to the sandbox"):
        start_local_pool(sandbox=True, session_python=sys.executable, prewarm=0)


def test_serve_session_python_flag(other_python: Path) -> None:
    with serve(["--session-python", str(other_python), "--prewarm", "0"]) as (url, token, banner):
        assert banner[-1] == (
            "Sessions see their files at /mnt/data (a private mount namespace each)."
        )
        api = Pool(url, token)
        try:
            code = "import os, sys; print(sys.executable, os.getcwd())"
            assert api.ok(new_sid(), code)["stdout"] == f"{other_python} /mnt/data\n"
        finally:
            api.close()
