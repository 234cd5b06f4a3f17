"""``remote-kernel run NOTEBOOK``: execute a notebook on the remote kernel with nbclient.

The same runner JupyterLab's "Run all" amounts to, for terminals and CI: one
line of progress per code cell on stderr, the executed notebook written out
(also when a cell fails, so the outputs up to the failure can be read), and a
non-zero exit code naming the failing cell.

The kernel is the one the notebook's metadata names (``kernelspec.name``), so a
notebook written for ``python3`` with ``%load_ext remote_kernel`` runs there and
its magics talk to the pool from this machine; ``--kernel`` overrides it, and a
notebook naming none runs on ``remote-python``. That one is the installed
kernelspec when there is one; otherwise the same spec is built in memory for this
interpreter, so the command works on a fresh machine before ``remote-kernel
install`` was ever run. ``--endpoint`` reaches whichever kernel runs: the remote
kernel and the magics alike.

Several notebooks run as a batch (``run_many``), ``-p`` injects papermill-style
parameters (``parameters``); one notebook keeps the form above.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Exit codes: a cell (or the kernel) failed; the command line or the input was wrong.
FAILED = 1
USAGE_ERROR = 2

PROG = "remote-kernel run"
KERNEL_FAILED = "the kernel failed"
INTERRUPTED = "interrupted (Ctrl-C)"
#: Exit code after Ctrl-C, as shells report SIGINT.
CTRL_C = 130


def register(subparsers: argparse._SubParsersAction) -> None:
    from remote_kernel.kernel.spec import DEFAULT_NAME

    parser = subparsers.add_parser(
        "run",
        help="Execute a notebook on the remote kernel and write the executed copy.",
        description="Execute NOTEBOOK cell by cell on the remote kernel (nbclient), show "
        "progress on stderr and write the executed notebook. Exits 1 when a cell fails "
        "(the partial notebook is still written), 2 on bad input.",
    )
    parser.add_argument(
        "notebook",
        metavar="NOTEBOOK",
        nargs="+",
        help="The .ipynb file to run; several run as a batch, each in its own session.",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="Where to write the executed notebook (default: NOTEBOOK with the suffix "
        ".out.ipynb, next to it; the input is never overwritten unless OUT names it).",
    )
    parser.add_argument(
        "--kernel",
        default=None,
        metavar="NAME",
        help="Kernelspec to run on (default: the one the notebook's metadata names, else "
        f"{DEFAULT_NAME}, which is used without installing when it is not installed).",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="Seconds one cell may take before it is interrupted and the run fails "
        "(default: no limit here; the pool still stops a remote run after 220 s).",
    )
    parser.add_argument(
        "--endpoint",
        default="",
        metavar="URL",
        help="Pool management endpoint for this run (over the kernelspec, the environment "
        "and config files). "
        "Default: the kernelspec's or the environment's, else the embedded local pool.",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="With several notebooks: run N at a time (default 1; on the embedded local "
        "pool at most its session limit).",
    )
    parser.add_argument(
        "--output-dir",
        metavar="D",
        help="Write each executed notebook to D as NAME.out.ipynb (default: next to its input).",
    )
    parser.add_argument(
        "-p",
        "--parameters",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="Set a parameter, as papermill does: a cell tagged injected-parameters goes after "
        "the cell tagged parameters (or first); VALUE is an int, float, True/False/None or text.",
    )
    parser.set_defaults(func=run_notebook)


def _error(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def default_output(notebook: Path) -> Path:
    """``dir/name.ipynb`` -> ``dir/name.out.ipynb``."""
    stem = notebook.name[: -len(".ipynb")] if notebook.name.endswith(".ipynb") else notebook.name
    return notebook.with_name(f"{stem}.out.ipynb")


def read_notebook(path: Path) -> Any:
    """The notebook at ``path``; ValueError with a one-line reason when it is not one."""
    if not path.exists():
        raise ValueError(f"no such notebook: {path}")
    if not path.is_file():
        raise ValueError(f"not a file: {path}")
    # Plain JSON first: cheap, and a clearer reason than nbformat's for most bad files.
    try:
        data = json.loads(path.read_bytes())
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a notebook (not UTF-8 text)") from None
    except ValueError as exc:
        raise ValueError(f"{path} is not a notebook (invalid JSON: {exc})") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ValueError(f"{path} is not a notebook (no list of cells)")

    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # nbformat reader and conversion errors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path} is not a notebook ({reason})") from None
    if not isinstance(nb.get("cells"), list):
        raise ValueError(f"{path} is not a notebook (no cells)")
    return nb


def choose_kernel(nb: Any, requested: str | None) -> tuple[str, str]:
    """The kernel to run on, and why: ``--kernel``, else the notebook's own, else ours."""
    from remote_kernel.kernel.spec import DEFAULT_NAME

    if requested:
        return requested, "--kernel"
    named = (nb.metadata.get("kernelspec") or {}).get("name")
    if isinstance(named, str) and named.strip():
        return named.strip(), "named by the notebook"
    return DEFAULT_NAME, "the notebook names none"


def _spec_manager(
    kernel: str, endpoint: str, why: str = "--kernel", extra_env: dict[str, str] | None = None
) -> Any:
    """A KernelSpecManager that also knows the built-in remote-python spec, and applies
    ``--endpoint`` (and ``extra_env``) to whichever spec is used (a spec's env wins over
    the process env)."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel

    from remote_kernel.kernel.spec import LANGUAGES, SpecOptions, build_spec, template_dir

    BUILT_IN = {name: language for language, (name, _, _) in LANGUAGES.items()}

    class RunSpecManager(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            try:
                spec = super().get_kernel_spec(kernel_name)
            except NoSuchKernel:
                # Built in, installed or not: remote-python, remote-bash, remote-javascript.
                language = BUILT_IN.get(kernel_name)
                if language is None:
                    raise
                options = SpecOptions.for_language(language, python=sys.executable)
                spec = KernelSpec(resource_dir=str(template_dir()), **build_spec(options))
            if endpoint:
                spec.env = {**(spec.env or {}), "ACA_POOL_ENDPOINT": endpoint}
            if extra_env:
                spec.env = {**(spec.env or {}), **extra_env}
            return spec

    manager = RunSpecManager()
    try:
        manager.get_kernel_spec(kernel)
    except NoSuchKernel:
        known = ", ".join(sorted(manager.find_kernel_specs())) or "none"
        raise ValueError(
            f"no kernelspec named {kernel!r} ({why}; installed: {known}); "
            "run `remote-kernel install` or pick one with --kernel"
        ) from None
    return manager


def endpoint_arguments(endpoint: str) -> list[str]:
    """``--endpoint`` on the kernel's command line, which beats a Jupyter config file.

    Both traits: the remote kernel reads ``RemoteKernel``'s, a ``python3`` kernel's
    ``%load_ext remote_kernel`` reads ``AcaMagics``'s (a kernel ignores the other).
    """
    if not endpoint:
        return []
    return [f"--RemoteKernel.pool_endpoint={endpoint}", f"--AcaMagics.pool_endpoint={endpoint}"]


def timeout_options(timeout: float | None) -> dict[str, Any]:
    """nbclient's per-cell ``--timeout``: whole seconds (at least one), the cell
    interrupted, and a ``TimeoutError`` in its outputs that says so."""
    return {
        "timeout": max(1, math.ceil(timeout)) if timeout else None,
        "interrupt_on_timeout": True,
        "error_on_timeout": {
            "ename": "TimeoutError",
            "evalue": f"the cell ran longer than --timeout {timeout:g} s and was interrupted"
            if timeout
            else "",
            "traceback": [],
        },
    }


def _target(manager: Any, kernel: str) -> str:
    """Where cells will run, as far as the environment and the kernelspec say (a
    Jupyter config file read by the kernel itself may still set an endpoint)."""
    from remote_kernel.config import ENDPOINT_ENV, env_first

    spec_env = manager.get_kernel_spec(kernel).env or {}
    for name in ENDPOINT_ENV:
        if spec_env.get(name, "").strip():
            return spec_env[name].strip()
    return env_first(ENDPOINT_ENV) or "no endpoint set: the embedded local pool"


def _first_line(text: str, limit: int = 60) -> str:
    """The first non-blank line, cut to ``limit`` characters (0: never cut)."""
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if not limit or len(line) <= limit else line[: limit - 3] + "..."
    return ""


class Progress:
    """nbclient hooks: one stderr line per code cell, and which cell is running."""

    def __init__(self, nb: Any, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.code_cells = [
            i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and cell.source.strip()
        ]
        self.current: int | None = None
        self.started = 0.0

    def number(self, cell_index: int) -> str:
        """``3/7``: the cell's position among the notebook's code cells."""
        return f"{self.code_cells.index(cell_index) + 1}/{len(self.code_cells)}"

    def on_cell_start(self, cell: Any, cell_index: int, **_: Any) -> None:
        if cell_index in self.code_cells:
            self.current = cell_index
            self.started = time.monotonic()

    def on_cell_executed(self, cell: Any, cell_index: int, execute_reply: Any, **_: Any) -> None:
        if cell_index not in self.code_cells:
            return
        status = (execute_reply or {}).get("content", {}).get("status", "ok")
        word = "ok" if status == "ok" else "FAILED"
        if word == "FAILED" and "raises-exception" in cell.metadata.get("tags", []):
            word = "error (expected: raises-exception tag)"
        elapsed = time.monotonic() - self.started
        print(f"[{self.number(cell_index)}] {word} {elapsed:.1f}s", file=self.stream, flush=True)

    def describe_current(self, nb: Any) -> str:
        if self.current is None:
            return "before the first cell"
        source = nb.cells[self.current].source
        return f"cell [{self.number(self.current)}] (index {self.current}): {_first_line(source)}"


def _write(nb: Any, output: Path) -> None:
    import nbformat

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = merged_streams(cell.outputs)
    nbformat.write(nb, str(output))


def merged_streams(outputs: list[Any]) -> list[Any]:
    """Consecutive stream outputs of one name as one, as JupyterLab saves them.

    A live cell's output comes in chunks (one per flush), so a loop printing for a
    minute would otherwise be saved as dozens of outputs, and the same notebook run
    twice would differ in how its text is cut. Only neighbours merge: stdout
    printed around a plot stays on its side of it. (nbclient's ``coalesce_streams``
    merges across displays and errors, so it is not used.)
    """
    merged: list[Any] = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (
            last is not None
            and output.get("output_type") == last.get("output_type") == "stream"
            and output.get("name") == last.get("name")
        ):
            last["text"] = _text(last["text"]) + _text(output["text"])
        else:
            merged.append(output)
    return merged


def _text(text: str | list[str]) -> str:
    return text if isinstance(text, str) else "".join(text)


def _execute(nb: Any, notebook: Path, args: argparse.Namespace, manager: Any) -> str | None:
    """Run every cell; None when all passed, else a one-line description of the failure.

    The kernel's own stderr (transport warnings, logs) goes to a temporary file so the
    progress lines stay readable; its last lines are shown when the kernel fails.
    """
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as kernel_log:
        failure = _execute_logged(nb, notebook, args, manager, kernel_log)
        if failure is not None and failure.startswith(KERNEL_FAILED):
            kernel_log.seek(0)
            tail = [line.rstrip() for line in kernel_log.readlines()[-10:] if line.strip()]
            if tail:
                print("The kernel's last messages:", *tail, sep="\n  ", file=sys.stderr)
    return failure


def _execute_logged(
    nb: Any, notebook: Path, args: argparse.Namespace, manager: Any, kernel_log: Any
) -> str | None:
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    progress = Progress(nb)
    quiet = logging.getLogger("remote_kernel.cli.run.nbclient")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    km = AsyncKernelManager(kernel_name=args.kernel, kernel_spec_manager=manager)
    ctrl_c = CtrlC(km)
    client = NotebookClient(
        nb,
        km=km,
        kernel_name=args.kernel,
        **timeout_options(args.timeout),
        resources={"metadata": {"path": str(notebook.resolve().parent)}},
        extra_arguments=endpoint_arguments(args.endpoint),
        on_cell_start=progress.on_cell_start,
        on_cell_executed=progress.on_cell_executed,
        on_notebook_start=ctrl_c.on_notebook_start,
        log=quiet,
    )
    ctrl_c.client = client
    try:
        # nbclient leaves a kernel manager it did not create running: shut it down
        # (gracefully, so the kernel deletes its remote session).
        client.execute(cleanup_kc=True, stderr=kernel_log)
    except Exception as exc:
        return failure(exc, progress.describe_current(nb), ctrl_c.pressed, args.timeout)
    return None


def failure(exc: Exception, place: str, pressed: bool, timeout: float | None) -> str:
    """The one line that says why a notebook's run stopped at ``place`` (both ``run``
    and ``run --jobs`` report it); ``pressed``: Ctrl-C was, so an error is the interrupt."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if isinstance(exc, (CellExecutionError, DeadKernelError)) and pressed:
        return f"{INTERRUPTED} at {place}"
    if isinstance(exc, CellExecutionError):
        # The whole first line: our errors end with the fix, which must not be cut.
        reason = _first_line(exc.evalue, limit=0) or exc.ename
        return f"{place} -> {exc.ename}: {reason}"
    if isinstance(exc, CellTimeoutError):
        return f"{place} -> timed out after {timeout:g} s"
    if isinstance(exc, DeadKernelError):
        return f"{KERNEL_FAILED} (it died) at {place}"
    # The kernel failed to start, the connection was lost, ...
    reason = _first_line(str(exc), 400) or type(exc).__name__
    return f"{KERNEL_FAILED} at {place}: {reason}"


class CtrlC:
    """Ctrl-C during a run: the first interrupts the kernel (the running cell fails with
    KeyboardInterrupt and the run stops there, outputs kept); a second shuts the kernel
    down. nbclient's own handler would shut the kernel down at once; this one replaces
    it once the kernel is up (nbclient removes it again when the run ends)."""

    def __init__(self, km: Any) -> None:
        self.km = km
        self.client: Any = None
        self.pressed = 0

    def on_notebook_start(self, **_: Any) -> None:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self._pressed, loop)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # no signal handlers here (Windows, not the main thread): nbclient's stay

    def _pressed(self, loop: asyncio.AbstractEventLoop) -> None:
        self.pressed += 1
        if self.pressed == 1:
            loop.create_task(self.km.interrupt_kernel())
        elif self.client is not None:
            loop.create_task(self.client._async_cleanup_kernel())


def run_notebook(args: argparse.Namespace) -> int:
    """``run``: one notebook as before, several as a batch (``run_many``)."""
    from remote_kernel.cli.parameters import parse_parameters

    try:
        parameters = parse_parameters(args.parameters)
    except ValueError as exc:
        return _error(str(exc), USAGE_ERROR)
    if args.timeout is not None and args.timeout <= 0:
        return _error("--timeout must be a positive number of seconds", USAGE_ERROR)
    if args.jobs < 1:
        return _error("-j must be at least 1", USAGE_ERROR)
    if args.endpoint:
        from remote_kernel.errors import ConfigurationError
        from remote_kernel.kernel.spec import validate_endpoint

        try:
            args.endpoint = validate_endpoint(args.endpoint)
        except ConfigurationError as exc:
            return _error(str(exc), USAGE_ERROR)
    if len(args.notebook) > 1:
        from remote_kernel.cli.run_many import run_many

        return run_many(args, parameters)
    return run_one(args, parameters)


def run_one(args: argparse.Namespace, parameters: dict[str, Any]) -> int:
    """One notebook, its cells' progress on stderr, the executed copy at ``-o``."""
    from remote_kernel.cli.parameters import inject_parameters
    from remote_kernel.cli.run_many import output_for

    (notebook,) = map(Path, args.notebook)
    try:
        nb = read_notebook(notebook)
        inject_parameters(nb, parameters)
        if args.output:
            output = Path(args.output)
        else:
            output = output_for(notebook, Path(args.output_dir) if args.output_dir else None)
        if not output.parent.is_dir():
            raise ValueError(f"the output directory {output.parent} does not exist")
        args.kernel, why = choose_kernel(nb, args.kernel)
        manager = _spec_manager(args.kernel, args.endpoint, why)
    except ValueError as exc:
        return _error(str(exc), USAGE_ERROR)

    print(
        f"Running {notebook} on kernel {args.kernel!r} ({why}; {_target(manager, args.kernel)})",
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    failure = _execute(nb, notebook, args, manager)
    try:
        _write(nb, output)
    except OSError as exc:
        return _error(f"cannot write {output}: {exc.strerror or exc}", FAILED)
    elapsed = time.monotonic() - started
    if failure is not None:
        print(
            f"{PROG}: {'' if failure.startswith(INTERRUPTED) else 'failed at '}{failure}",
            file=sys.stderr,
        )
        print(f"Partial output written to {output} ({elapsed:.1f}s).", file=sys.stderr)
        return CTRL_C if failure.startswith(INTERRUPTED) else FAILED
    print(f"Done in {elapsed:.1f}s: wrote {output}", file=sys.stderr)
    return 0
