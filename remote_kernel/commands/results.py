"""How a remote result looks locally: ``%aca CODE``'s value, ``Out[n]`` of ``%%aca``."""

from __future__ import annotations

import ast
from typing import Any

from remote_kernel.client.models import ExecutionResult
from remote_kernel.wire import is_image_result


class RemoteValue:
    """A remote result shown as it was remotely (its mime bundle), e.g. as ``Out[n]``."""

    def __init__(self, data: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        self.data = data
        self.metadata = metadata or {}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return self.data, self.metadata

    def __repr__(self) -> str:
        text = self.data.get("text/plain", "<remote value>")
        return "".join(text) if isinstance(text, list) else str(text)


def _result_bundle(result: ExecutionResult) -> tuple[dict[str, Any], dict[str, Any]] | None:
    for out in reversed(result.outputs):
        if out.get("output_type") == "execute_result":
            return dict(out.get("data") or {}), dict(out.get("metadata") or {})
    return None


def line_value(result: ExecutionResult) -> Any:
    """What ``%aca CODE`` returns: the remote value as exactly as it can be rebuilt.

    The pool's JSON value loses types (a set becomes a list, int keys become
    strings), so it is used only when its repr matches the remote display; a
    display that is a Python literal is rebuilt from the display; otherwise the
    JSON value, or the remote display itself.
    """
    bundle = _result_bundle(result)
    value = result.value
    plain = bundle[0].get("text/plain") if bundle else None
    if isinstance(plain, list):
        plain = "".join(plain)
    is_image = is_image_result(value)
    if plain is None:  # Azure sends "" for "no value"; an image value was displayed already
        return None if value == "" or is_image else value
    if value is not None and repr(value) == plain:
        return value
    try:
        return ast.literal_eval(plain)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    # With the pool's own display (local pool) a real string shows quoted, so an
    # unquoted one is a repr; Azure's synthesised display cannot tell: keep the str.
    is_repr = result.full_outputs and isinstance(value, str) and value == plain
    if value is not None and not is_repr and not is_image:
        return value
    return RemoteValue(*bundle)  # type: ignore[misc]
