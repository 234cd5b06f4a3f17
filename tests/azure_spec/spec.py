"""Azure's vendored data-plane documents and their examples, loaded for the tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
#: Folder of each vendored version, by api-version.
FOLDERS = {
    "2024-09-01": HERE / "stable" / "2024-09-01",
    "2024-10-02-preview": HERE / "preview" / "2024-10-02-preview",
    "2025-02-02-preview": HERE / "preview" / "2025-02-02-preview",
    "2025-10-02-preview": HERE / "preview" / "2025-10-02-preview",
}
#: The versions the local pool serves (2024-09-01 is refused: see README.md).
SERVED = ["2024-10-02-preview", "2025-02-02-preview", "2025-10-02-preview"]


@cache
def document(version: str) -> dict[str, Any]:
    return json.loads((FOLDERS[version] / "DynamicSessions.json").read_text())  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Example:
    """One ``examples/*.json``: an operation's parameters and its documented answers."""

    version: str
    name: str
    body: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.body["operationId"])

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.body.get("parameters", {}))

    @property
    def responses(self) -> dict[str, Any]:
        return dict(self.body["responses"])

    def __str__(self) -> str:
        return f"{self.version}/{self.name}"


def examples(version: str | None = None) -> list[Example]:
    versions = [version] if version else list(FOLDERS)
    found = []
    for v in versions:
        for path in sorted((FOLDERS[v] / "examples").glob("*.json")):
            found.append(Example(v, path.stem, json.loads(path.read_text())))
    return found


def operation(version: str, operation_id: str) -> tuple[str, str, dict[str, Any]]:
    """(method, path, operation object) of ``operation_id`` in ``version``'s document."""
    for path, ops in document(version)["paths"].items():
        for method, op in ops.items():
            if op.get("operationId") == operation_id:
                return method, path, op
    raise KeyError(f"{operation_id} is not in the {version} document")


def response_schema(version: str, operation_id: str, status: str) -> dict[str, Any] | None:
    """The schema of an operation's ``status`` answer (``default`` when not listed)."""
    _, _, op = operation(version, operation_id)
    answer = op["responses"].get(status) or op["responses"].get("default") or {}
    return answer.get("schema")


def resolve(version: str, schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """``schema`` with every ``#/definitions/...`` reference inlined."""
    if schema is None:
        return None
    definitions = document(version)["definitions"]

    def walk(node: Any, depth: int = 0) -> Any:
        if isinstance(node, dict):
            if "$ref" in node and depth < 12:
                name = node["$ref"].rsplit("/", 1)[-1]
                return walk(definitions[name], depth + 1)
            return {k: walk(v, depth) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, depth) for v in node]
        return node

    return walk(schema)  # type: ignore[no-any-return]
