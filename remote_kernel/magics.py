"""IPython magics: ``%load_ext remote_kernel`` gives ``%%aca`` and the ``%aca_*`` commands.

A thin layer: the commands live in :mod:`remote_kernel.commands` (shared with
the wrapper kernel); here they get an output sink that writes to
``sys.stdout``/``sys.stderr`` and IPython's display system, and failures are
turned into what IPython users expect: a usage mistake is a one-line
``UsageError``, a remote exception shows the *remote* traceback and fails the
cell (so nbclient and papermill stop), and no traceback through this package
is ever shown.

Configuration: ``c.AcaMagics.pool_endpoint`` (and every other
:class:`~remote_kernel.config.PoolSettings` trait; ``c.PoolSettings.x`` works
too), with the same environment fallbacks as the client.
"""

from __future__ import annotations

import atexit
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    cell_magic,
    line_cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
)
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import publish_display_data
from traitlets import Int, Unicode, default, observe

from remote_kernel import variables
from remote_kernel.client.models import ExecutionResult
from remote_kernel.commands import COMMANDS, AcaCommands, RemoteValue, line_value
from remote_kernel.config import PoolSettings, env_first
from remote_kernel.errors import ConfigurationError, ExecutionError, RemoteKernelError
from remote_kernel.in_session import ALREADY_REMOTE, in_remote_session
from remote_kernel.session import RemoteSession
from remote_kernel.transfer_progress import DEFAULT_PROGRESS_THRESHOLD

_RED = "\x1b[0;31m"
_RESET = "\x1b[0m"


class RemoteExecutionError(ExecutionError):
    """The remote cell raised. IPython shows the remote traceback, not ours."""

    def __init__(self, ename: str, evalue: str, traceback: list[str], session: str) -> None:
        self.session = session
        message = f"{ename}: {evalue}" if evalue else ename
        super().__init__(
            f"{message} (in remote session {session})",
            ename=ename,
            evalue=evalue,
            traceback=traceback,
        )

    def _render_traceback_(self) -> list[str]:
        lines = list(self.traceback) or [f"{_RED}{self.ename}{_RESET}: {self.evalue}"]
        return lines + [f"(raised in remote session {self.session})"]


def _short(exc: BaseException) -> list[str]:
    return [f"{_RED}{type(exc).__name__}{_RESET}: {exc}"]


class IPythonSink:
    """OutputSink for a local IPython: streams to sys.stdout/err, rich data to the display system.

    The remote ``execute_result`` is kept (not displayed) so the magic can return
    it and IPython shows it as ``Out[n]``.
    """

    def __init__(self) -> None:
        self.result: tuple[dict[str, Any], dict[str, Any]] | None = None

    def stream(self, name: str, text: str) -> None:
        out = sys.stderr if name == "stderr" else sys.stdout
        out.write(text)
        out.flush()

    def flush(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()

    def display(
        self, data: dict[str, Any], metadata: dict[str, Any], *, execute_result: bool = False
    ) -> None:
        if execute_result:
            self.result = (data, metadata)
            return
        self.flush()  # keep text printed before a display above it
        publish_display_data(data, metadata)

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        """Nothing: the magic raises RemoteExecutionError, whose traceback IPython shows once."""

    # -- live outputs of a streaming pool (commands.cells.LiveOutputs) -------------------

    def display_with_id(
        self, data: dict[str, Any], metadata: dict[str, Any], display_id: str
    ) -> None:
        """``display(..., display_id=...)``: shown so that later updates replace it."""
        self.flush()
        publish_display_data(data, metadata, transient={"display_id": display_id})

    def update_display(
        self, data: dict[str, Any], metadata: dict[str, Any], display_id: str | None
    ) -> None:
        self.flush()
        transient = {"display_id": display_id} if display_id else {}
        publish_display_data(data, metadata, transient=transient, update=True)

    def clear_output(self, wait: bool) -> None:
        from IPython.display import clear_output

        self.flush()
        clear_output(wait=wait)

    # -- the session's input() (commands.cells.LiveOutputs) ------------------------------

    def accepts_input(self) -> bool:
        """False in an ipykernel whose front-end said no stdin for this cell (then the
        session's ``input()`` fails at once with the pool's clear error)."""
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        return kernel is None or bool(getattr(kernel, "_allow_stdin", True))

    def ask_input(self, prompt: str, password: bool) -> str:
        """Ask here: the terminal in IPython, the front-end's stdin channel in ipykernel."""
        self.flush()  # the remote text printed before input() shows above the prompt
        if password:
            import getpass

            return getpass.getpass(prompt)
        return input(prompt)


def _command_magic(name: str) -> Any:
    """A line magic for one ``%aca_*`` command; its docstring is the command's help."""

    def magic(self: AcaMagics, line: str = "") -> None:
        self._run_command(name, line)

    magic.__name__ = name
    magic.__qualname__ = f"AcaMagics.{name}"
    magic.__doc__ = COMMANDS[name].help
    return line_magic(name)(magic)


@magics_class
class AcaMagics(Magics, PoolSettings):
    """``%%aca`` / ``%aca`` and the ``%aca_*`` commands, configured as traitlets."""

    progress_threshold = Int(
        DEFAULT_PROGRESS_THRESHOLD,
        help="Transfers of at least this many bytes show a text progress bar (default 8 MiB).",
    ).tag(config=True)

    max_variable_size = Int(
        variables.DEFAULT_MAX_VARIABLE_BYTES,
        help="Largest pickled payload %aca_push / %aca_pull / -o move, in bytes (default 100 MiB). "
        "Larger ones are refused with an error, never cut.",
    ).tag(config=True)

    shell_pool_endpoint = Unicode(
        help="Shell pool (containerType Shell) that %%aca_bash runs in. Empty: an embedded "
        "local pool of bash sessions. Env: ACA_SHELL_POOL_ENDPOINT.",
    ).tag(config=True)

    javascript_pool_endpoint = Unicode(
        help="Node.js pool (containerType NodeLTS) that %%aca_js runs in. Empty: an embedded "
        "local pool of JavaScript (Deno) sessions. Env: ACA_JAVASCRIPT_POOL_ENDPOINT.",
    ).tag(config=True)

    @default("shell_pool_endpoint")
    def _default_shell_endpoint(self) -> str:
        return env_first(("ACA_SHELL_POOL_ENDPOINT",)).rstrip("/")

    @default("javascript_pool_endpoint")
    def _default_javascript_endpoint(self) -> str:
        return env_first(("ACA_JAVASCRIPT_POOL_ENDPOINT",)).rstrip("/")

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.remote = RemoteSession(self)
        #: Sessions of the other session types (%%aca_bash, %%aca_js), made on first use.
        self._others: dict[str, RemoteSession] = {}
        self.commands = AcaCommands(
            self.remote,
            namespace=lambda: self.shell.user_ns if self.shell is not None else None,
            progress_threshold=self.progress_threshold,
            max_variable_size=self.max_variable_size,
        )

    @observe("progress_threshold", "max_variable_size")
    def _limits_changed(self, change: Any) -> None:
        commands = getattr(self, "commands", None)  # None while the config loads
        if commands is not None:
            setattr(commands, change["name"], int(change["new"]))

    @observe(
        "pool_endpoint", "api_version", "auth", "token", "connect_timeout", "execution_timeout"
    )
    def _connection_changed(self, change: Any) -> None:
        """``%config AcaMagics.pool_endpoint = ...`` takes effect on the next call."""
        remote = getattr(self, "remote", None)
        if remote is not None and change["old"] != change["new"]:
            remote.reconfigure()

    # ----------------------------------------------------------------- %%aca
    @magic_arguments()
    @argument(
        "-s", "--session", metavar="ID", help="Run in this session identifier (this cell only)."
    )
    @argument(
        "-t",
        "--timeout",
        type=float,
        metavar="S",
        help="Seconds the cell may run remotely (at most 220; default: execution_timeout).",
    )
    @argument(
        "-q", "--quiet", action="store_true", help="Show no output (errors still show and raise)."
    )
    @argument(
        "-o",
        "--output",
        metavar="NAME",
        help="Store the value of the cell's last expression in the local variable NAME (pickled).",
    )
    @line_cell_magic
    @no_var_expand  # `%aca f"{x}"` is remote code: IPython must not expand {x} / $x locally
    def aca(self, line: str, cell: str | None = None) -> Any:
        """Run code in the remote session (Azure Container Apps dynamic session or local pool).

        ``%%aca [options]`` runs the whole cell remotely: stdout/stderr, plots and
        every display() show here, the last value shows as Out[n], and a remote
        exception shows the remote traceback and fails the cell. On a pool that
        streams, ``input()``/``getpass()`` in the cell ask here (Ctrl-C interrupts).

        ``%aca CODE`` runs one line and returns its value, e.g. ``n = %aca len(df)``:
        rebuilt exactly when its display is a Python literal, else the pool's JSON
        value, else the remote display. Use ``%%aca -o NAME`` for any picklable object.

        See also: %aca_help (every %aca_* command), %aca_config (settings).
        """
        if cell is None:
            return self._guard(lambda: self._run_line_code(line))
        args = parse_argstring(self.aca, line)
        return self._guard(lambda: self._run_cell_code(cell, args))

    def _run_line_code(self, code: str) -> Any:
        if not code.strip():
            raise UsageError(
                "Usage: %aca CODE (one line), or %%aca [options] for a cell; see %aca?"
            )
        result = self._execute(code)
        return line_value(result)

    def _run_cell_code(self, cell: str, args: Any) -> Any:
        if not cell.strip():
            raise UsageError("The %%aca cell is empty.")
        sink = IPythonSink()
        self._execute(
            cell,
            sink=sink,
            session=args.session,
            timeout=args.timeout,
            quiet=args.quiet,
            output_name=args.output,
        )
        if sink.result is None or args.quiet:
            return None
        return RemoteValue(*sink.result)

    def _execute(
        self, code: str, sink: IPythonSink | None = None, **options: Any
    ) -> ExecutionResult:
        sink = sink or IPythonSink()
        result = self.commands.run_cell(code, sink, **options)
        if result.error is not None:
            session = options.get("session") or self.remote.session_id
            raise RemoteExecutionError(
                result.error.ename, result.error.evalue, _error_traceback(result), session
            )
        return result

    # ------------------------------------------------- other session types
    @magic_arguments()
    @argument(
        "-t", "--timeout", type=float, metavar="S", help="Seconds the cell may run (at most 220)."
    )
    @cell_magic
    @no_var_expand
    def aca_bash(self, line: str, cell: str) -> None:
        """Run the cell as a bash command in a shell session (a Shell pool).

        One bash per notebook: ``cd``, exported variables and functions persist
        between cells. stdout/stderr show here; a non-zero exit code fails the cell
        (the error names the code). Pool: ``shell_pool_endpoint`` (empty: a local one).
        """
        args = parse_argstring(self.aca_bash, line)
        self._guard(lambda: self._run_other("shell", cell, args.timeout))

    @magic_arguments()
    @argument(
        "-t", "--timeout", type=float, metavar="S", help="Seconds the cell may run (at most 220)."
    )
    @cell_magic
    @no_var_expand
    def aca_js(self, line: str, cell: str) -> None:
        """Run the cell as JavaScript in a Node.js session (a NodeLTS pool).

        State persists between cells; ``console.log`` shows as output, the last
        expression as the cell's value, a thrown error fails the cell. Pool:
        ``javascript_pool_endpoint`` (empty: a local one running Deno's kernel).
        """
        args = parse_argstring(self.aca_js, line)
        self._guard(lambda: self._run_other("javascript", cell, args.timeout))

    def _other_session(self, kind: str) -> RemoteSession:
        session = self._others.get(kind)
        if session is None:
            endpoint = (
                self.shell_pool_endpoint if kind == "shell" else self.javascript_pool_endpoint
            )
            settings = PoolSettings(
                pool_endpoint=endpoint,
                pool_type=kind,
                api_version=self.api_version,
                auth=self.auth if endpoint else "auto",
                token=self.token if endpoint else "",
                execution_timeout=self.execution_timeout,
                connect_timeout=self.connect_timeout,
            )
            session = self._others[kind] = RemoteSession(settings)
        return session

    def _run_other(self, kind: str, cell: str, timeout: float | None) -> None:
        from remote_kernel.render import render_result

        if not cell.strip():
            raise UsageError("The cell is empty.")
        remote = self._other_session(kind)
        result = remote.execute(cell, timeout=timeout)
        sink = IPythonSink()
        render_result(result, sink)
        sink.flush()
        if result.error is not None:
            raise RemoteExecutionError(
                result.error.ename, result.error.evalue, _error_traceback(result), remote.session_id
            )
        if sink.result is not None:
            publish_display_data(*sink.result)

    # ------------------------------------------------------------- commands
    def _run_command(self, name: str, line: str) -> None:
        self._guard(lambda: self.commands.run_line(f"%{name} {line}", IPythonSink()))
        # %aca_config may have changed the size limits: keep the traits in step.
        self.progress_threshold = self.commands.progress_threshold
        self.max_variable_size = self.commands.max_variable_size

    for _name in COMMANDS:
        locals()[_name] = _command_magic(_name)
    del _name

    # -------------------------------------------------------------- errors
    @staticmethod
    def _guard(action: Any) -> Any:
        """Run ``action``; turn our errors into a one-line UsageError / short traceback."""
        try:
            return action()
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        except RemoteExecutionError:
            raise
        except RemoteKernelError as exc:
            exc._render_traceback_ = lambda e=exc: _short(e)  # type: ignore[attr-defined]
            raise

    def close(self) -> None:
        """Delete the sessions this extension created and stop the embedded pools."""
        self.remote.close()
        for other in self._others.values():
            other.close()


def _error_traceback(result: ExecutionResult) -> list[str]:
    for out in reversed(result.outputs):
        if out.get("output_type") == "error":
            return [str(line) for line in out.get("traceback") or []]
    return list(result.error.traceback) if result.error else []


_loaded: dict[int, AcaMagics] = {}


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext remote_kernel`` (or ``c.InteractiveShellApp.extensions``)."""
    if id(ipython) in _loaded:
        return
    if in_remote_session():  # never a pool inside a session
        sys.stdout.write(ALREADY_REMOTE)
        return
    magics = AcaMagics(shell=ipython)
    ipython.register_magics(magics)
    _loaded[id(ipython)] = magics
    atexit.register(magics.close)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext remote_kernel``: remove the magics, delete our sessions, stop the pool."""
    magics = _loaded.pop(id(ipython), None)
    if magics is None:
        return
    manager = ipython.magics_manager
    for kind, names in magics.magics.items():
        for name in names:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(type(magics).__name__, None)
    atexit.unregister(magics.close)
    magics.close()
