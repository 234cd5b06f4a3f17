"""``%aca_upload``, ``%aca_download``, ``%aca_files`` and ``%aca_rm``: the session's /mnt/data.

Local paths and globs are checked and planned before anything is sent;
transfers above the progress threshold show a progress bar.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import uuid
from pathlib import Path

from remote_kernel import variables
from remote_kernel.client.models import FileInfo
from remote_kernel.commands.base import CommandsBase
from remote_kernel.commands.output import table, utc_time, write_line
from remote_kernel.commands.parsing import is_glob, parse_args
from remote_kernel.errors import ConfigurationError, NotFoundError
from remote_kernel.render import OutputSink
from remote_kernel.transfer_progress import format_size, progress_bar


class FileCommands(CommandsBase):
    """The file commands."""

    def _cmd_upload(self, args: list[str], sink: OutputSink) -> None:
        ns = parse_args("aca_upload", args, paths="+")
        plan = _upload_plan(ns.paths)
        self.emit_notices(sink)
        if len(plan) == 1:
            local, sub, name = plan[0]
            info = self._upload_one(local, sub, name, sink)
            write_line(
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
                self._delete_quietly(temp, sub)
            raise
        total = sum(local.stat().st_size for local, _, _ in plan)
        for local, sub, name in plan:
            write_line(sink, f"Uploaded {local} -> {FileInfo(name, path=sub).remote_path}")
        write_line(sink, f"{len(plan)} files, {format_size(total)}.")

    def _cmd_download(self, args: list[str], sink: OutputSink) -> None:
        ns = parse_args("aca_download", args, remote=None, local="?")
        sub, pattern = split_remote(ns.remote)
        if not pattern:
            raise ConfigurationError("%aca_download: name a file, not a directory.")
        self.emit_notices(sink)
        names = self._remote_names(sub, pattern, "%aca_download")
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
            write_line(
                sink, f"Downloaded {remote} -> {target} ({format_size(target.stat().st_size)})"
            )

    def _remote_names(self, sub: str, pattern: str, command: str) -> list[str]:
        """The file names ``pattern`` stands for: itself, or the files its glob matches."""
        if not is_glob(pattern):
            return [pattern]
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
        ns = parse_args("aca_files", args, path="?")
        self.emit_notices(sink)
        sub = split_remote(ns.path.rstrip("/") + "/")[0] if ns.path else ""
        files = sorted(
            self.session.client.list_files(session=self.sid, path=sub), key=lambda f: f.name
        )
        files = [f for f in files if not f.name.startswith(".aca-")]
        where = FileInfo("", path=sub).remote_path.rstrip("/")
        if not files:
            write_line(sink, f"No files in {where} (session {self.sid}).")
            return
        rows = [
            (
                f.name + ("/" if f.type == "Directory" else ""),
                "" if f.type == "Directory" else format_size(f.size),
                utc_time(f.last_modified),
            )
            for f in files
        ]
        sink.display(table(("name", "size", "modified (UTC)"), rows), {})

    def _cmd_rm(self, args: list[str], sink: OutputSink) -> None:
        ns = parse_args("aca_rm", args, names="+")
        targets: list[tuple[str, str]] = []
        for item in ns.names:
            sub, name = split_remote(item)
            if not name:
                raise ConfigurationError(f"%aca_rm: {item!r} names a directory, not a file.")
            targets.append((sub, name))
        self.emit_notices(sink)
        for sub, name in targets:
            for one in self._remote_names(sub, name, "%aca_rm"):
                remote = FileInfo(one, path=sub).remote_path
                try:
                    self.session.client.delete_file(one, session=self.sid, path=sub)
                except NotFoundError:
                    raise ConfigurationError(
                        f"%aca_rm: no file {remote!r} in the session (see %aca_files)."
                    ) from None
                write_line(sink, f"Deleted {remote}")


# ------------------------------------------------------------ path helpers
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
        if is_glob(expanded):
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
        and not is_glob(args[-1])
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
