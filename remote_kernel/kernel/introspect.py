"""Completion and inspection answered by the remote IPython, in one small statement.

Each request runs one expression statement whose value is ``None`` (a
``print``), so the remote ``_``/``Out`` stay untouched, and nothing is bound in
the user's namespace. The reply is one stdout line after a marker. The kernel
cuts the call off at ``completion_timeout``; any failure is an empty answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

MARKER = "\x1e__remote_kernel__"

_COMPLETE = (
    "print({marker!r} + __import__('json').dumps(get_ipython().complete('', {line!r}, {pos!r})))"
)
_INSPECT = (
    "print({marker!r} + __import__('json').dumps("
    "get_ipython().object_inspect_mime({name!r}, detail_level={detail!r})))"
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


def completion_code(code: str, cursor_pos: int) -> tuple[str, int]:
    """The remote statement for completing at ``cursor_pos``, and the line's offset in ``code``."""
    from IPython.utils.tokenutil import line_at_cursor

    line, offset = line_at_cursor(code, cursor_pos)
    return _COMPLETE.format(marker=MARKER, line=line, pos=cursor_pos - offset), offset


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
    text, matches = parse_reply(stdout)
    matches = [m for m in matches if isinstance(m, str)][:MAX_MATCHES]
    reply = empty_completion(cursor_pos)
    reply.update(matches=matches, cursor_start=cursor_pos - len(str(text)))
    return reply


def inspection_reply(stdout: str) -> dict[str, Any]:
    bundle = parse_reply(stdout)
    if not isinstance(bundle, dict) or not bundle:
        return empty_inspection()
    bundle.pop("text/html", None)
    return {"status": "ok", "found": True, "data": bundle, "metadata": {}}
