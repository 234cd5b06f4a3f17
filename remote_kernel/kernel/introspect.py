"""Completion and inspection answered by the remote IPython, in one small statement.

Each request is one expression statement whose value is ``None`` (``exec`` or
``print``), so the remote ``_``/``Out`` stay untouched, and nothing is bound in
the user's namespace. The reply is one stdout line after a marker. The kernel
cuts the call off at ``completion_timeout``; any failure is an empty answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

MARKER = "\x1e__remote_kernel__"

#: Runs in its own globals (``exec(src, {"_rk": args})``): nothing is bound in the
#: user's namespace. Same completer call as ipykernel's (IPython's, with jedi).
_COMPLETE_SRC = """
import json
from IPython import get_ipython
from IPython.core.completer import provisionalcompleter, rectify_completions
code, pos, limit, marker = _rk
with provisionalcompleter():
    found = list(rectify_completions(code, get_ipython().Completer.completions(code, pos)))
print(marker + json.dumps([[c.start, c.end, c.text, c.type] for c in found[:limit]]))
"""
_COMPLETE = "exec({src!r}, {{'_rk': ({code!r}, {pos!r}, {limit!r}, {marker!r})}})"
_INSPECT = (
    "print({marker!r} + __import__('json').dumps("
    "get_ipython().object_inspect_mime({name!r}, detail_level={detail!r})))"
)

_USER_EXPRESSIONS = (
    "print({marker!r} + __import__('json').dumps("
    "get_ipython().user_expressions({expressions!r}), default=str))"
)

#: What IPython turns ``name?`` / ``name??`` into.
_PINFO = re.compile(r"^get_ipython\(\)\.run_line_magic\('(pinfo2?)', '([^'\\]+)'\)\s*$")

#: Remote completion lists are cut to this many matches.
MAX_MATCHES = 500


def empty_completion(cursor_pos: int) -> dict[str, Any]:
    return {
        "status": "ok",
        "matches": [],
        "cursor_start": cursor_pos,
        "cursor_end": cursor_pos,
        "metadata": {},
    }


def empty_inspection() -> dict[str, Any]:
    return {"status": "ok", "found": False, "data": {}, "metadata": {}}


def completion_code(code: str, cursor_pos: int) -> str:
    """The remote statement that completes ``code`` at ``cursor_pos``."""
    return _COMPLETE.format(
        src=_COMPLETE_SRC, code=code, pos=cursor_pos, limit=MAX_MATCHES, marker=MARKER
    )


def inspection_code(code: str, cursor_pos: int, detail_level: int) -> str | None:
    """The remote statement inspecting the name at the cursor (None: no name there)."""
    from IPython.utils.tokenutil import token_at_cursor

    name = token_at_cursor(code, cursor_pos)
    return inspect_name_code(name, detail_level) if name else None


def inspect_name_code(name: str, detail_level: int) -> str:
    return _INSPECT.format(marker=MARKER, name=name, detail=int(detail_level))


def page_request(code: str) -> tuple[str, int] | None:
    """``(name, detail_level)`` when the cell is only ``name?`` or ``name??``.

    The remote IPython would page the answer, and a pager payload does not
    survive the REST API: the kernel answers these itself.
    """
    if "?" not in code:
        return None
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        transformed = TransformerManager().transform_cell(code.strip())
    except Exception:
        return None
    match = _PINFO.match(transformed.strip())
    if match is None:
        return None
    return match.group(2).strip(), 1 if match.group(1) == "pinfo2" else 0


def parse_reply(stdout: str) -> Any:
    """The JSON value after the marker in ``stdout`` (ValueError when absent)."""
    start = stdout.rfind(MARKER)
    if start < 0:
        raise ValueError("no reply marker")
    line = stdout[start + len(MARKER) :].splitlines()[0]
    return json.loads(line)


def completion_reply(stdout: str, cursor_pos: int) -> dict[str, Any]:
    """The complete_reply for the remote ``[[start, end, text, type], ...]`` list."""
    items = [i for i in parse_reply(stdout) if isinstance(i, list) and len(i) == 4]
    reply = empty_completion(cursor_pos)
    if not items:
        return reply
    start, end = int(items[0][0]), int(items[0][1])
    types = [{"start": start, "end": end, "text": str(t), "type": ty} for _, _, t, ty in items]
    reply.update(
        matches=[str(i[2]) for i in items],
        cursor_start=start,
        cursor_end=end,
        metadata={"_jupyter_types_experimental": types},
    )
    return reply


def inspection_reply(stdout: str) -> dict[str, Any]:
    bundle = parse_reply(stdout)
    if not isinstance(bundle, dict) or not bundle:
        return empty_inspection()
    bundle.pop("text/html", None)
    return {"status": "ok", "found": True, "data": bundle, "metadata": {}}


def user_expressions_code(expressions: dict[str, str]) -> str:
    """The remote statement evaluating an execute_request's ``user_expressions``."""
    return _USER_EXPRESSIONS.format(marker=MARKER, expressions=dict(expressions))


def failed_expressions(expressions: dict[str, str], reason: str) -> dict[str, Any]:
    """One error result per expression: the spec wants a result for each name asked."""
    error = {"status": "error", "ename": "RemoteError", "evalue": reason, "traceback": []}
    return {name: dict(error) for name in expressions}


def user_expressions_reply(stdout: str, expressions: dict[str, str]) -> dict[str, Any]:
    """The ``user_expressions`` results the remote IPython printed (ValueError when absent)."""
    values = parse_reply(stdout)
    if not isinstance(values, dict):
        raise ValueError("user_expressions reply is not a dict")
    missing = failed_expressions(expressions, "The remote session returned no result.")
    return {name: values.get(name, missing[name]) for name in expressions}
