"""Text-mode progress bars for file transfers, written through an output sink.

Widgets break in VS Code, terminals and logs, so the bars are plain tqdm text
(carriage-return updates) sent as ``stderr`` stream output. Small transfers
show no bar: below the threshold a bar is only noise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from remote_kernel.errors import ConfigurationError
from remote_kernel.render import OutputSink

#: Transfers at or above this many bytes get a progress bar (8 MiB).
DEFAULT_PROGRESS_THRESHOLD = 8 * 1024 * 1024

ProgressCallback = Callable[[int, "int | None"], None]

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1000,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*$")


def parse_size(text: str) -> int:
    """``"8MiB"``, ``"8 MB"``, ``"8M"`` (binary), ``"1000"`` -> bytes; one-line error otherwise."""
    match = _SIZE_RE.match(str(text))
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise ConfigurationError(
            f"Invalid size {text!r}: use a number of bytes or a number with a unit "
            "(B, KB, KiB, MB, MiB, GB, GiB)."
        )
    return int(float(match.group(1)) * _UNITS[unit])


def format_size(size: int | None) -> str:
    """Human-readable size in binary units (``"1.5 MiB"``); ``"?"`` when unknown."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - loop always returns


class SinkFile:
    """A minimal text file that tqdm can write to: everything goes to ``sink`` stderr."""

    def __init__(self, sink: OutputSink) -> None:
        self._sink = sink

    def write(self, text: str) -> int:
        if text:
            self._sink.stream("stderr", text)
        return len(text)

    def flush(self) -> None:
        flush = getattr(self._sink, "flush", None)
        if callable(flush):
            flush()


class _LazyBar:
    """Opens a tqdm bar the first time a transfer is known to pass the threshold."""

    def __init__(self, sink: OutputSink, desc: str, threshold: int, total: int | None) -> None:
        self._sink = sink
        self._desc = desc
        self._threshold = threshold
        self._total = total
        self._bar: Any = None
        self._done = 0

    def __call__(self, done: int, total: int | None) -> None:
        total = total if total is not None else self._total
        if self._bar is None:
            if max(done, total or 0) < self._threshold:
                return
            self._open(total)
        if total is not None and self._bar.total != total:
            self._bar.total = total
        self._bar.update(max(done - self._done, 0))
        self._done = max(done, self._done)

    def _open(self, total: int | None) -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=total,
            desc=self._desc,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=SinkFile(self._sink),
            ascii=True,
            dynamic_ncols=False,
            ncols=80,
            mininterval=0.2,
            leave=True,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    @property
    def shown(self) -> bool:
        return self._bar is not None or self._done >= self._threshold


@contextmanager
def progress_bar(
    sink: OutputSink, desc: str, *, threshold: int, total: int | None = None
) -> Iterator[ProgressCallback]:
    """Yield a ``progress(done, total)`` callback; a bar appears once the size passes ``threshold``."""
    bar = _LazyBar(sink, desc, threshold, total)
    try:
        yield bar
    finally:
        bar.close()
