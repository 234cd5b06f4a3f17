"""What a pool of each session type accepts and answers (Azure's ``containerType``).

A pool runs one type: ``python`` (``PythonLTS``), ``javascript`` (``NodeLTS``) or
``shell`` (``Shell``). Each type takes its own request field and refuses the
others' with a clear 400, as Azure's pools do: ``code`` for the interpreters,
``shellCommand`` for a shell.

A shell pool's finished ``/executions`` answer carries the exit code twice, so
both readings in use today get it (see ``docs/protocol-extensions.md``,
"Shell pools"): the top-level ``status`` is the exit code as a string (what
LangChain's ``SessionsBashTool`` and ``SessionsBashBackend`` parse with
``int(status)``), and ``result.exitCode`` is the same code as an int (Azure-Samples'
shell container specification). ``result.stdout`` / ``result.stderr`` are the
command's own streams.
"""

from __future__ import annotations

from typing import Any

from remote_kernel.server.api_errors import ApiError
from remote_kernel.server.outputs import RunOutcome
from remote_kernel.server.runtimes.shell import exit_code
from remote_kernel.wire import CANCEL_FEATURE, STDIN_FEATURE, STREAM_FEATURE, strip_ansi

PYTHON = "python"
JAVASCRIPT = "javascript"
SHELL = "shell"
SESSION_TYPES = (PYTHON, JAVASCRIPT, SHELL)
#: Azure's ``containerType`` of each (what ``az containerapp sessionpool create`` takes).
CONTAINER_TYPES = {PYTHON: "PythonLTS", JAVASCRIPT: "NodeLTS", SHELL: "Shell"}
_LANGUAGE = {PYTHON: "Python", JAVASCRIPT: "JavaScript"}
#: The body field holding the source, per type.
SOURCE_FIELD = {PYTHON: "code", JAVASCRIPT: "code", SHELL: "shellCommand"}
EXIT_CODE = "exitCode"
#: What ``x-remote-kernel-features`` names, per type: a shell command's stdin is
#: ``/dev/null`` (as in Azure's Shell pools), so a shell pool takes no input.
FEATURES = {
    PYTHON: (STREAM_FEATURE, STDIN_FEATURE, CANCEL_FEATURE),
    JAVASCRIPT: (STREAM_FEATURE, STDIN_FEATURE, CANCEL_FEATURE),
    SHELL: (STREAM_FEATURE, CANCEL_FEATURE),
}


def source(session_type: str, body: dict[str, Any]) -> str:
    """The code or command to run, or a 400 saying which field this pool takes."""
    if session_type == SHELL:
        if "code" in body and "shellCommand" not in body:
            raise ApiError(
                400,
                "CodeNotSupported",
                "This is a shell pool: send the command as 'shellCommand', not 'code'.",
            )
        command = body.get("shellCommand")
        if not isinstance(command, str):
            raise ApiError(
                400,
                "InvalidRequestBody",
                "The body needs 'shellCommand': the shell command to run, as a string.",
            )
        return command
    language = _LANGUAGE[session_type]
    if "shellCommand" in body and "code" not in body:
        raise ApiError(
            400,
            "ShellNotSupported",
            f"This pool runs {language} code ('code'), not shell commands ('shellCommand').",
        )
    code = body.get("code")
    if not isinstance(code, str):
        raise ApiError(
            400,
            "InvalidRequestBody",
            f"The body needs 'code': the {language} source to run, as a string.",
        )
    return code


def shell_answer(body: dict[str, Any], outcome: RunOutcome | None) -> dict[str, Any]:
    """A finished generation-2 answer as a shell pool gives it (the exit code in it)."""
    if outcome is None or body.get("result") is None:
        return body
    code = exit_code(outcome)
    body["status"] = str(code)
    result = body["result"]
    result["stderr"] = strip_ansi(outcome.stderr)
    result[EXIT_CODE] = code
    return body
