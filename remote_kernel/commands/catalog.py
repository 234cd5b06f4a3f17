"""The command catalogue: every ``%aca_*`` command's name, usage line and help text.

One table read by the parser (usage in error messages), by ``-h``/``?`` and
``%aca_help``, and by the magics (each magic's docstring), so a command is
described in one place only.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def commands_overview() -> str:
    lines = [f"  {s.usage}\n      {s.summary}" for s in COMMANDS.values()]
    return "Commands (add -h to any for its help):\n" + "\n".join(lines) + "\n"
