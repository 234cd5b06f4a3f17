"""The public methods of both clients, written once.

Each method builds its operation's step (``operations.py``) and hands it to
``self.run``. :class:`~remote_kernel.client.SessionPoolClient` runs it and
returns the value; :class:`~remote_kernel.client.AsyncSessionPoolClient`
runs it as a coroutine, and turns every name in :data:`OPERATIONS` into an
``async def`` of the same signature and docstring. So a new operation is one
step in ``operations.py`` plus one method here, for both clients.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, BinaryIO

import httpx

from remote_kernel.client.base import ClientBase
from remote_kernel.client.messages import Progress, Seconds, Step
from remote_kernel.client.models import (
    ExecutionEvent,
    ExecutionResult,
    FileInfo,
    PackageInfo,
    SessionInfo,
)
from remote_kernel.client.policy import Policy
from remote_kernel.client.transfers import open_source
from remote_kernel.config import PoolSettings

#: The methods that talk to the pool (the async client awaits each).
OPERATIONS = (
    "execute",
    "execute_shell",
    "start_execution",
    "get_execution",
    "wait_execution",
    "cancel_execution",
    "answer_input",
    "upload_file",
    "download_file",
    "file_info",
    "list_files",
    "delete_file",
    "list_sessions",
    "get_session",
    "delete_session",
    "list_packages",
)


class ClientMethods(ClientBase):
    """Every call a client offers; ``run`` (the shell's) drives the step."""

    #: The shell's transport class (blocking or asyncio).
    transport_class: Any = None

    def __init__(
        self,
        endpoint: str,
        *,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        """``transport``: an httpx transport under the client's own (tests: a MockTransport)."""
        super().__init__(endpoint, **kwargs)
        self._transport = self.transport_class(
            self.endpoint, self.connect_timeout, transport, max_connections=self.max_connections
        )
        self._http = self._transport.http  # the httpx client itself, for raw calls in tests
        self._policy = Policy(self.endpoint, self._auth, self.max_connections)

    def run(self, step: Step) -> Any:
        """Drive a step of ``self.protocol`` (or a step composed of several) to its value."""
        raise NotImplementedError

    @classmethod
    def from_settings(
        cls, settings: PoolSettings, endpoint: str | None = None, **kwargs: Any
    ) -> Any:
        return cls(**{**cls._settings_kwargs(settings, endpoint), **kwargs})

    # --------------------------------------------------------------- executions
    def execute(
        self,
        code: str,
        *,
        session: str,
        timeout: Seconds = None,
        execution_id: str | None = None,
        on_event: Callable[[ExecutionEvent], None] | None = None,
        stdin: bool = True,
    ) -> ExecutionResult:
        """Run ``code`` and wait for the result. Never re-sent once it may have arrived.

        ``on_event``: called with each :class:`ExecutionEvent` as it happens, on a pool
        that streams (``x-remote-kernel-features: stream``); elsewhere never called.
        An ``input_request`` event is answered with ``answer_input`` (``stdin=False``:
        ``input()`` fails at once instead).
        """
        if on_event is not None:
            return self.run(
                self.protocol.execute_streamed(
                    code,
                    session,
                    on_event,
                    timeout=timeout,
                    execution_id=execution_id,
                    stdin=stdin,
                )
            )
        return self.run(
            self.protocol.execute(code, session, timeout=timeout, execution_id=execution_id)
        )

    def execute_shell(
        self, command: str, *, session: str, timeout: Seconds = None
    ) -> ExecutionResult:
        """Run a shell command in a session of a Shell pool and wait for it.

        ``result.exit_code`` is the command's exit code; a non-zero one makes the
        result an error (``NonZeroExitCode``). Needs api-version 2025-02-02-preview+.
        """
        return self.run(self.protocol.execute_shell(command, session, timeout=timeout))

    def start_execution(
        self, code: str, *, session: str, timeout: Seconds = None, execution_id: str | None = None
    ) -> ExecutionResult:
        """Start ``code`` without waiting (generation 2): poll it with ``wait_execution``."""
        return self.run(
            self.protocol.start_execution(code, session, timeout=timeout, execution_id=execution_id)
        )

    def get_execution(self, execution_id: str, *, session: str) -> ExecutionResult:
        return self.run(self.protocol.get_execution(execution_id, session))

    def wait_execution(
        self, execution_id: str, *, session: str, timeout: Seconds = None
    ) -> ExecutionResult:
        return self.run(self.protocol.wait_execution(execution_id, session, timeout))

    def answer_input(self, execution_id: str, value: str, *, session: str) -> None:
        """Answer the ``input()`` a streamed execution waits in (its ``input_request``)."""
        return self.run(self.protocol.answer_input(execution_id, value, session))

    def cancel_execution(self, execution_id: str, *, session: str) -> bool:
        """True when the pool stopped the run; False when it cannot cancel (Azure)."""
        return self.run(self.protocol.cancel(execution_id, session))

    # -------------------------------------------------------------------- files
    def upload_file(
        self,
        source: str | os.PathLike[str] | bytes | BinaryIO,
        *,
        session: str,
        remote_name: str | None = None,
        path: str = "",
        progress: Progress | None = None,
    ) -> FileInfo:
        """Stream a path, bytes or a binary file to the session's /mnt/data (or ``path``)."""
        return self.run(self._upload(source, session, remote_name, path, progress))

    def _upload(
        self,
        source: str | os.PathLike[str] | bytes | BinaryIO,
        session: str,
        remote_name: str | None,
        path: str,
        progress: Progress | None,
    ) -> Step:
        reader, name, close = open_source(source, remote_name, progress)
        try:
            return (yield from self.protocol.upload(session, name, reader, path))
        finally:
            close()

    def download_file(
        self,
        name: str,
        *,
        session: str,
        destination: str | os.PathLike[str] | BinaryIO | None = None,
        path: str = "",
        progress: Progress | None = None,
    ) -> bytes | None:
        """The file's bytes, or None once streamed to ``destination`` (a path or a file)."""
        return self.run(
            self.protocol.download(session, name, path, destination=destination, progress=progress)
        )

    def file_info(self, name: str, *, session: str, path: str = "") -> FileInfo:
        return self.run(self.protocol.file_info(session, name, path))

    def list_files(self, *, session: str, path: str = "") -> list[FileInfo]:
        return self.run(self.protocol.list_files(session, path))

    def delete_file(self, name: str, *, session: str, path: str = "") -> None:
        return self.run(self.protocol.delete_file(session, name, path))

    # ----------------------------------------------------------------- sessions
    def list_sessions(self) -> list[SessionInfo]:
        return self.run(self.protocol.list_sessions())

    def get_session(self, session: str) -> SessionInfo:
        return self.run(self.protocol.get_session(session))

    def delete_session(self, session: str) -> None:
        return self.run(self.protocol.delete_session(session))

    def list_packages(self, *, session: str) -> list[PackageInfo]:
        return self.run(self.protocol.list_packages(session))
