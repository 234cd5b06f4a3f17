"""No import cycle inside the local pool's modules, type-checking imports included.

A cycle hidden under ``TYPE_CHECKING`` is still two modules that each need the
other (``pool`` and ``shapes`` were one): the shared names belong in one home.
"""

from __future__ import annotations

import ast
from pathlib import Path

import remote_kernel

ROOT = Path(remote_kernel.__file__).parent
PACKAGE = "remote_kernel.server"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {module_name(p): p for p in (ROOT / "server").rglob("*.py")}
    return {name: path for name, path in found.items() if ".inside" not in name}


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Every module of ``known`` that ``path`` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                names.add(sub if sub in known else node.module)
    return {name for name in names if name in known}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                found.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycle_among_the_pools_modules() -> None:
    known = modules()
    assert f"{PACKAGE}.pool" in known and f"{PACKAGE}.runtimes.base" in known
    # A package's __init__ re-exporting its children is not a cycle of theirs.
    graph = {
        name: {t for t in imports(path, known) if not name.startswith(f"{t}.")}
        for name, path in known.items()
    }
    assert cycles(graph) == []


def test_the_scan_finds_a_cycle_hidden_under_type_checking() -> None:
    graph = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert cycles(graph) == [["a", "b", "a"]]
