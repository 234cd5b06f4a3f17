"""Choosing a session runtime by name: ``serve --runtime``, ``local_pool_runtime``, the registry."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from remote_kernel.cli import build_parser
from remote_kernel.config import PoolSettings
from remote_kernel.errors import ConfigurationError
from remote_kernel.server import start_local_pool
from remote_kernel.server.runtimes import runtime_factory, runtime_names
from remote_kernel.session import RemoteSession


def serve_args(*argv: str):
    return build_parser().parse_args(["serve", *argv])


def test_registry_names_every_runtime() -> None:
    assert runtime_names()[:4] == ["python", "pyodide", "shell", "javascript"]


@pytest.mark.parametrize(
    ("argv", "runtime"),
    [
        ((), "python"),
        (("--runtime", "pyodide"), "pyodide"),
        (("--runtime", "PYODIDE"), "pyodide"),
        (("--sandbox",), "pyodide"),
        (("--runtime", "python"), "python"),
        (("--runtime", "shell"), "shell"),
        (("--runtime", "javascript"), "javascript"),
    ],
)
def test_serve_runtime_flag_and_its_sandbox_alias(argv: tuple[str, ...], runtime: str) -> None:
    assert serve_args(*argv).runtime == runtime


def test_serve_refuses_an_unknown_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        serve_args("--runtime", "cobol")
    assert "invalid choice: 'cobol'" in capsys.readouterr().err


def test_an_unknown_runtime_is_a_clear_error_naming_the_choices() -> None:
    with pytest.raises(
        ConfigurationError, match="Unknown session runtime 'cobol'.*python, pyodide"
    ):
        runtime_factory("cobol")
    with pytest.raises(ConfigurationError, match="Unknown session runtime"):
        start_local_pool(runtime="cobol")


def test_local_pool_sandbox_is_the_older_spelling_of_pyodide() -> None:
    assert PoolSettings().local_pool_runtime == "python"
    config = Config({"PoolSettings": {"local_pool_sandbox": True}})
    assert PoolSettings(config=config).local_pool_runtime == "pyodide"
    assert PoolSettings(local_pool_runtime="pyodide").local_pool_runtime == "pyodide"


def test_the_embedded_pool_runs_the_configured_runtime(sandbox_prepared) -> None:
    """The kernel's and the magics' own pool: Pyodide reports the emscripten platform."""
    session = RemoteSession(PoolSettings(pool_endpoint="", local_pool_runtime="pyodide"))
    try:
        result = session.execute("import sys\nprint(sys.platform)")
        assert result.stdout.strip() == "emscripten", result
    finally:
        session.close()


@pytest.fixture(scope="module")
def sandbox_prepared():
    from remote_kernel.server.sandbox import prepare

    return prepare()
