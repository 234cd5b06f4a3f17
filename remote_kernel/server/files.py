"""A session's file area (its ``/mnt/data``): safe paths, streamed uploads and downloads.

Every name and ``path=`` a client sends is resolved here and nowhere else:
``..``, absolute paths, NUL bytes, backslashes and empty names are refused
with 400, and the resolved path must stay inside the area even through
symlinks. ``path=/mnt/data/...`` (what Azure clients send) is understood as
the area itself.

Uploads are parsed from the request stream as it arrives and written to a
hidden temporary file in the target folder, renamed into place only when
complete: a failed or oversized upload leaves the area as it was, and memory
use does not grow with the file.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from remote_kernel.server.api_errors import ApiError
from remote_kernel.server.shapes import iso

#: What Azure calls the file area; a ``path=`` under it means the area itself.
MOUNT = "/mnt/data"
_TEMP_PREFIX = ".rk-upload-"
#: ``contentType`` of a folder and of a file whose extension names no type: what the
#: 2025-10-02-preview example ``SessionResourceFiles_List_Recursive`` gives folders.
OCTET_STREAM = "application/octet-stream"
#: Entries per page of a file list when the client does not ask (``maxpagesize``).
DEFAULT_PAGE_SIZE = 1000
#: How much of an oversized body is read (and dropped) so the client sees the 413.
DRAIN_EXTRA = _DRAIN_EXTRA = 16 * 1024 * 1024


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidPath", message)


def _segments(value: str, what: str) -> list[str]:
    if "\x00" in value:
        raise _bad(f"The {what} contains a NUL character.")
    if "\\" in value:
        raise _bad(f"The {what} {value!r} contains a backslash; use '/' between folders.")
    if value.startswith("/"):
        raise _bad(
            f"The {what} {value!r} is outside {MOUNT}, the session's file area: give it "
            f"relative to {MOUNT} (e.g. 'data/x.csv') or starting with {MOUNT}/."
        )
    parts = [p for p in value.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise _bad(f"The {what} {value!r} may not contain '.' or '..' segments.")
    return parts


def _strip_mount(path: str) -> str:
    """``/mnt/data/x`` -> ``x``; ``/`` (the spec's upload example) -> the area itself."""
    if path == MOUNT or path.startswith(MOUNT + "/"):
        return path[len(MOUNT) :].lstrip("/")
    if path.strip("/") == "":
        return ""
    return path


def _within(area: Path, target: Path) -> bool:
    """Whether ``target``, symlinks followed, stays inside ``area``."""
    real_area = os.path.realpath(area)
    real = os.path.realpath(target)
    return real == real_area or real.startswith(real_area + os.sep)


def _inside(area: Path, target: Path) -> Path:
    """``target`` if it (symlinks followed) stays inside ``area``; else 400."""
    if not _within(area, target):
        raise _bad("The path leaves the session's file area.")
    return target


def resolve_dir(area: Path, path: str | None) -> Path:
    """The folder a ``path=`` query parameter names (the area itself when absent)."""
    parts = _segments(_strip_mount(path or ""), "path")
    return _inside(area, area.joinpath(*parts))


def resolve_file(area: Path, path: str | None, name: str) -> Path:
    """The file ``name`` (may hold '/' for sub-folders) inside the ``path=`` folder.

    A name starting with ``/mnt/data/`` is absolute: it names that file of the area
    whatever ``path=`` says (LlamaIndex and Semantic Kernel upload with the multipart
    filename ``/mnt/data/x.txt``).
    """
    if name.startswith(MOUNT + "/"):
        folder, parts = area, _segments(_strip_mount(name), "file name")
    else:
        folder, parts = resolve_dir(area, path), _segments(name, "file name")
    if not parts:
        raise _bad("The file name is empty.")
    return _inside(area, folder.joinpath(*parts))


def existing(target: Path, name: str) -> Path:
    if not target.exists():
        raise ApiError(404, "FileNotFound", f"No file named {name!r} in this session.")
    return target


def _listable(area: Path, entry: Path) -> bool:
    if entry.name.startswith(_TEMP_PREFIX):
        return False
    # A symlink that session code planted is listed only when it leads to something
    # inside the area: a dangling one has no size (its stat failed with a 500), and an
    # outside target's size and dates are not the session's to see.
    return not entry.is_symlink() or (entry.exists() and _within(area, entry))


def list_dir(directory: Path, area: Path | None = None) -> list[Path]:
    """Entries of ``directory`` (inside ``area``) sorted by name, without in-flight uploads."""
    if not directory.is_dir():
        raise ApiError(404, "DirectoryNotFound", "That folder does not exist in this session.")
    area = area or directory
    return sorted((p for p in directory.iterdir() if _listable(area, p)), key=lambda p: p.name)


def walk(directory: Path, area: Path, recursive: bool) -> list[Path]:
    """Entries of ``directory``; with ``recursive`` every folder's entries after it.

    Symlinked folders are listed but not entered (a link loop must not hang the list).
    """
    entries: list[Path] = []
    for entry in list_dir(directory, area):
        entries.append(entry)
        if recursive and entry.is_dir() and not entry.is_symlink():
            entries.extend(walk(entry, area, recursive))
    return entries


def content_type(path: Path) -> str:
    """The type a download of ``path`` is served with, from its extension."""
    if path.is_dir():
        return OCTET_STREAM
    return mimetypes.guess_type(path.name)[0] or OCTET_STREAM


def entry(path: Path, folder: Path, area: Path) -> dict[str, Any]:
    """A generation-2 ``SessionResourceFile``.

    ``directory`` is the entry's folder relative to ``folder`` (the ``path=`` folder;
    ``""`` for its own entries, as in the specification's list examples), or relative
    to the ``area`` for a file named by an absolute ``/mnt/data/...`` name elsewhere.
    Folders get the fields the specification's recursive example shows for them
    (``contentType`` ``application/octet-stream``, their own size), never ``null``.
    """
    st = path.stat()
    base = folder if path.parent.is_relative_to(folder) else area
    parent = path.parent.relative_to(base).as_posix()
    # Key order as the real service answers in the custom-container tutorial.
    return {
        "name": path.name,
        "sizeInBytes": st.st_size,
        "lastModifiedAt": iso(datetime.fromtimestamp(st.st_mtime, timezone.utc)),
        "contentType": content_type(path),
        "type": "Directory" if path.is_dir() else "File",
        "directory": "" if parent == "." else parent,
    }


def page_bounds(skip: str | None, size: str | None) -> tuple[int, int]:
    """(offset, page size) from the ``skip`` and ``maxpagesize`` query parameters."""
    try:
        offset = int(skip) if skip is not None else 0
        limit = int(size) if size is not None else DEFAULT_PAGE_SIZE
    except ValueError:
        raise ApiError(
            400, "InvalidPaging", "skip and maxpagesize must be whole numbers."
        ) from None
    if offset < 0 or limit < 1:
        raise ApiError(400, "InvalidPaging", "skip must be >= 0 and maxpagesize >= 1.")
    return offset, limit


def remove(target: Path, name: str) -> None:
    existing(target, name)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    else:
        target.unlink()


# -- uploads ------------------------------------------------------------------------------


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    filename: str | None = None
    field_name: str = ""
    temp: Path | None = None
    handle: IO[bytes] | None = None
    target: Path | None = None
    size: int = 0


class _UploadParser:
    """python-multipart callbacks writing each ``file`` part to a temp file as it streams."""

    def __init__(self, area: Path, folder: Path, path: str | None, max_bytes: int) -> None:
        self.area, self.folder, self.path, self.max_bytes = area, folder, path, max_bytes
        self.part = _Part()
        self.done: list[_Part] = []
        self.too_large = False
        self._header_name = b""
        self._header_value = b""

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        self.part.field_name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options or self.part.field_name != "file":
            return
        try:
            filename = options[b"filename"].decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("The uploaded file's name is not valid UTF-8.") from None
        target = resolve_file(self.area, self.path, filename)
        if target.is_dir():
            raise ApiError(409, "IsADirectory", f"{filename!r} is a folder in this session.")
        target.parent.mkdir(parents=True, exist_ok=True)
        _inside(self.area, target.parent)
        self.part.filename, self.part.target = filename, target
        self.part.temp = target.parent / f"{_TEMP_PREFIX}{secrets.token_hex(8)}"
        self.part.handle = open(self.part.temp, "wb")  # noqa: SIM115

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.part
        if part.handle is None or self.too_large:
            return
        part.size += end - start
        if part.size > self.max_bytes:
            self.too_large = True
            self.discard()
            return
        part.handle.write(data[start:end])

    def on_part_end(self) -> None:
        if self.part.handle is not None and not self.too_large:
            self.part.handle.close()
            self.done.append(self.part)
        self.part = _Part()

    def parts(self) -> list[_Part]:
        return [*self.done, self.part]

    def discard(self) -> None:
        """Remove every temporary file (error, oversize, disconnect)."""
        for part in self.parts():
            if part.handle is not None:
                part.handle.close()
            if part.temp is not None:
                with contextlib.suppress(OSError):
                    part.temp.unlink()
        self.done.clear()


async def receive_upload(
    request: Request, area: Path, path: str | None, max_bytes: int
) -> list[Path]:
    """Stream the multipart body into place; the stored files, in the order sent."""
    folder = resolve_dir(area, path)
    content_type = request.headers.get("content-type", "")
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in params:
        raise ApiError(
            400,
            "InvalidRequestBody",
            "Upload the file as multipart/form-data in a field named 'file'.",
        )
    parser = _UploadParser(area, folder, path, max_bytes)
    multipart = MultipartParser(params[b"boundary"], parser.callbacks())  # type: ignore[arg-type]
    try:
        await _feed(request, multipart, parser, max_bytes)
        if parser.too_large:
            raise ApiError(
                413,
                "PayloadTooLarge",
                f"The upload is larger than this pool's limit of {max_bytes} bytes "
                "(--max-upload-mb).",
            )
        if not parser.done:
            raise ApiError(
                400, "InvalidRequestBody", "The upload has no file in a field named 'file'."
            )
        for part in parser.done:
            assert part.temp is not None and part.target is not None
            os.replace(part.temp, part.target)
            part.temp = None
        return [p.target for p in parser.done if p.target is not None]
    except BaseException:
        parser.discard()
        raise


async def _feed(
    request: Request, multipart: MultipartParser, parser: _UploadParser, max_bytes: int
) -> None:
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if parser.too_large:
                if received > max_bytes + _DRAIN_EXTRA:
                    return  # stop reading; the server closes the connection after the 413
                continue
            multipart.write(chunk)
        if not parser.too_large:
            multipart.finalize()
    except FormParserError as exc:
        raise ApiError(400, "InvalidRequestBody", f"Malformed multipart body: {exc}") from None
    except ClientDisconnect:
        raise ApiError(400, "ClientDisconnected", "The client went away mid-upload.") from None
