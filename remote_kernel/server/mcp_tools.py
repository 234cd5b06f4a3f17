"""The MCP tools, run in the local pool's sessions: one environment is one session.

``launchShell`` hands out a fresh session identifier and remembers it; the session
itself starts on the first command, as Azure allocates it lazily. Python code runs
like any execution of the REST API (:meth:`SessionPool.submit`). Shell commands run
through the same session's Python interpreter, which starts them with
:mod:`subprocess` in its working directory (``/mnt/data``): the pool has no shell
runtime yet. :func:`shell_program` is the one place that knows this, so a real
shell runtime can take its place without touching the protocol or the transport.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any

from remote_kernel.config import MAX_EXECUTION_TIMEOUT
from remote_kernel.identifiers import new_identifier
from remote_kernel.server import mcp_protocol as proto
from remote_kernel.server.pool import DEFAULT_MAX_OUTPUT_CHARS, Execution, SessionPool
from remote_kernel.server.shapes import ApiError, error_text, result_value
from remote_kernel.wire import strip_ansi

log = logging.getLogger(__name__)

#: Environments remembered (oldest forgotten first); each costs a few bytes until used.
MAX_ENVIRONMENTS = 10_000
#: A shell command is stopped (its whole process group) after this many seconds.
SHELL_TIMEOUT = MAX_EXECUTION_TIMEOUT - 20
#: Characters kept per stream of a shell command.
SHELL_MAX_CHARS = DEFAULT_MAX_OUTPUT_CHARS
_MARK = "@@remote-kernel-mcp-shell-result@@"

#: Runs in the session's interpreter, in a namespace of its own (the user's variables
#: stay untouched). A new process group, so a timeout also stops what the command started.
_SHELL_RUNNER = r"""
import json, os, signal, subprocess

def _main(spec):
    argv = spec["argv"]
    try:
        proc = subprocess.Popen(
            argv if argv is not None else spec["command"], shell=argv is None,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        code = 126 if isinstance(exc, PermissionError) else 127
        return {"stdout": "", "stderr": f"{exc}\n", "exitCode": code, "timedOut": False}
    timed_out = False
    try:
        out, err = proc.communicate(timeout=spec["timeout"])
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = proc.communicate()
        err += f"\nThe command was stopped after {spec['timeout']:g} s.\n".encode()

    def cut(data):
        text = data.decode("utf-8", "replace")
        if len(text) <= spec["limit"]:
            return text
        return text[: spec["limit"]] + f"\n[output truncated at {spec['limit']} characters]\n"

    code = 124 if timed_out else proc.returncode
    return {"stdout": cut(out), "stderr": cut(err), "exitCode": code, "timedOut": timed_out}

print(MARK + json.dumps(_main(json.loads(SPEC)), ensure_ascii=False))
"""


def shell_program(call: proto.ToolCall, *, timeout: float = SHELL_TIMEOUT) -> str:
    """Python source that runs the shell command of ``call`` and prints its result line."""
    spec = json.dumps(
        {
            "argv": list(call.exec_args) if call.exec_args is not None else None,
            "command": call.shell_command,
            "timeout": timeout,
            "limit": SHELL_MAX_CHARS,
        }
    )
    scope = {"SPEC": spec, "MARK": _MARK, "__name__": "__mcp_shell__"}
    return (
        f"__import__('builtins').exec(__import__('builtins').compile("
        f"{_SHELL_RUNNER!r}, '<mcp shell command>', 'exec'), {scope!r})"
    )


def shell_result(stdout: str) -> dict[str, Any] | None:
    """The command's ``{stdout, stderr, exitCode, timedOut}`` from the runner's output,
    or None if the runner printed no result line."""
    # split("\n"), not splitlines(): the output may hold \x1c-\x1e or \u2028 inside a line.
    lines = [line for line in stdout.split("\n") if line.startswith(_MARK)]
    if not lines:
        return None
    try:
        result = json.loads(lines[-1][len(_MARK) :])
    except ValueError:
        return None
    return result if isinstance(result, dict) else None


class Environments:
    """The environments handed out by ``launchShell`` and the tools that run in them."""

    def __init__(self, pool: SessionPool) -> None:
        self.pool = pool
        self._issued: OrderedDict[str, None] = OrderedDict()

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
        if call.name == proto.RUN_PYTHON:
            assert call.python_code is not None
            return await self._python(call.environment_id, call.python_code)
        return await self._shell(call)

    def launch(self) -> dict[str, Any]:
        environment_id = new_identifier("mcp")
        self._issued[environment_id] = None
        while len(self._issued) > MAX_ENVIRONMENTS:
            self._issued.popitem(last=False)
        return proto.tool_result({"environmentId": environment_id}, is_error=False)

    async def _run(self, environment_id: str, code: str, max_chars: int) -> Execution:
        """Run ``code`` in the environment's session (created if needed) and wait for it.

        Only the pool's public interface: whatever runtime the session has runs it.
        """
        execution = await self.pool.submit(
            environment_id, code, timeout=MAX_EXECUTION_TIMEOUT, max_output_chars=max_chars
        )
        await execution.done.wait()
        assert execution.outcome is not None
        return execution

    async def _python(self, environment_id: str, code: str) -> dict[str, Any]:
        try:
            execution = await self._run(environment_id, code, DEFAULT_MAX_OUTPUT_CHARS)
        except ApiError as exc:
            return proto.tool_failure(exc.message)
        outcome = execution.outcome
        assert outcome is not None
        structured = {
            "environmentId": environment_id,
            "stdout": strip_ansi(outcome.stdout),
            "stderr": error_text(outcome),
            "result": result_value(outcome.outputs),
        }
        failed = bool(outcome.error or outcome.timed_out or outcome.cancelled)
        return proto.tool_result(structured, is_error=failed)

    async def _shell(self, call: proto.ToolCall) -> dict[str, Any]:
        assert call.environment_id is not None
        # The result line carries both streams JSON-escaped: room for the worst case.
        try:
            execution = await self._run(
                call.environment_id, shell_program(call), 16 * SHELL_MAX_CHARS
            )
        except ApiError as exc:
            return proto.tool_failure(exc.message)
        outcome = execution.outcome
        assert outcome is not None
        result = None if outcome.error else shell_result(outcome.stdout)
        if result is None:
            detail = error_text(outcome).strip() or "no result"
            return proto.tool_failure(f"The environment could not run the command: {detail}")
        structured = {"environmentId": call.environment_id, **result}
        return proto.tool_result(structured, is_error=result.get("exitCode") != 0)
