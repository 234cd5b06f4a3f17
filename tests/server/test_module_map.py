"""Each package of the local pool names every one of its modules in its docstring."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import remote_kernel.server

SERVER = Path(remote_kernel.server.__file__).parent
PACKAGES = sorted(p.parent for p in SERVER.rglob("__init__.py"))


def members(package: Path) -> set[str]:
    files = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    folders = {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    return files | folders


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_the_package_docstring_names_every_module(package: Path) -> None:
    dotted = ".".join(package.relative_to(SERVER.parent.parent).parts)
    doc = importlib.import_module(dotted).__doc__ or ""
    missing = {name for name in members(package) if not re.search(rf"\b{name}\b", doc)}
    assert not missing, f"{dotted}'s docstring does not name {sorted(missing)}"
