"""Input history for ``history_request`` (console up-arrow, ``%history`` in front-ends).

The remote IPython keeps its own history, but the REST API cannot reach it,
so the kernel remembers what it sent. One session number per kernel process.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

#: The session number history replies use for this kernel process.
SESSION = 1


@dataclass
class Entry:
    line: int
    source: str
    output: str | None = None

    def as_reply(self, with_output: bool) -> tuple[Any, ...]:
        return (SESSION, self.line, (self.source, self.output) if with_output else self.source)


class History:
    """An in-memory list of (line number, input, text output)."""

    def __init__(self) -> None:
        self._entries: list[Entry] = []

    def record(self, line: int, source: str) -> None:
        self._entries.append(Entry(line, source.rstrip("\n")))

    def record_output(self, line: int, data: dict[str, Any]) -> None:
        text = data.get("text/plain")
        for entry in reversed(self._entries):
            if entry.line == line:
                entry.output = text if isinstance(text, str) else None
                return

    def query(
        self,
        access: str,
        *,
        session: int | None = None,
        start: int | None = None,
        stop: int | None = None,
        n: int | None = None,
        pattern: str | None = None,
        unique: bool = False,
    ) -> list[Entry]:
        if access == "tail":
            return self._last(self._entries, n)
        if access == "range":
            if session not in (None, 0, SESSION):
                return []
            lo = start or 0
            return [e for e in self._entries if e.line >= lo and (stop is None or e.line < stop)]
        if access == "search":
            matches = [e for e in self._entries if fnmatch.fnmatchcase(e.source, pattern or "*")]
            if unique:
                seen: set[str] = set()
                kept = []
                for entry in reversed(matches):
                    if entry.source not in seen:
                        seen.add(entry.source)
                        kept.append(entry)
                matches = kept[::-1]
            return self._last(matches, n)
        return []

    @staticmethod
    def _last(entries: list[Entry], n: int | None) -> list[Entry]:
        return list(entries[-n:]) if n else list(entries)
