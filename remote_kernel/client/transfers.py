"""Local file sources and sinks for transfers: streamed, with progress, never whole in memory
unless asked (bytes in, bytes out). No network I/O here: the transports read and write them."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from remote_kernel import errors
from remote_kernel.client.messages import Progress


class ProgressReader(io.RawIOBase):
    """A read-only file wrapper that reports how many bytes were read."""

    def __init__(
        self, raw: BinaryIO, total: int | None, progress: Progress | None, name: str = ""
    ) -> None:
        super().__init__()
        self._raw = raw
        self._name = name
        self._total = total
        self._progress = progress
        self._start = raw.tell() if raw.seekable() else 0
        self.done = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def tell(self) -> int:
        return self._raw.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def rewind(self) -> None:
        if self._raw.seekable():
            self._raw.seek(self._start)
        self.done = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._raw.read(size)
        except OSError as exc:
            # Raised inside httpx's body streaming, which would let it out bare.
            raise errors.TransferError(
                f"Upload of {self._name!r} stopped after {self.done} bytes: reading the local "
                f"file failed ({exc}). The pool keeps no part of it; nothing was stored."
            ) from exc
        if data:
            self.done += len(data)
            if self._progress is not None:
                self._progress(self.done, self._total)
        return data

    def readinto(self, buffer: Any) -> int:  # pragma: no cover - httpx uses read()
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_source(
    source: str | os.PathLike[str] | bytes | BinaryIO,
    remote_name: str | None,
    progress: Progress | None,
) -> tuple[ProgressReader, str, Callable[[], None]]:
    """(reader, remote name, close) for a path, bytes or a binary file object."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not remote_name:
            raise errors.ConfigurationError("Uploading bytes needs remote_name.")
        raw: BinaryIO = io.BytesIO(bytes(source))
        total: int | None = len(source)
        close = raw.close
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise errors.TransferError(f"No such local file: {str(path)!r}.")
        raw = path.open("rb")
        total = path.stat().st_size
        remote_name = remote_name or path.name
        close = raw.close
    elif hasattr(source, "read"):
        raw = source
        remote_name = remote_name or Path(str(getattr(source, "name", "") or "")).name
        if not remote_name:
            raise errors.ConfigurationError("Uploading a file object needs remote_name.")
        try:
            total = os.fstat(raw.fileno()).st_size - (raw.tell() if raw.seekable() else 0)
        except (OSError, AttributeError, io.UnsupportedOperation):
            total = None

        def close() -> None:
            return None
    else:
        raise errors.ConfigurationError(
            f"Cannot upload a {type(source).__name__}: give a path, bytes or a binary file."
        )
    return ProgressReader(raw, total, progress, remote_name), remote_name, close


class DownloadSink:
    """Where a download goes: bytes in memory, a file object, or a path written
    through a temporary file renamed into place only when complete."""

    def __init__(self, destination: str | os.PathLike[str] | BinaryIO | None) -> None:
        self._destination = destination
        self._buffer: io.BytesIO | None = None
        self._tmp: Path | None = None
        if destination is None:
            self._buffer = io.BytesIO()
            self.file: BinaryIO = self._buffer
        elif isinstance(destination, (str, os.PathLike)):
            final = Path(destination)
            if final.is_dir():
                raise errors.ConfigurationError(f"{str(final)!r} is a directory.")
            final.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = final.with_name(f".{final.name}.part-{os.getpid()}")
            self.file = self._tmp.open("wb")
        else:
            self.file = destination

    def finish(self) -> bytes | None:
        if self._buffer is not None:
            return self._buffer.getvalue()
        if self._tmp is not None:
            self.file.close()
            os.replace(self._tmp, Path(self._destination))  # type: ignore[arg-type]
        return None

    def abort(self) -> None:
        if self._tmp is not None:
            self.file.close()
            self._tmp.unlink(missing_ok=True)
