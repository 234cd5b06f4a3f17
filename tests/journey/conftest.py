"""The user's journey, driven with the real tools: the ``remote-kernel`` command as a
subprocess, nbclient, papermill, jupyter_client from an installed kernelspec, and
JupyterLab in a real Chromium.

Every Jupyter directory a test touches is a temporary one, so nothing here reads
or writes the user's own kernelspecs or settings.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pool_env import pool_env

from .browser import Host, require_chromium

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
ARTIFACTS = REPO / "test-artifacts"

_JUPYTER_VARS = ("JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "IPYTHONDIR")


def cli() -> list[str]:
    """The installed ``remote-kernel`` script (what the README runs), else ``-m``."""
    script = Path(sys.executable).with_name("remote-kernel")
    return [str(script)] if script.exists() else [sys.executable, "-m", "remote_kernel.cli"]


def clean_env(pool: Any | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without pool or Jupyter settings, pointed at ``pool``."""
    return pool_env(pool, drop=_JUPYTER_VARS, **extra)


def jupyter_dirs(root: Path, prefix: Path | None = None) -> dict[str, str]:
    """Environment variables giving Jupyter private data/config dirs under ``root``;
    with ``prefix``, kernelspecs installed with ``--prefix prefix`` are found too."""
    for name in ("data", "config", "runtime", "ipython"):
        (root / name).mkdir(parents=True, exist_ok=True)
    env = {
        # No IPython profile of the user's (its kernel config could set an endpoint).
        "IPYTHONDIR": str(root / "ipython"),
        "JUPYTER_DATA_DIR": str(root / "data"),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    if prefix is not None:
        env["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    return env


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path | str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli(), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def spec_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prefix with the kernelspec installed by ``remote-kernel install --prefix``."""
    prefix = tmp_path_factory.mktemp("journey-prefix")
    home = tmp_path_factory.mktemp("journey-jupyter")
    proc = run_cli(["install", "--prefix", str(prefix)], clean_env(**jupyter_dirs(home)))
    assert proc.returncode == 0, proc.stderr
    return prefix


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium for the JupyterLab test, installed by the suite when missing;
    where it cannot be, the test fails with the command that fixes it (never a skip)."""
    return require_chromium(Host.this_machine())


def outputs_text(cell: Any, name: str = "stdout") -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == name)


def mime_outputs(cell: Any, mime: str) -> list[Any]:
    return [o["data"][mime] for o in cell.outputs if mime in o.get("data", {})]


def cell_starting(nb: Any, first_line: str) -> Any:
    """The code cell whose source starts with ``first_line`` (exactly one)."""
    found = [
        c for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith(first_line)
    ]
    assert len(found) == 1, f"{len(found)} cells start with {first_line!r}"
    return found[0]


def session_ids(pool: Any) -> set[str]:
    """The sessions ``pool`` holds now."""
    from remote_kernel.client import SessionPoolClient

    with SessionPoolClient(pool.url, token=pool.token) as client:
        return {s.identifier for s in client.list_sessions()}
