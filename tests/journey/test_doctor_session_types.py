"""``remote-kernel doctor`` against Shell and JavaScript pools: it says which type the
endpoint serves, and which kernel goes with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from remote_kernel.server import start_local_pool

from .conftest import clean_env, jupyter_dirs, run_cli


@pytest.fixture(scope="module")
def shell_pool() -> Iterator[Any]:
    pool = start_local_pool(runtime="shell", token="doctor-shell-token", prewarm=1)
    try:
        yield pool
    finally:
        pool.stop()


def test_doctor_recognises_a_shell_pool(shell_pool: Any, spec_prefix: Path, tmp_path: Path) -> None:
    env = clean_env(shell_pool, **jupyter_dirs(tmp_path, spec_prefix))
    proc = run_cli(["doctor"], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "✓ execution: this is a Shell pool: `echo $((1 + 1))` printed 2" in proc.stdout
    assert "remote-bash" in proc.stdout
    assert shell_pool.token not in proc.stdout + proc.stderr


def test_doctor_tells_a_javascript_pool_from_a_python_one(
    spec_prefix: Path, tmp_path: Path
) -> None:
    pool = start_local_pool(runtime="javascript", token="doctor-js-token", prewarm=1)
    try:
        proc = run_cli(["doctor"], clean_env(pool, **jupyter_dirs(tmp_path, spec_prefix)))
    finally:
        pool.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "✓ execution: this is a JavaScript (NodeLTS) pool: `-7 % 3` returned -1" in proc.stdout
    assert "remote-javascript" in proc.stdout
    assert pool.token not in proc.stdout + proc.stderr
