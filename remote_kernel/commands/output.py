"""How commands show things through an :class:`~remote_kernel.render.OutputSink`.

Text lines go to stdout; tables are mime bundles with ``text/plain`` and
``text/html`` so a notebook and a terminal both read them well.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timezone

from remote_kernel.render import OutputSink


def write_line(sink: OutputSink, text: str) -> None:
    """``text`` on stdout, ending in exactly the newline it needs."""
    sink.stream("stdout", text if text.endswith("\n") else text + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> dict[str, str]:
    """A mime bundle with an aligned text table and an HTML table."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers).rstrip(), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*row).rstrip() for row in rows]
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return {
        "text/plain": "\n".join(lines),
        "text/html": f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
    }


def utc_time(value: datetime | None) -> str:
    """A table cell for a timestamp: UTC, to the second; empty when the pool did not say."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S")
