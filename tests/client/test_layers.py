"""The client's layering: codecs by value, one set of methods for both shells, no cycles."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from remote_kernel import errors
from remote_kernel.client import AsyncSessionPoolClient, SessionPoolClient
from remote_kernel.client.codecs import CODECS, Generation1, Generation2, codec_for
from remote_kernel.client.methods import OPERATIONS
from remote_kernel.client.operations import Protocol
from remote_kernel.config import KNOWN_API_VERSIONS, is_generation1

PACKAGE = Path(__file__).resolve().parents[2] / "remote_kernel"
EP = "https://westus2.dynamicsessions.io/subscriptions/s/resourceGroups/g/sessionPools/p"


def test_every_api_version_has_a_codec_of_its_generation():
    assert set(CODECS) == set(KNOWN_API_VERSIONS)
    for version, codec in CODECS.items():
        expected = Generation1 if is_generation1(version) else Generation2
        assert isinstance(codec, expected), version
        assert Protocol(EP, version).codec is codec
    with pytest.raises(errors.ConfigurationError, match="api-version"):
        codec_for("2020-01-01")


def test_only_the_newest_version_reports_the_default_stream_cut():
    cut = {version for version, codec in CODECS.items() if codec.stream_cap == 4096}
    assert cut == {"2025-10-02-preview"}


def test_generation1_has_no_execution_resource():
    gen1 = Protocol(EP, "2024-02-02-preview")
    with pytest.raises(errors.ConfigurationError, match="generation-2"):
        next(gen1.start_execution("1", "s-123"))
    with pytest.raises(errors.ConfigurationError, match="generation-2"):
        gen1.get_execution_request("e", "s-123")


def _public(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_") and inspect.isroutine(getattr(cls, n))}


@pytest.mark.parametrize("name", OPERATIONS)
def test_both_shells_offer_each_operation_with_one_signature(name):
    sync, aio = getattr(SessionPoolClient, name), getattr(AsyncSessionPoolClient, name)
    assert inspect.signature(sync) == inspect.signature(aio)
    assert inspect.iscoroutinefunction(aio) and not inspect.iscoroutinefunction(sync)
    assert sync.__doc__ == aio.__doc__


def test_the_shells_differ_only_in_how_they_close_and_the_async_event_iterator():
    """``stream`` is the async form of ``execute(..., on_event=)``, which both have."""
    only_sync = _public(SessionPoolClient) - _public(AsyncSessionPoolClient)
    only_async = _public(AsyncSessionPoolClient) - _public(SessionPoolClient)
    assert (only_sync, only_async) == ({"close"}, {"aclose", "stream"})
    talking = {n for n in _public(SessionPoolClient) if n in vars(SessionPoolClient.__mro__[1])}
    assert talking - {"run", "from_settings"} == set(OPERATIONS)


def _imports(path: Path, package: str) -> set[str]:
    """Modules of ``package`` that ``path`` imports when it is imported (not in functions)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    nodes = list(tree.body)
    for node in list(nodes):
        if isinstance(node, ast.If):  # TYPE_CHECKING blocks count: they name each other
            nodes.extend(node.body)
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(package))
    return found


def _cycle(package_dir: Path, package: str) -> list[str] | None:
    modules = {
        f"{package}.{p.stem}" if p.stem != "__init__" else package: p
        for p in package_dir.glob("*.py")
    }
    graph = {m: _imports(p, package) & set(modules) - {m} for m, p in modules.items()}
    graph[package] = set()  # importing a submodule runs the package first, not a cycle
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*trail, node, nxt]
            if nxt not in state and (found := visit(nxt, [*trail, node])):
                return found
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module, [])):
            return found
    return None


def test_no_import_cycle_in_the_client_package():
    assert _cycle(PACKAGE / "client", "remote_kernel.client") is None


def test_the_cycle_check_finds_a_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import x\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n"
    )
    assert _cycle(pkg, "pkg") == ["pkg.a", "pkg.b", "pkg.a"]


def test_the_shared_vocabulary_imports_only_the_standard_library():
    tree = ast.parse((PACKAGE / "wire.py").read_text())
    imported = {
        (n.module if isinstance(n, ast.ImportFrom) else a.name).split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in (n.names if isinstance(n, ast.Import) else [n])
    }
    assert imported <= {"__future__", "collections", "json", "re", "typing"}
