"""The MCP tools, run in the local pool's sessions: one environment is one session.

``launchShell`` hands out a fresh session identifier and remembers it; the session
itself starts on the first command, as Azure allocates it lazily. Azure offers all
three tools whatever the pool's container type, and one environment is one
container: files written by a shell command are there for Python and back. Here a
tool the pool's own sessions run goes through the pool like any REST execution
(:meth:`SessionPool.submit`); the other runs in a runtime of its kind beside the
session, in the same file area (:meth:`SessionPool.run_beside`): a bash next to a
Python pool's kernel, an IPython kernel next to a shell pool's bash. Both keep their
state between calls. A sandboxed (Pyodide) pool starts no local processes, so its
environments run no shell commands.
"""

from __future__ import annotations

import logging
import shlex
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from remote_kernel.config import MAX_EXECUTION_TIMEOUT
from remote_kernel.errors import ConfigurationError
from remote_kernel.identifiers import new_identifier
from remote_kernel.server import mcp_protocol as proto
from remote_kernel.server import session_types
from remote_kernel.server.api_errors import ApiError
from remote_kernel.server.outputs import RunOutcome
from remote_kernel.server.pool import DEFAULT_MAX_OUTPUT_CHARS, SessionPool
from remote_kernel.server.runtimes import RuntimeEntry, RuntimeFactory, runtime_factory
from remote_kernel.server.runtimes.shell import exit_code
from remote_kernel.server.shapes import error_text, result_value
from remote_kernel.wire import strip_ansi

log = logging.getLogger(__name__)

#: Environments remembered (oldest forgotten first); each costs a few bytes until used.
MAX_ENVIRONMENTS = 10_000
#: A shell command is interrupted after this many seconds (its shell and state stay).
SHELL_TIMEOUT = MAX_EXECUTION_TIMEOUT - 20
#: Characters kept per stream of a tool's run (the REST API's default).
MAX_CHARS = DEFAULT_MAX_OUTPUT_CHARS
#: A tool the pool's own sessions run (see :class:`ToolRuntimes`).
IN_SESSION = ""
NO_SHELL = (
    "This pool is sandboxed (Pyodide): its environments run Python only, no shell commands. "
    "Serve a pool without --runtime pyodide for runShellCommandInRemoteEnvironment."
)


@dataclass(frozen=True)
class ToolRuntimes:
    """Where each tool runs: :data:`IN_SESSION` (the pool's own sessions), the name of
    a runtime started beside the session, or ``None`` (refused)."""

    python: str = IN_SESSION
    shell: str | None = "shell"
    #: As the pool's sessions: a private ``/mnt/data`` for the runtimes beside them too.
    mnt_data: bool = True


def tool_runtimes(entry: RuntimeEntry, *, mnt_data: bool = True) -> ToolRuntimes:
    """The tools' runtimes for a pool whose sessions run ``entry``."""
    if entry.session_type == session_types.SHELL:
        return ToolRuntimes(python="python", shell=IN_SESSION, mnt_data=mnt_data)
    python = IN_SESSION if entry.session_type == session_types.PYTHON else "python"
    return ToolRuntimes(python, None if entry.sandboxed else "shell", mnt_data)


def shell_source(call: proto.ToolCall) -> str:
    """The bash source of a shell tool call. ``execCommandAndArgs`` runs its program
    with exactly those arguments (quoted, and past any shell function of that name)."""
    if call.exec_args is not None:
        return "command -- " + shlex.join(call.exec_args)
    assert call.shell_command is not None
    return call.shell_command


def shell_answer(outcome: RunOutcome, timeout: float) -> dict[str, Any]:
    """``{stdout, stderr, exitCode, timedOut}`` of a finished shell command."""
    streams = {"stdout": "", "stderr": ""}
    for out in outcome.outputs:  # the streams with the runtime's truncation notices
        if out.get("output_type") == "stream" and out.get("name") in streams:
            streams[out["name"]] += out.get("text", "")
    if outcome.timed_out:
        streams["stderr"] += f"\nThe command was stopped after {timeout:g} s.\n"
    return {**streams, "exitCode": exit_code(outcome), "timedOut": outcome.timed_out}


class Environments:
    """The environments handed out by ``launchShell`` and the tools that run in them."""

    def __init__(
        self,
        pool: SessionPool,
        runtimes: ToolRuntimes | None = None,
        *,
        shell_timeout: float = SHELL_TIMEOUT,
    ) -> None:
        self.pool = pool
        self.runtimes = runtimes or ToolRuntimes()
        self.shell_timeout = shell_timeout
        self._issued: OrderedDict[str, None] = OrderedDict()
        self._factories: dict[str, RuntimeFactory] = {}

    async def call(self, call: proto.ToolCall) -> dict[str, Any]:
        """The ``tools/call`` result; failures of the command or the session are tool errors."""
        if call.name == proto.LAUNCH_SHELL:
            return self.launch()
        assert call.environment_id is not None
        if call.environment_id not in self._issued:
            return proto.tool_failure(
                f"Unknown environmentId {call.environment_id!r}: call launchShell first and "
                "use the environmentId it returns."
            )
        self._issued.move_to_end(call.environment_id)
        try:
            if call.name == proto.RUN_PYTHON:
                return await self._python(call.environment_id, call)
            return await self._shell(call.environment_id, call)
        except ApiError as exc:  # the session could not start, the pool is full...
            return proto.tool_failure(exc.message)

    def launch(self) -> dict[str, Any]:
        environment_id = new_identifier("mcp")
        self._issued[environment_id] = None
        while len(self._issued) > MAX_ENVIRONMENTS:
            self._issued.popitem(last=False)
        return proto.tool_result({"environmentId": environment_id}, is_error=False)

    async def _python(self, environment_id: str, call: proto.ToolCall) -> dict[str, Any]:
        assert call.python_code is not None
        outcome = await self._run(
            environment_id, self.runtimes.python, call.python_code, MAX_EXECUTION_TIMEOUT
        )
        structured = {
            "environmentId": environment_id,
            "stdout": strip_ansi(outcome.stdout),
            "stderr": error_text(outcome),
            "result": result_value(outcome.outputs),
        }
        failed = bool(outcome.error or outcome.timed_out or outcome.cancelled)
        return proto.tool_result(structured, is_error=failed)

    async def _shell(self, environment_id: str, call: proto.ToolCall) -> dict[str, Any]:
        if self.runtimes.shell is None:
            return proto.tool_failure(NO_SHELL)
        outcome = await self._run(
            environment_id, self.runtimes.shell, shell_source(call), self.shell_timeout
        )
        answer = shell_answer(outcome, self.shell_timeout)
        structured = {"environmentId": environment_id, **answer}
        return proto.tool_result(structured, is_error=answer["exitCode"] != 0)

    async def _run(self, environment_id: str, where: str, code: str, timeout: float) -> RunOutcome:
        """Run ``code`` in the environment's session (created if needed), or beside it
        in the runtime called ``where``, and wait for it."""
        if where == IN_SESSION:
            execution = await self.pool.submit(
                environment_id, code, timeout=timeout, max_output_chars=MAX_CHARS
            )
            await execution.done.wait()
            assert execution.outcome is not None
            return execution.outcome
        return await self.pool.run_beside(
            environment_id,
            where,
            self._factory(where),
            code,
            timeout=timeout,
            max_output_chars=MAX_CHARS,
        )

    def _factory(self, name: str) -> RuntimeFactory:
        factory = self._factories.get(name)
        if factory is None:
            try:
                factory = runtime_factory(name, mnt_data=self.runtimes.mnt_data)
            except ConfigurationError as exc:  # no bash on this machine, say
                raise ApiError(500, "RuntimeUnavailable", str(exc)) from exc
            self._factories[name] = factory
        return factory
