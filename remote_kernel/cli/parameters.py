"""``-p NAME VALUE`` for ``remote-kernel run``, in papermill's convention.

A notebook written for papermill runs unchanged: its cell tagged ``parameters``
holds the defaults, and the values given on the command line go into a new cell
right after it, tagged ``injected-parameters`` (at the top when no cell is
tagged ``parameters``; an ``injected-parameters`` cell left by an earlier run is
replaced). Values are parsed as papermill's ``-p`` parses them, so a sweep
moves between the two tools without surprises.
"""

from __future__ import annotations

import keyword
import math
from typing import Any

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"

Value = Any  # int | float | bool | None | str


def parse_value(text: str) -> Value:
    """``"True"``/``"False"``/``"None"``, an int, a float, else the text itself (papermill)."""
    if text == "True":
        return True
    if text == "False":
        return False
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_parameters(pairs: list[list[str]] | None) -> dict[str, Value]:
    """``[[name, value], ...]`` from argparse -> ``{name: parsed}``; ValueError for a bad name.

    A name given twice keeps its last value, as papermill does.
    """
    parameters: dict[str, Value] = {}
    for name, value in pairs or []:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"-p {name!r}: a parameter name must be a Python identifier")
        parameters[name] = parse_value(value)
    return parameters


def python_literal(value: Value) -> str:
    """Python source for ``value`` (a non-finite float as ``float('nan')`` etc.)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def parameters_source(parameters: dict[str, Value]) -> str:
    """The injected cell's source: papermill's ``# Parameters`` header, one line a name."""
    lines = ["# Parameters"]
    lines += [f"{name} = {python_literal(value)}" for name, value in parameters.items()]
    return "\n".join(lines) + "\n"


def _tagged(nb: Any, tag: str) -> int:
    """Index of the first cell tagged ``tag``, or -1."""
    for index, cell in enumerate(nb.cells):
        if tag in (cell.get("metadata", {}).get("tags") or []):
            return index
    return -1


def check_language(nb: Any) -> None:
    """Parameters are written as Python: refuse a notebook in another language."""
    language = (nb.metadata.get("kernelspec") or {}).get("language") or (
        nb.metadata.get("language_info") or {}
    ).get("name")
    if isinstance(language, str) and language and language.lower() != "python":
        raise ValueError(f"-p writes Python, but the notebook's language is {language!r}")


def inject_parameters(nb: Any, parameters: dict[str, Value]) -> None:
    """Insert (or replace) the ``injected-parameters`` cell, in place, as papermill does."""
    if not parameters:
        return
    import nbformat

    check_language(nb)
    cell = nbformat.v4.new_code_cell(source=parameters_source(parameters))
    cell.metadata["tags"] = [INJECTED_TAG]
    injected, defaults = _tagged(nb, INJECTED_TAG), _tagged(nb, PARAMETERS_TAG)
    if injected >= 0:
        nb.cells[injected] = cell
    else:
        nb.cells.insert(defaults + 1, cell)  # -1 + 1: the top
    papermill = nb.metadata.setdefault("papermill", {})
    papermill["parameters"] = dict(parameters)
