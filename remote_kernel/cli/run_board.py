"""What ``remote-kernel run NB1 NB2 ...`` shows while it runs, and the summary table.

On a terminal: one live line per notebook (queued, the running cell and its time,
the outcome), redrawn in place every half second, as tqdm's ``position=`` bars do.
In a pipe or CI log, where redrawing makes a mess: plain lines, each prefixed with
its notebook, when a notebook starts, after each code cell (so a hung notebook
shows where it hangs), and when it ends.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from remote_kernel.cli import run as single

REFRESH_SECONDS = 0.5


@dataclass
class Job:
    """One notebook of the batch: its inputs, then its progress and outcome."""

    notebook: Path
    output: Path
    nb: Any
    kernel: str
    why: str
    manager: Any
    env: dict[str, str] = field(default_factory=dict)
    where: str = ""
    state: str = "queued"  # queued, running, ok, failed, not run
    last: str = ""
    started: float = 0.0
    elapsed: float = 0.0
    failure: str | None = None
    log_tail: list[str] = field(default_factory=list)
    progress: Any = None

    def __post_init__(self) -> None:
        self.progress = single.Progress(self.nb)

    @property
    def name(self) -> str:
        return str(self.notebook)

    @property
    def cells(self) -> int:
        return len(self.progress.code_cells)

    def result(self) -> str:
        """The summary's last column: ok, the failure, or why it did not run."""
        if self.state == "ok":
            return "ok"
        if self.state == "not run":
            return "not run (Ctrl-C)"
        failure = self.failure or ""
        if failure.startswith((single.INTERRUPTED, single.KERNEL_FAILED)):
            return failure
        return f"failed at {failure}"


class _CellLines:
    """The stream nbclient's per-cell progress writes to: a line for the board."""

    def __init__(self, board: Board, job: Job) -> None:
        self.board, self.job = board, job

    def write(self, text: str) -> None:
        for line in text.splitlines():
            if line.strip():
                self.job.last = line.strip()
                self.board.cell_done(self.job)

    def flush(self) -> None:
        pass


class Board:
    """Progress for a batch: live lines on a terminal, plain lines elsewhere."""

    def __init__(self, jobs: list[Job], stream: TextIO, live: bool | None = None) -> None:
        self.jobs, self.stream = jobs, stream
        self.live = stream.isatty() if live is None else live
        self.width = max(len(job.name) for job in jobs)
        self._drawn = 0

    # ------------------------------------------------------------------ events
    def header(self, workers: int) -> None:
        count = f"{len(self.jobs)} notebooks, {workers} at a time"
        kinds = {(job.kernel, job.why, job.where) for job in self.jobs}
        if len(kinds) == 1:
            kernel, why, where = kinds.pop()
            self._say(f"Running {count}, on kernel {kernel!r} ({why}; {where})")
        else:
            self._say(f"Running {count}:")
            for job in self.jobs:
                self._say(f"  {job.name} on kernel {job.kernel!r} ({job.why}; {job.where})")
        self.redraw()

    def started(self, job: Job) -> None:
        self._plain(job, "started")
        self.redraw()

    def cell_stream(self, job: Job) -> _CellLines:
        return _CellLines(self, job)

    def cell_started(self, job: Job) -> None:
        self.redraw()

    def cell_done(self, job: Job) -> None:
        self._plain(job, job.last)
        self.redraw()

    def retrying(self, job: Job, attempt: int) -> None:
        """Only in a pipe: on a terminal the line keeps saying it is starting."""
        self._plain(job, f"the kernel lost a race for its ports; starting it again ({attempt})")

    def finished(self, job: Job) -> None:
        self._plain(job, f"{job.result()} ({job.elapsed:.1f}s)")
        self.redraw()

    async def tick(self) -> None:
        """Keep the running cells' clocks moving on a terminal."""
        while self.live:
            await asyncio.sleep(REFRESH_SECONDS)
            self.redraw()

    def close(self) -> None:
        self.redraw()

    # ----------------------------------------------------------------- drawing
    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _plain(self, job: Job, text: str) -> None:
        if not self.live:
            self._say(f"{job.name}: {text}")

    def line(self, job: Job, now: float, columns: int = 200) -> str:
        """One notebook's live line; a long path loses its start, never the status."""
        room = min(self.width, max(12, columns - 48))
        name = job.name if len(job.name) <= room else "..." + job.name[-(room - 3) :]
        name = name.ljust(room)
        if job.state == "running":
            current = job.progress.current
            cell = f"[{job.progress.number(current)}]" if current is not None else "[starting]"
            return f"{name}  {cell} running {now - job.started:.1f}s"
        if job.state == "queued":
            return f"{name}  queued"
        return f"{name}  {job.result()} ({job.elapsed:.1f}s)"

    def redraw(self) -> None:
        if not self.live:
            return
        import time

        now = time.monotonic()
        columns, rows = shutil.get_terminal_size()
        lines = [self.line(job, now, columns) for job in self.jobs]
        if len(lines) >= rows:  # too many for the screen: the running ones and a count
            done = sum(job.state not in ("queued", "running") for job in self.jobs)
            lines = [self.line(job, now, columns) for job in self.jobs if job.state == "running"]
            lines.append(f"{done} of {len(self.jobs)} done")
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        body = "".join(f"\x1b[2K{line[: columns - 1]}\n" for line in lines)
        self.stream.write(f"{up}{body}\x1b[J")
        self.stream.flush()
        self._drawn = len(lines)

    # ----------------------------------------------------------------- summary
    def summary(self, stream: TextIO, elapsed: float) -> None:
        """The table (notebook, cells, time, result), the totals, kernels' last words."""
        rows = [("notebook", "cells", "time", "result")]
        rows += [
            (job.name, str(job.cells), f"{job.elapsed:.1f}s", job.result()) for job in self.jobs
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for name, cells, took, result in rows:
            line = f"{name.ljust(widths[0])}  {cells.rjust(widths[1])}  {took.rjust(widths[2])}"
            print(f"{line}  {result}", file=stream)
        ok = sum(job.state == "ok" for job in self.jobs)
        failed = sum(job.state == "failed" for job in self.jobs)
        skipped = len(self.jobs) - ok - failed
        tail = f", {skipped} not run" if skipped else ""
        print(
            f"{ok} of {len(self.jobs)} notebooks ok, {failed} failed{tail} in {elapsed:.1f}s.",
            file=stream,
            flush=True,
        )
        for job in self.jobs:
            if job.log_tail:
                header = f"The kernel's last messages ({job.name}):"
                print(header, *job.log_tail, sep="\n  ", file=self.stream)
