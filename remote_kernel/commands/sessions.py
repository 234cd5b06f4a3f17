"""``%aca_session``, ``%aca_restart`` and ``%aca_packages``: which session cells run in, and what it has."""

from __future__ import annotations

import fnmatch

from remote_kernel.commands.base import CommandsBase
from remote_kernel.commands.output import table, utc_time, write_line
from remote_kernel.commands.parsing import is_glob, parse_args, usage_error
from remote_kernel.errors import ConfigurationError, NotFoundError, RemoteKernelError
from remote_kernel.identifiers import validate_identifier
from remote_kernel.render import OutputSink

#: %aca_session's actions, with how many arguments each takes (at least, at most).
_ACTIONS = {"show": (0, 0), "new": (0, 0), "use": (1, 1), "list": (0, 0), "delete": (0, 1)}


class SessionCommands(CommandsBase):
    """The session commands."""

    def _cmd_session(self, args: list[str], sink: OutputSink) -> None:
        action, rest = (args[0].lower(), args[1:]) if args else ("show", [])
        if action not in _ACTIONS:
            raise usage_error("aca_session", f"unknown action {action!r}")
        low, high = _ACTIONS[action]
        if not low <= len(rest) <= high:
            raise usage_error("aca_session", "wrong number of arguments", action)
        if rest:
            validate_identifier(rest[0])
        self.emit_notices(sink)
        getattr(self, "_session_" + action)(rest, sink)

    def _session_show(self, rest: list[str], sink: OutputSink) -> None:
        where = "the embedded local pool" if self.session.is_local else self.session.endpoint
        write_line(sink, f"Session: {self.sid}\nPool: {where}")
        try:
            info = next(
                (s for s in self.session.client.list_sessions() if s.identifier == self.sid), None
            )
        except RemoteKernelError:
            return  # listing is optional (older API versions, custom pools): the id is enough
        if info is None:
            write_line(sink, "State: not started yet (the first cell or upload starts it).")
            return
        details = [
            ("created", info.created_at),
            ("last used", info.last_accessed_at),
            ("expires", info.expire_at),
        ]
        text = ", ".join(f"{label} {utc_time(at)} UTC" for label, at in details if at is not None)
        write_line(sink, f"State: running{(' (' + text + ')') if text else ''}.")

    def _session_new(self, rest: list[str], sink: OutputSink) -> None:
        old = self.sid
        new = self.session.new_session()
        write_line(
            sink,
            f"Now using a fresh session: {new}\n(The previous session {old} keeps running "
            f"until it expires; `%aca_session use {old}` goes back, `%aca_session delete {old}` "
            "removes it.)",
        )

    def _session_use(self, rest: list[str], sink: OutputSink) -> None:
        self.session.use_session(rest[0])
        self._adopted.add(rest[0])
        write_line(sink, f"Now using session: {rest[0]}")

    def _session_list(self, rest: list[str], sink: OutputSink) -> None:
        sessions = sorted(self.session.client.list_sessions(), key=lambda s: s.identifier)
        rows = [
            (
                ("* " if s.identifier == self.sid else "  ") + s.identifier,
                utc_time(s.created_at),
                utc_time(s.last_accessed_at),
                utc_time(s.expire_at),
            )
            for s in sessions
        ]
        if all(s.identifier != self.sid for s in sessions):
            # The current session exists on the pool only from its first call on.
            rows.append((f"* {self.sid}", "not started yet", "", ""))
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
        write_line(sink, f"Deleted session {target}.")
        if target == self.sid:
            new = self.session.new_session()
            write_line(sink, f"Cells now run in a fresh session: {new}")

    def _cmd_restart(self, args: list[str], sink: OutputSink) -> None:
        parse_args("aca_restart", args)
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
        write_line(
            sink,
            f"Restarted: cells now run in a fresh session {new} (previous session {old}: {note}).",
        )

    def _cmd_packages(self, args: list[str], sink: OutputSink) -> None:
        ns = parse_args("aca_packages", args, pattern="?")
        self.emit_notices(sink)
        packages = self.session.client.list_packages(session=self.sid)
        if ns.pattern:
            pat = ns.pattern.lower()
            packages = [
                p
                for p in packages
                if (fnmatch.fnmatch(p.name.lower(), pat) if is_glob(pat) else pat in p.name.lower())
            ]
        if not packages:
            write_line(
                sink,
                f"No installed package matches {ns.pattern!r}." if ns.pattern else "No packages.",
            )
            return
        sink.display(table(("package", "version"), [(p.name, p.version) for p in packages]), {})
        write_line(
            sink,
            f"{len(packages)} package{'s' if len(packages) != 1 else ''} in session {self.sid}.",
        )
