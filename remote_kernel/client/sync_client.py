"""The synchronous client: sends what the protocol layer builds, nothing more."""

from __future__ import annotations

import os
import time
from typing import Any, BinaryIO

import httpx

from remote_kernel.client.base import ClientBase, DownloadSink, Progress, open_source
from remote_kernel.client.models import ExecutionResult, FileInfo, PackageInfo, SessionInfo
from remote_kernel.client.protocol import Request, Response, Sleep, Step
from remote_kernel.config import PoolSettings


class SessionPoolClient(ClientBase):
    """A session-pool client with one keep-alive connection pool per object."""

    def __init__(
        self, endpoint: str, *, transport: httpx.BaseTransport | None = None, **kwargs: Any
    ) -> None:
        super().__init__(endpoint, **kwargs)
        self._http = httpx.Client(transport=transport, **self._client_kwargs())

    @classmethod
    def from_settings(
        cls, settings: PoolSettings, endpoint: str | None = None, **kwargs: Any
    ) -> SessionPoolClient:
        return cls(**{**cls._settings_kwargs(settings, endpoint), **kwargs})

    # ------------------------------------------------------------------ driving
    def _send(self, req: Request) -> Response:
        attempt = 0
        refreshed = False
        while True:
            try:
                raw = self._http.send(self._build(self._http, req, self._auth.header()))
            except httpx.HTTPError as exc:
                delay = self._retry_delay(req, attempt, exc=exc)
                if delay is None:
                    raise self._transport_error(exc, req) from None
                self._rewind(req)
                time.sleep(delay)
                attempt += 1
                continue
            response = self._decode(raw)
            if response.status_code == 401 and not refreshed and self._auth.mode == "azure":
                refreshed = True  # a rejected request ran nothing: safe to send again
                self._auth.invalidate()
                self._rewind(req)
                continue
            delay = self._retry_delay(req, attempt, response=response)
            if delay is None:
                return response
            time.sleep(delay)
            attempt += 1

    @staticmethod
    def _rewind(req: Request) -> None:
        if req.upload is not None:
            req.upload[2].rewind()

    def _run(self, step: Step) -> Any:
        try:
            instruction = next(step)
            while True:
                if isinstance(instruction, Sleep):
                    time.sleep(instruction.seconds)
                    instruction = step.send(None)  # type: ignore[arg-type]
                else:
                    instruction = step.send(self._send(instruction))
        except StopIteration as stop:
            return stop.value

    # --------------------------------------------------------------- executions
    def execute(
        self,
        code: str,
        *,
        session: str,
        timeout: float | None = None,
        execution_id: str | None = None,
    ) -> ExecutionResult:
        """Run ``code`` and wait for the result. Never re-sent once it may have arrived."""
        return self._run(
            self.protocol.execute(code, session, timeout=timeout, execution_id=execution_id)
        )

    def start_execution(
        self,
        code: str,
        *,
        session: str,
        timeout: float | None = None,
        execution_id: str | None = None,
    ) -> ExecutionResult:
        return self._run(
            self.protocol.start_execution(code, session, timeout=timeout, execution_id=execution_id)
        )

    def get_execution(self, execution_id: str, *, session: str) -> ExecutionResult:
        return self._run(self.protocol.get_execution(execution_id, session))

    def wait_execution(
        self, execution_id: str, *, session: str, timeout: float | None = None
    ) -> ExecutionResult:
        return self._run(self.protocol.wait_execution(execution_id, session, timeout))

    def cancel_execution(self, execution_id: str, *, session: str) -> bool:
        return self._run(self.protocol.cancel(execution_id, session))

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
        reader, name, close = open_source(source, remote_name, progress)
        try:
            req = self.protocol.upload_request(session, name, reader, path)
            return self.protocol.parse_upload(self._send(req), session, name, path)
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
        req = self.protocol.download_request(session, name, path)
        for attempt in range(3):
            try:
                return self._download_once(req, session, name, destination, progress)
            except httpx.TransportError as exc:
                if attempt == 2 or self._retry_delay(req, attempt, exc=exc) is None:
                    raise self._transport_error(exc, req) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _download_once(
        self, req: Request, session: str, name: str, destination: Any, progress: Progress | None
    ) -> bytes | None:
        request = self._build(self._http, req, self._auth.header())
        raw = self._http.send(request, stream=True)
        try:
            if raw.status_code >= 400:
                raw.read()
                self.protocol.raise_for_status(
                    self._decode(raw), "download", session=session, name=name
                )
            total = int(raw.headers["content-length"]) if "content-length" in raw.headers else None
            sink = DownloadSink(destination)
            try:
                done = 0
                for chunk in raw.iter_bytes(1 << 20):
                    sink.file.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
            except BaseException:
                sink.abort()
                raise
            return sink.finish()
        finally:
            raw.close()

    def file_info(self, name: str, *, session: str, path: str = "") -> FileInfo:
        req = self.protocol.file_info_request(session, name, path)
        return self.protocol.parse_file_info(self._send(req), session, name, path)

    def list_files(self, *, session: str, path: str = "") -> list[FileInfo]:
        req = self.protocol.list_files_request(session, path)
        return self.protocol.parse_list_files(self._send(req), session, path)

    def delete_file(self, name: str, *, session: str, path: str = "") -> None:
        req = self.protocol.delete_file_request(session, name, path)
        self.protocol.parse_delete_file(self._send(req), session, name)

    # ----------------------------------------------------------------- sessions
    def list_sessions(self) -> list[SessionInfo]:
        return self.protocol.parse_list_sessions(self._send(self.protocol.list_sessions_request()))

    def get_session(self, session: str) -> SessionInfo:
        req = self.protocol.get_session_request(session)
        return self.protocol.parse_get_session(self._send(req), session)

    def delete_session(self, session: str) -> None:
        self._run(self.protocol.delete_session(session))

    def list_packages(self, *, session: str) -> list[PackageInfo]:
        return self._run(self.protocol.list_packages(session))

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SessionPoolClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
