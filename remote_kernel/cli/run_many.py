"""``remote-kernel run NB1 NB2 ... [-j N]``: a batch of notebooks, N at a time.

Each notebook runs on its own kernel, so in its own remote session (a kernel makes
a fresh session identifier; ``ACA_SESSION_ID`` is cleared for the batch so two
notebooks never share one). All kernels are driven from one asyncio loop with
nbclient's async API: a kernel is a separate process, so this process only
relays messages.

With no endpoint configured, the kernels share ONE embedded local pool started
here (measured faster than a pool per kernel: see the README), so ``-j`` is
bounded by that pool's session limit, and the command says so instead of failing.

Ctrl-C interrupts every running kernel and stops before the next cell; nbclient
then shuts each kernel down gracefully, and a kernel deletes its session when it
shuts down. A second Ctrl-C shuts the kernels down at once (still gracefully).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remote_kernel.cli import run as single
from remote_kernel.cli.parameters import inject_parameters
from remote_kernel.cli.run_board import Board, Job

EMBEDDED = "no endpoint set: the embedded local pool"
#: Kernel config that makes a kernel pick its own pool: then the kernels do not share ours.
_CONFIG_FILES = ("ipython_kernel_config", "ipython_config", "jupyter_config")
_CONFIG_KEYS = ("pool_endpoint", "local_pool_")


#: A kernel that lost the race for its ports (jupyter_client picks free ports, the kernel
#: binds them later; with many kernels and pools starting at once another process can
#: take one in between) is started again: no cell ran, so nothing runs twice.
PORT_TAKEN = "Address already in use"
PORT_RETRIES = 2


class Stopped(Exception):
    """Raised from nbclient's cell-start hook once Ctrl-C was pressed."""


# ------------------------------------------------------------------ preparation
def output_for(notebook: Path, output_dir: Path | None) -> Path:
    """``NAME.out.ipynb`` next to the notebook, or in ``--output-dir``."""
    default = single.default_output(notebook)
    return output_dir / default.name if output_dir is not None else default


def prepare(args: argparse.Namespace, parameters: dict[str, Any]) -> list[Job]:
    """Read every notebook and check its output path and kernel before anything runs;
    ValueError lists every problem, one line each."""
    output_dir = Path(args.output_dir) if args.output_dir else None
    if output_dir is not None and not output_dir.is_dir():
        raise ValueError(f"the output directory {output_dir} does not exist")
    jobs: list[Job] = []
    problems: list[str] = []
    seen: dict[Path, Path] = {}
    for name in args.notebook:
        notebook = Path(name)
        try:
            nb = single.read_notebook(notebook)
            inject_parameters(nb, parameters)
            output = output_for(notebook, output_dir)
            clash = seen.get(output.resolve())
            if clash is not None:
                raise ValueError(f"{clash} and {notebook} would both be written to {output}")
            seen[output.resolve()] = notebook
            kernel, why = single.choose_kernel(nb, args.kernel)
            manager = single._spec_manager(kernel, args.endpoint, why)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        # A session id from the environment would make every notebook share one session.
        jobs.append(Job(notebook, output, nb, kernel, why, manager, env={"ACA_SESSION_ID": ""}))
    if problems:
        raise ValueError("\n".join(problems))
    return jobs


def _config_picks_a_pool() -> bool:
    """Whether a Jupyter/IPython config file sets the pool (then each kernel reads it)."""
    from jupyter_core.paths import jupyter_config_path

    ipython = Path(os.environ.get("IPYTHONDIR") or Path.home() / ".ipython")
    folders = [Path(p) for p in jupyter_config_path()] + [ipython / "profile_default"]
    for folder in folders:
        for stem in _CONFIG_FILES:
            for path in (folder / f"{stem}.py", folder / f"{stem}.json"):
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    text = path.read_text(encoding="utf-8")
                    if any(key in text for key in _CONFIG_KEYS):
                        return True
    return False


def _session_python(job: Job) -> str | None:
    """The interpreter the kernel runs: what its own embedded pool would give sessions."""
    argv = job.manager.get_kernel_spec(job.kernel).argv or []
    return shutil.which(argv[0]) if argv else None


@dataclass
class SharedPools:
    """Embedded pools started here, one per session interpreter (normally one)."""

    pools: dict[str | None, Any] = field(default_factory=dict)

    def for_job(self, job: Job) -> Any:
        from remote_kernel.server import start_local_pool

        python = _session_python(job)
        if python not in self.pools:
            import secrets

            self.pools[python] = start_local_pool(
                token=secrets.token_urlsafe(24), session_python=python
            )
        return self.pools[python]

    def limit(self) -> int:
        return min(pool.pool.max_sessions for pool in self.pools.values())

    def stop(self) -> None:
        for pool in self.pools.values():
            pool.stop()


#: Set False to give every kernel its own embedded pool (how the shared one was measured).
SHARE_EMBEDDED_POOL = True


def attach_pools(jobs: list[Job], args: argparse.Namespace) -> SharedPools | None:
    """Point every kernel at one shared embedded pool when none is configured anywhere."""
    all_embedded = all(single._target(job.manager, job.kernel) == EMBEDDED for job in jobs)
    if args.endpoint or not all_embedded or not SHARE_EMBEDDED_POOL or _config_picks_a_pool():
        return None
    shared = SharedPools()
    for job in jobs:
        pool = shared.for_job(job)
        job.env |= {
            "ACA_POOL_ENDPOINT": pool.url,
            "ACA_POOL_TOKEN": pool.token,
            "ACA_AUTH": "token",
        }
        job.where = "the embedded local pool (shared)"
    return shared


# -------------------------------------------------------------------- execution
class Stopper:
    """Ctrl-C for the whole batch: interrupt every running kernel, start nothing new."""

    def __init__(self) -> None:
        self.pressed = 0
        self.clients: set[Any] = set()

    def install(self) -> None:
        """(Re)take SIGINT: nbclient installs its own handler per notebook and removes it
        when the notebook ends."""
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._pressed)

    def _pressed(self) -> None:
        self.pressed += 1
        loop = asyncio.get_running_loop()
        for client in list(self.clients):
            if self.pressed == 1:
                if client.km is not None and client.km.has_kernel:
                    loop.create_task(client.km.interrupt_kernel())
            else:
                loop.create_task(client._async_cleanup_kernel())


def _client_class() -> type:
    from nbclient import NotebookClient

    class BatchClient(NotebookClient):
        """nbclient with the batch's SIGINT handler taking precedence over its own."""

        stopper: Stopper

        async def async_start_new_kernel(self, **kwargs: Any) -> None:
            self.stopper.install()  # after nbclient's own add_signal_handler
            if self.stopper.pressed:
                raise Stopped
            await super().async_start_new_kernel(**kwargs)

    return BatchClient


async def execute(job: Job, args: argparse.Namespace, stopper: Stopper, board: Board) -> None:
    """Run one notebook, write it, and record the outcome on ``job``."""
    job.state, job.started = "running", time.monotonic()
    board.started(job)
    for attempt in range(1 + PORT_RETRIES):
        job.log_tail = []
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as kernel_log:
            job.failure = await _execute(job, args, stopper, board, kernel_log)
            if job.failure is None or not job.failure.startswith(single.KERNEL_FAILED):
                break
            kernel_log.seek(0)
            log = kernel_log.readlines()
            job.log_tail = [x.rstrip() for x in log[-10:] if x.strip()]
        if (
            stopper.pressed
            or job.progress.current is not None
            or not any(PORT_TAKEN in x for x in log)
        ):
            break
        board.retrying(job, attempt + 1)
    try:
        single._write(job.nb, job.output)
    except OSError as exc:
        job.failure = job.failure or f"cannot write {job.output}: {exc.strerror or exc}"
    job.elapsed = time.monotonic() - job.started
    job.state = "ok" if job.failure is None else "failed"
    board.finished(job)


async def _execute(
    job: Job, args: argparse.Namespace, stopper: Stopper, board: Board, kernel_log: Any
) -> str | None:
    from jupyter_client.manager import AsyncKernelManager

    progress = job.progress
    progress.stream = board.cell_stream(job)
    quiet = logging.getLogger("remote_kernel.cli.run.nbclient")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    manager = single._spec_manager(job.kernel, args.endpoint, job.why, job.env)

    def on_cell_start(cell: Any, cell_index: int, **_: Any) -> None:
        if stopper.pressed:
            raise Stopped
        progress.on_cell_start(cell, cell_index)
        board.cell_started(job)

    client = _client_class()(
        job.nb,
        km=AsyncKernelManager(kernel_name=job.kernel, kernel_spec_manager=manager),
        kernel_name=job.kernel,
        **single.timeout_options(args.timeout),
        resources={"metadata": {"path": str(job.notebook.resolve().parent)}},
        extra_arguments=single.endpoint_arguments(args.endpoint),
        on_cell_start=on_cell_start,
        on_cell_executed=progress.on_cell_executed,
        log=quiet,
    )
    client.stopper = stopper
    stopper.clients.add(client)
    where = progress.describe_current
    try:
        await client.async_execute(cleanup_kc=True, stderr=kernel_log)
    except Stopped:
        return f"{single.INTERRUPTED} at {where(job.nb)}"
    except Exception as exc:
        return single.failure(exc, where(job.nb), stopper.pressed, args.timeout)
    finally:
        stopper.clients.discard(client)
        stopper.install()  # nbclient just removed every SIGINT handler
        # nbclient leaves this registered when the kernel failed to start: at exit it
        # would try to clean up on a closed loop and print a traceback.
        atexit.unregister(client._cleanup_kernel)
    return None


async def run_all(jobs: list[Job], args: argparse.Namespace, workers: int, board: Board) -> int:
    """Every job, ``workers`` at a time; how many times Ctrl-C was pressed."""
    stopper = Stopper()
    stopper.install()
    slots = asyncio.Semaphore(workers)

    async def one(job: Job) -> None:
        async with slots:
            if stopper.pressed:
                job.state = "not run"
                board.finished(job)
                return
            await execute(job, args, stopper, board)

    ticker = asyncio.get_running_loop().create_task(board.tick())
    try:
        await asyncio.gather(*(one(job) for job in jobs))
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
    return stopper.pressed


# ---------------------------------------------------------------------- command
def run_many(args: argparse.Namespace, parameters: dict[str, Any]) -> int:
    """The batch form of ``remote-kernel run``."""
    if args.output:
        return single._error(
            "-o names one output; with several notebooks use --output-dir", single.USAGE_ERROR
        )
    try:
        jobs = prepare(args, parameters)
    except ValueError as exc:
        for line in str(exc).splitlines():
            print(f"{single.PROG}: error: {line}", file=sys.stderr)
        return single.USAGE_ERROR
    try:
        return _run(jobs, args)
    except KeyboardInterrupt:  # Ctrl-C before the kernels started: nothing to stop
        print(f"{single.PROG}: {single.INTERRUPTED}", file=sys.stderr)
        return single.CTRL_C


def _run(jobs: list[Job], args: argparse.Namespace) -> int:
    """Start the shared pool if wanted, run the batch, print the summary; the exit code."""
    from remote_kernel.errors import RemoteKernelError

    workers = min(args.jobs, len(jobs))
    try:
        shared = attach_pools(jobs, args)
    except RemoteKernelError as exc:  # the embedded pool did not start
        return single._error(str(exc), single.FAILED)
    try:
        if shared is not None and args.jobs > shared.limit():
            print(
                f"{single.PROG}: -j {args.jobs} is more than the embedded local pool's "
                f"{shared.limit()} sessions: running at most {shared.limit()} notebooks at a "
                "time (a pool of your own: `remote-kernel serve --max-sessions N` "
                "and --endpoint).",
                file=sys.stderr,
                flush=True,
            )
            workers = min(workers, shared.limit())
        for job in jobs:
            job.where = job.where or single._target(job.manager, job.kernel)
        board = Board(jobs, sys.stderr)
        board.header(workers)
        started = time.monotonic()
        pressed = asyncio.run(run_all(jobs, args, workers, board))
        board.close()
    finally:
        if shared is not None:
            shared.stop()
    board.summary(sys.stdout, time.monotonic() - started)
    if pressed:
        return single.CTRL_C
    return single.FAILED if any(job.state != "ok" for job in jobs) else 0
