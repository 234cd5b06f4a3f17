"""The ``%aca_*`` commands: one implementation for the IPython magics and the wrapper kernel.

Both front-ends hand a line such as ``%aca_upload data.csv`` to
:meth:`AcaCommands.run_line` together with an :class:`~remote_kernel.render.OutputSink`;
everything the command shows goes through that sink (stream text, and mime
bundles with ``text/plain`` + ``text/html`` for tables), and every failure is
a :class:`~remote_kernel.errors.RemoteKernelError` whose ``str()`` is one line.
Bad input is checked before anything is sent, so a mistake never changes the
session.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import glob
import html
import os
import re
import shlex
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from remote_kernel import variables
from remote_kernel.client.models import ExecutionResult, FileInfo
from remote_kernel.config import KNOWN_API_VERSIONS, MAX_EXECUTION_TIMEOUT
from remote_kernel.errors import (
    ConfigurationError,
    NotFoundError,
    RemoteKernelError,
    TransferError,
)
from remote_kernel.identifiers import validate_identifier
from remote_kernel.render import OutputSink, render_outputs
from remote_kernel.session import LOCAL_POOL_NOTICE, LOST_STATE_NOTICE, RemoteSession
from remote_kernel.transfer_progress import (
    DEFAULT_PROGRESS_THRESHOLD,
    format_size,
    parse_size,
    progress_bar,
)

Namespace = dict[str, Any]

_LINE_RE = re.compile(r"^\s*%(aca_[A-Za-z_]+)(\?{0,2})(?=\s|$)(.*)$", re.DOTALL)
_GLOB_CHARS = re.compile(r"[*?\[]")
_NOTICE_PREFIXES = (LOCAL_POOL_NOTICE[:40], LOST_STATE_NOTICE.split("{", 1)[0])


@dataclass(frozen=True)
class CommandSpec:
    """One ``%aca_*`` command: its usage line and help text (also the magic's docstring)."""

    name: str
    usage: str
    summary: str
    details: str

    @property
    def help(self) -> str:
        return f"{self.summary}\n\nUsage: {self.usage}\n\n{self.details.strip()}\n"


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec(
            "aca_upload",
            "%aca_upload LOCAL [LOCAL ...] [REMOTE]",
            "Upload local files to the remote session's file area (/mnt/data).",
            """
LOCAL is a file or a glob pattern ('data/*.csv'); several may be given.
REMOTE (optional, last) is the name to give a single file in the session, or a
sub-directory ('inputs/'); with several files REMOTE is always a sub-directory.
The last argument counts as REMOTE only when it is not an existing local file.
Several files are uploaded under temporary names and renamed into place at the
end, so a failed upload leaves the session's files as they were. Transfers
above the progress threshold show a text progress bar.

Examples:
  %aca_upload data.csv
  %aca_upload 'results/*.parquet' inputs/
  %aca_upload model.bin weights.bin
""",
        ),
        CommandSpec(
            "aca_download",
            "%aca_download REMOTE [LOCAL]",
            "Download a file (or a glob of files) from the session's file area.",
            """
REMOTE is a file name in /mnt/data, a sub-path ('out/report.html') or a glob
('out/*.png'). LOCAL is the local file or directory (default: the current
directory). The local file is written through a temporary file and renamed
when complete, so a failed download never leaves a partial file.
""",
        ),
        CommandSpec(
            "aca_files",
            "%aca_files [PATH]",
            "List the files in the session's file area (name, size, modified).",
            "PATH is an optional sub-directory of /mnt/data.",
        ),
        CommandSpec(
            "aca_rm",
            "%aca_rm NAME [NAME ...]",
            "Delete files from the session's file area.",
            "NAME is a file name, a sub-path ('out/a.png') or a glob ('*.tmp').",
        ),
        CommandSpec(
            "aca_session",
            "%aca_session [show | new | use ID | list | delete [ID]]",
            "Show or change the remote session cells run in.",
            """
show         the current session (default)
new          switch to a fresh session (the old one keeps running until it expires
             or is deleted; switch back with `use`)
use ID       switch to an existing session identifier
list         the pool's sessions
delete [ID]  delete a session (default: the current one, then switch to a fresh one)
""",
        ),
        CommandSpec(
            "aca_restart",
            "%aca_restart",
            "Start over in a fresh session (like AutoGen's restart()).",
            """
Cells run in a new, empty session from now on. The previous session is deleted
when this front-end created it; a session chosen with `%aca_session use` or
configured explicitly is left alone.
""",
        ),
        CommandSpec(
            "aca_packages",
            "%aca_packages [PATTERN]",
            "List the Python packages installed in the session.",
            "PATTERN filters by name (case-insensitive substring or glob, e.g. 'num*').",
        ),
        CommandSpec(
            "aca_config",
            "%aca_config [KEY=VALUE ...]",
            "Show the settings (never a secret), or change them.",
            """
Keys: pool_endpoint (empty = embedded local pool), api_version, auth
(auto|azure|token|none), session_id, execution_timeout (seconds, <= 220),
connect_timeout, delete_session_on_shutdown (true|false), progress_threshold
(size, e.g. 8MiB), max_variable_size (size, e.g. 100MiB).
The token cannot be set here (it would be saved in the notebook): use the
ACA_POOL_TOKEN environment variable or c.AcaMagics.token.
""",
        ),
        CommandSpec(
            "aca_push",
            "%aca_push NAME [NAME ...]",
            "Send local variables to the remote session (pickled).",
            """
The variables are pickled (protocol 4), uploaded as a temporary file, and
unpickled in the session, all or none. Their types must be importable in the
session (classes defined in the notebook itself are not). Payloads above
max_variable_size (default 100 MiB) are refused with an error; nothing is
ever cut silently.
""",
        ),
        CommandSpec(
            "aca_pull",
            "%aca_pull NAME [NAME ...]",
            "Bring variables from the remote session into the local namespace (pickled).",
            """
The session pickles the variables (protocol 4) into a temporary file, which is
downloaded, unpickled here and deleted. Their types must be importable locally.
Payloads above max_variable_size (default 100 MiB) are refused with an error.
""",
        ),
        CommandSpec(
            "aca_help",
            "%aca_help",
            "List the %aca commands.",
            "Add -h to any command (or ? in IPython) for its own help.",
        ),
    )
}

#: Settings %aca_config can change, with aliases.
CONFIG_KEYS = (
    "pool_endpoint",
    "api_version",
    "auth",
    "session_id",
    "execution_timeout",
    "connect_timeout",
    "delete_session_on_shutdown",
    "progress_threshold",
    "max_variable_size",
)
_CONFIG_ALIASES = {
    "endpoint": "pool_endpoint",
    "session": "session_id",
    "timeout": "execution_timeout",
}
_REBUILD_KEYS = {"pool_endpoint", "api_version", "auth", "connect_timeout", "execution_timeout"}


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as a one-line ConfigurationError instead of exiting."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise ConfigurationError(f"%{self.prog}: {message}. Usage: {self.usage}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:  # type: ignore[override]
        raise ConfigurationError(f"%{self.prog}: {(message or 'invalid arguments').strip()}")


def _parser(name: str) -> _Parser:
    return _Parser(prog=name, usage=COMMANDS[name].usage, add_help=False, allow_abbrev=False)


def parse_line(line: str) -> tuple[str, bool, list[str]]:
    """``"%aca_rm a b"`` -> ``("aca_rm", wants_help, ["a", "b"])``; one-line error if unknown."""
    match = _LINE_RE.match(line)
    if not match:
        raise ConfigurationError(f"Not an %aca command: {line.strip()[:60]!r}.")
    name, question, rest = match.groups()
    if name not in COMMANDS:
        known = ", ".join(f"%{n}" for n in COMMANDS)
        raise ConfigurationError(f"Unknown command %{name}. Known commands: {known}.")
    try:
        args = shlex.split(rest, posix=os.name != "nt")
    except ValueError as exc:
        raise ConfigurationError(f"%{name}: cannot parse the arguments ({exc}).") from None
    if os.name == "nt":  # non-POSIX shlex keeps backslashes, and the quotes too
        args = [a[1:-1] if len(a) > 1 and a[0] == a[-1] and a[0] in "'\"" else a for a in args]
    wants_help = bool(question) or any(a in ("-h", "--help") for a in args)
    return name, wants_help, args


# ------------------------------------------------------------------ rendering
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


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _out(sink: OutputSink, text: str) -> None:
    sink.stream("stdout", text if text.endswith("\n") else text + "\n")


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
    is_image = isinstance(value, dict) and value.get("type") == "image"
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


def is_notice(output: dict[str, Any]) -> bool:
    """A notice RemoteSession put in front of a result (pool in use, state lost)."""
    text = output.get("text", "")
    text = "".join(text) if isinstance(text, list) else str(text)
    return (
        output.get("output_type") == "stream"
        and output.get("name") == "stderr"
        and text.startswith(_NOTICE_PREFIXES)
    )


# ------------------------------------------------------------------- commands
class AcaCommands:
    """The ``%aca_*`` commands over one :class:`RemoteSession`.

    ``namespace`` is the local variable namespace for ``%aca_push``/``%aca_pull``
    (a dict, or a callable returning the current one). Without it (the wrapper
    kernel: every variable already lives in the session) those two commands
    explain why they are not available.
    """

    def __init__(
        self,
        session: RemoteSession,
        *,
        namespace: Namespace | Callable[[], Namespace] | None = None,
        progress_threshold: int = DEFAULT_PROGRESS_THRESHOLD,
        max_variable_size: int = variables.DEFAULT_MAX_VARIABLE_BYTES,
    ) -> None:
        self.session = session
        self._namespace = namespace
        self.progress_threshold = int(progress_threshold)
        self.max_variable_size = int(max_variable_size)
        #: Sessions the user chose (not created here): %aca_restart never deletes them.
        self._adopted: set[str] = set()
        if session.settings.session_id:
            self._adopted.add(session.settings.session_id)

    # ------------------------------------------------------------- dispatch
    @staticmethod
    def command_names() -> list[str]:
        return list(COMMANDS)

    @staticmethod
    def help_text(name: str) -> str:
        return COMMANDS[name].help

    def is_command(self, line: str) -> bool:
        match = _LINE_RE.match(line)
        return bool(match and match.group(1) in COMMANDS)

    def run_line(self, line: str, sink: OutputSink) -> None:
        """Run one ``%aca_*`` line; output through ``sink``; raise a one-line error on failure."""
        name, wants_help, args = parse_line(line)
        if wants_help:
            _out(sink, COMMANDS[name].help)
            return
        handler: Callable[[list[str], OutputSink], None] = getattr(self, "_cmd_" + name[4:])
        try:
            handler(args, sink)
        except RemoteKernelError:
            raise
        except OSError as exc:  # local file system problems
            raise TransferError(
                f"%{name}: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
            ) from None

    @property
    def sid(self) -> str:
        return self.session.session_id

    def emit_notices(self, sink: OutputSink) -> None:
        """Show one-time notices (e.g. the embedded pool just started) before a command's output."""
        for notice in self.session.take_notices():
            sink.stream("stderr", notice)

    def _cmd_help(self, args: list[str], sink: OutputSink) -> None:
        _out(
            sink,
            "%%aca runs a cell remotely, %aca CODE one line (see %aca?).\n" + commands_overview(),
        )

    # ------------------------------------------------------------ cell code
    def run_cell(
        self,
        code: str,
        sink: OutputSink,
        *,
        session: str | None = None,
        timeout: float | None = None,
        quiet: bool = False,
        output_name: str | None = None,
    ) -> ExecutionResult:
        """Run ``code`` remotely and render its outputs; the caller raises on ``result.error``.

        ``quiet`` hides the outputs but never the session notices. ``output_name``
        stores the cell's final expression in the local namespace (pickled).
        """
        if output_name is not None:
            variables.check_names([output_name], "-o")
            self._require_namespace("-o NAME")
            code = variables.last_expression_code(code)
        timeout = _check_timeout(timeout) or self.session.settings.execution_timeout
        with self._in_session(session):
            result = self._execute(code, timeout)
            outputs = [o for o in result.outputs if is_notice(o)] if quiet else result.outputs
            render_outputs(outputs, sink)
            if output_name is not None and result.ok:
                values = self._pull([variables.LAST_VALUE_NAME], sink, "-o", drop=True)
                self._require_namespace("-o NAME")[output_name] = values[variables.LAST_VALUE_NAME]
        return result

    def _execute(self, code: str, timeout: float | None) -> ExecutionResult:
        execution_id = str(uuid.uuid4())
        try:
            return self.session.execute(code, timeout=timeout, execution_id=execution_id)
        except KeyboardInterrupt:
            try:
                self.session.cancel(execution_id)
            except RemoteKernelError:
                pass  # the pool cannot cancel or the run already ended: nothing more to do
            raise

    @contextmanager
    def _in_session(self, session: str | None) -> Iterator[None]:
        if not session:
            yield
            return
        validate_identifier(session)
        previous = self.sid
        self.session.use_session(session)
        try:
            yield
        finally:
            self.session.use_session(previous)

    def _helper(self, code: str, sink: OutputSink, command: str) -> dict[str, Any]:
        """Run one of our remote scripts; show notices, return its JSON report."""
        result = self._execute(code, None)
        render_outputs(
            [
                o
                for o in result.outputs
                if o.get("output_type") == "stream" and o.get("name") == "stderr"
            ],
            sink,
        )
        if result.error is not None:
            raise TransferError(
                f"{command} failed in the session: {result.error.ename}: {result.error.evalue}"
            )
        return variables.parse_report(result.stdout, command)

    # --------------------------------------------------------------- files
    def _cmd_upload(self, args: list[str], sink: OutputSink) -> None:
        parser = _parser("aca_upload")
        parser.add_argument("paths", nargs="+")
        ns = parser.parse_args(args)
        plan = _upload_plan(ns.paths)
        self.emit_notices(sink)
        if len(plan) == 1:
            local, sub, name = plan[0]
            info = self._upload_one(local, sub, name, sink)
            _out(
                sink,
                f"Uploaded {local} -> {info.remote_path} ({format_size(local.stat().st_size)})",
            )
            return
        self._upload_many(plan, sink)

    def _upload_one(self, local: Path, sub: str, name: str, sink: OutputSink) -> FileInfo:
        size = local.stat().st_size
        with progress_bar(
            sink, f"upload {name}", threshold=self.progress_threshold, total=size
        ) as cb:
            return self.session.client.upload_file(
                local, session=self.sid, remote_name=name, path=sub, progress=cb
            )

    def _upload_many(self, plan: list[tuple[Path, str, str]], sink: OutputSink) -> None:
        token = uuid.uuid4().hex[:12]
        moves: list[tuple[str, str, str]] = []
        try:
            for index, (local, sub, name) in enumerate(plan):
                temp = f".aca-upload-{token}-{index}"
                self._upload_one(local, sub, temp, sink)
                moves.append((sub, temp, name))
            self._helper(variables.rename_script(moves), sink, "%aca_upload")
        except BaseException:
            for sub, temp, _ in moves:  # leave the session's files as they were
                try:
                    self.session.client.delete_file(temp, session=self.sid, path=sub)
                except RemoteKernelError:
                    pass
            raise
        total = sum(local.stat().st_size for local, _, _ in plan)
        for local, sub, name in plan:
            _out(sink, f"Uploaded {local} -> {FileInfo(name, path=sub).remote_path}")
        _out(sink, f"{len(plan)} files, {format_size(total)}.")

    def _cmd_download(self, args: list[str], sink: OutputSink) -> None:
        parser = _parser("aca_download")
        parser.add_argument("remote")
        parser.add_argument("local", nargs="?")
        ns = parser.parse_args(args)
        sub, pattern = split_remote(ns.remote)
        if not pattern:
            raise ConfigurationError("%aca_download: name a file, not a directory.")
        self.emit_notices(sink)
        names = (
            self._match_remote(sub, pattern, "%aca_download") if _is_glob(pattern) else [pattern]
        )
        dest = Path(os.path.expanduser(ns.local)) if ns.local else Path.cwd()
        if len(names) > 1 and not dest.is_dir():
            raise ConfigurationError(
                f"%aca_download: {len(names)} files match {ns.remote!r}; LOCAL must be an existing directory."
            )
        for name in names:
            target = dest / name if dest.is_dir() else dest
            if not target.parent.is_dir():
                raise ConfigurationError(
                    f"%aca_download: no local directory {str(target.parent)!r}."
                )
            with progress_bar(sink, f"download {name}", threshold=self.progress_threshold) as cb:
                self.session.client.download_file(
                    name, session=self.sid, destination=target, path=sub, progress=cb
                )
            remote = FileInfo(name, path=sub).remote_path
            _out(sink, f"Downloaded {remote} -> {target} ({format_size(target.stat().st_size)})")

    def _match_remote(self, sub: str, pattern: str, command: str) -> list[str]:
        files = self.session.client.list_files(session=self.sid, path=sub)
        names = sorted(
            f.name for f in files if f.type != "Directory" and fnmatch.fnmatchcase(f.name, pattern)
        )
        if not names:
            where = FileInfo(pattern, path=sub).remote_path
            raise ConfigurationError(
                f"{command}: no remote file matches {where!r} (see %aca_files)."
            )
        return names

    def _cmd_files(self, args: list[str], sink: OutputSink) -> None:
        parser = _parser("aca_files")
        parser.add_argument("path", nargs="?", default="")
        ns = parser.parse_args(args)
        self.emit_notices(sink)
        sub = split_remote(ns.path.rstrip("/") + "/")[0] if ns.path else ""
        files = sorted(
            self.session.client.list_files(session=self.sid, path=sub), key=lambda f: f.name
        )
        files = [f for f in files if not f.name.startswith(".aca-")]
        where = FileInfo("", path=sub).remote_path.rstrip("/")
        if not files:
            _out(sink, f"No files in {where} (session {self.sid}).")
            return
        rows = [
            (
                f.name + ("/" if f.type == "Directory" else ""),
                "" if f.type == "Directory" else format_size(f.size),
                _when(f.last_modified),
            )
            for f in files
        ]
        sink.display(table(("name", "size", "modified (UTC)"), rows), {})

    def _cmd_rm(self, args: list[str], sink: OutputSink) -> None:
        parser = _parser("aca_rm")
        parser.add_argument("names", nargs="+")
        ns = parser.parse_args(args)
        targets: list[tuple[str, str]] = []
        for item in ns.names:
            sub, name = split_remote(item)
            if not name:
                raise ConfigurationError(f"%aca_rm: {item!r} names a directory, not a file.")
            targets.append((sub, name))
        self.emit_notices(sink)
        for sub, name in targets:
            names = self._match_remote(sub, name, "%aca_rm") if _is_glob(name) else [name]
            for one in names:
                remote = FileInfo(one, path=sub).remote_path
                try:
                    self.session.client.delete_file(one, session=self.sid, path=sub)
                except NotFoundError:
                    raise ConfigurationError(
                        f"%aca_rm: no file {remote!r} in the session (see %aca_files)."
                    ) from None
                _out(sink, f"Deleted {remote}")

    # ------------------------------------------------------------ sessions
    def _cmd_session(self, args: list[str], sink: OutputSink) -> None:
        action, rest = (args[0].lower(), args[1:]) if args else ("show", [])
        arity = {"show": (0, 0), "new": (0, 0), "use": (1, 1), "list": (0, 0), "delete": (0, 1)}
        if action not in arity:
            raise ConfigurationError(
                f"%aca_session: unknown action {action!r}. Usage: {COMMANDS['aca_session'].usage}"
            )
        low, high = arity[action]
        if not low <= len(rest) <= high:
            raise ConfigurationError(
                f"%aca_session {action}: wrong number of arguments. "
                f"Usage: {COMMANDS['aca_session'].usage}"
            )
        if rest:
            validate_identifier(rest[0])
        self.emit_notices(sink)
        getattr(self, "_session_" + action)(rest, sink)

    def _session_show(self, rest: list[str], sink: OutputSink) -> None:
        where = "the embedded local pool" if self.session.is_local else self.session.endpoint
        _out(sink, f"Session: {self.sid}\nPool: {where}")
        try:
            info = next(
                (s for s in self.session.client.list_sessions() if s.identifier == self.sid), None
            )
        except RemoteKernelError:
            return  # listing is optional (older API versions, custom pools): the id is enough
        if info is None:
            _out(sink, "State: not started yet (the first cell or upload starts it).")
            return
        details = [
            ("created", info.created_at),
            ("last used", info.last_accessed_at),
            ("expires", info.expire_at),
        ]
        text = ", ".join(f"{label} {_when(at)} UTC" for label, at in details if at is not None)
        _out(sink, f"State: running{(' (' + text + ')') if text else ''}.")

    def _session_new(self, rest: list[str], sink: OutputSink) -> None:
        old = self.sid
        new = self.session.new_session()
        _out(
            sink,
            f"Now using a fresh session: {new}\n(The previous session {old} keeps running "
            f"until it expires; `%aca_session use {old}` goes back, `%aca_session delete {old}` "
            "removes it.)",
        )

    def _session_use(self, rest: list[str], sink: OutputSink) -> None:
        self.session.use_session(rest[0])
        self._adopted.add(rest[0])
        _out(sink, f"Now using session: {rest[0]}")

    def _session_list(self, rest: list[str], sink: OutputSink) -> None:
        sessions = sorted(self.session.client.list_sessions(), key=lambda s: s.identifier)
        if not sessions:
            _out(sink, "The pool has no sessions yet.")
            return
        rows = [
            (
                ("* " if s.identifier == self.sid else "  ") + s.identifier,
                _when(s.created_at),
                _when(s.last_accessed_at),
                _when(s.expire_at),
            )
            for s in sessions
        ]
        sink.display(
            table(("session (* = current)", "created (UTC)", "last used", "expires"), rows), {}
        )

    def _session_delete(self, rest: list[str], sink: OutputSink) -> None:
        target = rest[0] if rest else self.sid
        try:
            self.session.client.delete_session(target)
        except NotFoundError:
            raise ConfigurationError(
                f"%aca_session delete: the pool has no session {target!r}."
            ) from None
        _out(sink, f"Deleted session {target}.")
        if target == self.sid:
            new = self.session.new_session()
            _out(sink, f"Cells now run in a fresh session: {new}")

    def _cmd_restart(self, args: list[str], sink: OutputSink) -> None:
        _parser("aca_restart").parse_args(args)
        self.emit_notices(sink)
        old = self.sid
        deleted = False
        if old not in self._adopted:
            try:
                self.session.client.delete_session(old)
                deleted = True
            except NotFoundError:
                pass  # never started: nothing to delete
        new = self.session.new_session()
        note = "deleted" if deleted else "left running" if old in self._adopted else "never started"
        _out(
            sink,
            f"Restarted: cells now run in a fresh session {new} (previous session {old}: {note}).",
        )

    def _cmd_packages(self, args: list[str], sink: OutputSink) -> None:
        parser = _parser("aca_packages")
        parser.add_argument("pattern", nargs="?")
        ns = parser.parse_args(args)
        self.emit_notices(sink)
        packages = self.session.client.list_packages(session=self.sid)
        if ns.pattern:
            pat = ns.pattern.lower()
            packages = [
                p
                for p in packages
                if (
                    fnmatch.fnmatch(p.name.lower(), pat) if _is_glob(pat) else pat in p.name.lower()
                )
            ]
        if not packages:
            _out(
                sink,
                f"No installed package matches {ns.pattern!r}." if ns.pattern else "No packages.",
            )
            return
        sink.display(table(("package", "version"), [(p.name, p.version) for p in packages]), {})
        _out(
            sink,
            f"{len(packages)} package{'s' if len(packages) != 1 else ''} in session {self.sid}.",
        )

    # -------------------------------------------------------------- config
    def _cmd_config(self, args: list[str], sink: OutputSink) -> None:
        if not args:
            rows = list(self.describe().items())
            sink.display(table(("setting", "value"), rows), {})
            return
        changes = [self._parse_setting(arg) for arg in args]
        rebuild = False
        for key, value in changes:
            self._apply_setting(key, value)
            rebuild = rebuild or key in _REBUILD_KEYS
            shown = value if key != "pool_endpoint" or value else "(embedded local pool)"
            _out(sink, f"{key} = {shown}")
        if rebuild:
            self.session.reconfigure()

    def describe(self) -> dict[str, str]:
        """Everything %aca_config shows: never the token."""
        info = self.session.settings.describe()
        info["session_id"] = self.sid
        if self.session.is_local:
            info["auth"] = "token (generated for the embedded pool)"
        info["progress_threshold"] = format_size(self.progress_threshold)
        info["max_variable_size"] = format_size(self.max_variable_size)
        info["delete_session_on_shutdown"] = str(
            self.session.settings.delete_session_on_shutdown
        ).lower()
        return info

    def _parse_setting(self, arg: str) -> tuple[str, Any]:
        key, eq, raw = arg.partition("=")
        key = _CONFIG_ALIASES.get(key.strip().lower(), key.strip().lower())
        if not eq:
            raise ConfigurationError(f"%aca_config: expected KEY=VALUE, got {arg!r}.")
        if key == "token":
            raise ConfigurationError(
                "%aca_config: the token cannot be set from a cell (it would be saved in the "
                "notebook); set ACA_POOL_TOKEN or c.AcaMagics.token."
            )
        if key not in CONFIG_KEYS:
            raise ConfigurationError(
                f"%aca_config: unknown setting {key!r}. Settings: {', '.join(CONFIG_KEYS)}."
            )
        return key, _convert_setting(key, raw.strip())

    def _apply_setting(self, key: str, value: Any) -> None:
        settings = self.session.settings
        if key in ("progress_threshold", "max_variable_size"):
            setattr(self, key, value)
        elif key == "session_id":
            self.session.use_session(value)
            self._adopted.add(value)
            settings.session_id = value
        else:
            setattr(settings, key, value)

    # ----------------------------------------------------------- variables
    def _require_namespace(self, command: str) -> Namespace:
        ns = self._namespace() if callable(self._namespace) else self._namespace
        if ns is None:
            raise ConfigurationError(
                f"{command} moves variables between a local Python namespace and the session; "
                "in the remote kernel every variable already lives in the session. Use it with "
                "`%load_ext remote_kernel` in a local kernel, or move data with %aca_upload/%aca_download."
            )
        return ns

    def _cmd_push(self, args: list[str], sink: OutputSink) -> None:
        names = variables.check_names(args, "%aca_push")
        namespace = self._require_namespace("%aca_push")
        payload = variables.pickle_variables(namespace, names, self.max_variable_size)
        self.emit_notices(sink)
        file_name = variables.temp_file_name("push")
        client = self.session.client
        with progress_bar(
            sink, "push", threshold=self.progress_threshold, total=len(payload)
        ) as cb:
            client.upload_file(payload, session=self.sid, remote_name=file_name, progress=cb)
        try:
            report = self._helper(variables.push_script(file_name, ""), sink, "%aca_push")
        except BaseException:
            _delete_quietly(self, file_name)
            raise
        failed = report.get("failed") or {}
        if failed:
            name, why = next(iter(failed.items()))
            raise TransferError(
                f"%aca_push: {name!r} cannot be rebuilt in the session ({why}); its type must be "
                "importable there (classes defined in this notebook are not). Nothing was pushed."
            )
        _out(
            sink, f"Pushed {', '.join(names)} to session {self.sid} ({format_size(len(payload))})."
        )

    def _cmd_pull(self, args: list[str], sink: OutputSink) -> None:
        names = variables.check_names(args, "%aca_pull")
        namespace = self._require_namespace("%aca_pull")
        self.emit_notices(sink)
        values = self._pull(names, sink, "%aca_pull")
        namespace.update(values)
        _out(sink, f"Pulled {', '.join(names)} from session {self.sid}.")

    def _pull(
        self, names: list[str], sink: OutputSink, command: str, drop: bool = False
    ) -> dict[str, Any]:
        file_name = variables.temp_file_name("pull")
        client = self.session.client
        client.upload_file(b"", session=self.sid, remote_name=file_name)  # where to write
        try:
            script = variables.pull_script(names, file_name, "", self.max_variable_size, drop)
            report = self._helper(script, sink, command)
            _check_pull_report(report, command, self.max_variable_size)
            with progress_bar(
                sink, "pull", threshold=self.progress_threshold, total=report["size"]
            ) as cb:
                data = client.download_file(file_name, session=self.sid, progress=cb)
        finally:
            _delete_quietly(self, file_name)
        return variables.unpickle_variables(data or b"", names)


def _delete_quietly(cmds: AcaCommands, name: str, sub: str = "") -> None:
    try:
        cmds.session.client.delete_file(name, session=cmds.sid, path=sub)
    except RemoteKernelError:
        pass  # already gone (the remote script removed it) or the pool is unreachable


def _check_pull_report(report: dict[str, Any], command: str, limit: int) -> None:
    missing = report.get("missing") or []
    if missing:
        if command == "-o":
            raise TransferError("-o: the cell's value was not kept in the session.")
        raise ConfigurationError(f"{command}: no variable named {missing[0]!r} in the session.")
    failed = report.get("failed") or {}
    if failed:
        name, (kind, why) = next(iter(failed.items()))
        what = "the cell's value" if command == "-o" else repr(name)
        raise ConfigurationError(
            f"{command}: {what} cannot be sent: objects of type {kind} cannot be pickled ({why})."
        )
    if not report.get("written"):
        sizes = report.get("sizes") or {}
        biggest = max(sizes, key=sizes.get) if sizes else None
        what = (
            "the cell's value"
            if command == "-o"
            else (repr(biggest) if len(sizes) == 1 else "the set of variables")
        )
        raise variables.limit_error(command, what, int(report.get("size") or 0), limit)


# ------------------------------------------------------------ path helpers
def _is_glob(text: str) -> bool:
    return bool(_GLOB_CHARS.search(text))


def split_remote(remote: str) -> tuple[str, str]:
    """``"/mnt/data/out/a.png"`` -> ``("out", "a.png")``; a trailing ``/`` means a directory."""
    text = remote.strip().replace("\\", "/")
    if text.startswith("/mnt/data"):
        text = text[len("/mnt/data") :]
    text = text.lstrip("/")
    sub, _, name = text.rpartition("/")
    parts = [p for p in sub.split("/") if p]
    if any(p in (".", "..") for p in parts) or name in (".", ".."):
        raise ConfigurationError(
            f"Invalid remote path {remote!r}: use a path inside /mnt/data without '..'."
        )
    return "/".join(parts), name


def _expand_local(patterns: list[str]) -> list[Path]:
    files: list[Path] = []
    for pattern in patterns:
        expanded = os.path.expanduser(pattern)
        if _is_glob(expanded):
            matches = [Path(p) for p in sorted(glob.glob(expanded)) if os.path.isfile(p)]
            if not matches:
                raise ConfigurationError(f"%aca_upload: no local file matches {pattern!r}.")
        else:
            path = Path(expanded)
            if path.is_dir():
                raise ConfigurationError(
                    f"%aca_upload: {pattern!r} is a directory; upload its files with a glob, "
                    f"e.g. %aca_upload '{pattern.rstrip('/')}/*'."
                )
            if not path.is_file():
                raise ConfigurationError(f"%aca_upload: no such local file {pattern!r}.")
            matches = [path]
        files += [m for m in matches if m not in files]
    return files


def _upload_plan(args: list[str]) -> list[tuple[Path, str, str]]:
    """(local file, remote sub-directory, remote name) for each file to upload."""
    remote: str | None = None
    if (
        len(args) >= 2
        and not _is_glob(args[-1])
        and not os.path.exists(os.path.expanduser(args[-1]))
    ):
        remote, args = args[-1], args[:-1]
    files = _expand_local(args)
    sub, name = ("", "") if remote is None else split_remote(remote)
    if remote is not None and len(files) > 1 and name:
        sub, name = "/".join(p for p in (sub, name) if p), ""
    plan = [(f, sub, name or f.name) for f in files]
    seen: dict[tuple[str, str], Path] = {}
    for local, s, n in plan:
        if (s, n) in seen:
            raise ConfigurationError(
                f"%aca_upload: {str(seen[(s, n)])!r} and {str(local)!r} would both become "
                f"{FileInfo(n, path=s).remote_path!r}."
            )
        seen[(s, n)] = local
    return plan


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if not timeout > 0 or timeout > MAX_EXECUTION_TIMEOUT:
        raise ConfigurationError(
            f"--timeout must be between 0 and {MAX_EXECUTION_TIMEOUT:g} seconds, got {timeout:g}."
        )
    return float(timeout)


def _convert_setting(key: str, raw: str) -> Any:
    if key in ("progress_threshold", "max_variable_size"):
        return parse_size(raw)
    if key in ("execution_timeout", "connect_timeout"):
        try:
            value = float(raw)
        except ValueError:
            raise ConfigurationError(
                f"%aca_config: {key} must be a number of seconds, got {raw!r}."
            ) from None
        if key == "execution_timeout":
            return _check_timeout(value)
        if not value > 0:
            raise ConfigurationError(f"%aca_config: {key} must be positive, got {raw!r}.")
        return value
    if key == "delete_session_on_shutdown":
        lowered = raw.lower()
        if lowered not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            raise ConfigurationError(f"%aca_config: {key} must be true or false, got {raw!r}.")
        return lowered in ("true", "yes", "1", "on")
    if key == "pool_endpoint":
        value = raw.rstrip("/")
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ConfigurationError(
                f"%aca_config: pool_endpoint must be an http(s) URL (or empty for the local pool), got {raw!r}."
            )
        return value
    if key == "api_version":
        if raw not in KNOWN_API_VERSIONS:
            raise ConfigurationError(
                f"%aca_config: unknown api_version {raw!r}; known: {', '.join(sorted(KNOWN_API_VERSIONS))}."
            )
        return raw
    if key == "auth":
        if raw.lower() not in ("auto", "azure", "token", "none"):
            raise ConfigurationError(
                f"%aca_config: auth must be auto, azure, token or none, got {raw!r}."
            )
        return raw.lower()
    if key == "session_id":
        return validate_identifier(raw)
    raise ConfigurationError(f"%aca_config: unknown setting {key!r}.")  # pragma: no cover


def commands_overview() -> str:
    lines = [f"  {s.usage}\n      {s.summary}" for s in COMMANDS.values()]
    return "Commands (add -h to any for its help):\n" + "\n".join(lines) + "\n"
