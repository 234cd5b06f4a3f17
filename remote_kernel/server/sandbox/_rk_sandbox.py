"""The shim that runs *inside* Pyodide: IPython-like cell semantics for the sandbox.

This file is not imported by the host: the driver sends its source to the Deno
worker, which writes it into Pyodide's in-memory file system and imports it.
It runs every statement of a cell but the last, evaluates a trailing
expression and shows its rich repr, offers ``display()``, captures stdout and
stderr in order, and turns exceptions into Jupyter ``error`` outputs.

The patches in :func:`setup` only make denials *readable* (and keep
``os.system`` from aborting Pyodide); the security boundary is Deno's
permissions, which no Python code here can widen.
"""

from __future__ import annotations

import ast
import base64
import builtins
import json
import linecache
import os
import sys
import time
import traceback
import types
from typing import Any

MOUNT = "/mnt/data"
#: Returned, without running the cell, when it needs an async (JSPI) call.
ASYNC_CELL = "__rk_async_cell__"
CO_COROUTINE = 0x80
#: Execution ids of the driver's warm-up runs (they do not count as cells).
WARM_UP_PREFIX = "warm-up-"
_NO_PROGRAMS = "Running programs is not allowed in the sandbox (no subprocesses)."
_NO_NETWORK = "Network access is disabled in the sandbox."
_RICH_REPRS = (
    ("_repr_html_", "text/html"),
    ("_repr_markdown_", "text/markdown"),
    ("_repr_svg_", "image/svg+xml"),
    ("_repr_png_", "image/png"),
    ("_repr_jpeg_", "image/jpeg"),
    ("_repr_latex_", "text/latex"),
    ("_repr_json_", "application/json"),
)
_BINARY = {"image/png", "image/jpeg"}

_state: dict[str, Any] = {
    "count": 0,
    "capture": None,
    "take_output": None,
    "task": None,
    "interrupted": False,
    "pyodide_packages": frozenset(),
}


class _Capture:
    """The outputs of one cell, with stream chunks merged and each stream capped."""

    def __init__(self, max_chars: int) -> None:
        self.outputs: list[dict[str, Any]] = []
        self.max_chars = max_chars
        self.written = {"stdout": 0, "stderr": 0}
        self.dropped = {"stdout": 0, "stderr": 0}
        self.truncated = False

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        if self.max_chars > 0:
            room = max(self.max_chars - self.written[name], 0)
            if len(text) > room:
                self.dropped[name] += len(text) - room
                self.truncated = True
                text = text[:room]
                if not text:
                    return
            self.written[name] += len(text)
        last = self.outputs[-1] if self.outputs else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def add(self, output: dict[str, Any]) -> None:
        _drain()
        self.outputs.append(output)

    def finish(self) -> None:
        """End each cut stream with a notice (the same words as the IPython sessions)."""
        for name, dropped in self.dropped.items():
            if not dropped:
                continue
            notice = (
                f"\n[output truncated: {dropped} more characters of {name} were dropped; "
                f"the limit is {self.max_chars} characters per stream]\n"
            )
            for out in reversed(self.outputs):
                if out["output_type"] == "stream" and out["name"] == name:
                    out["text"] += notice
                    break
            else:
                self.outputs.append({"output_type": "stream", "name": name, "text": notice})


def _drain() -> None:
    """Move what the cell wrote to fd 1/2 (kept in order by the JS worker) into its outputs."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    take = _state["take_output"]
    capture = _state["capture"]
    if take is None or capture is None:
        return
    for chunk in take().to_py():
        capture.stream(chunk[0], chunk[1])
        if len(chunk) > 2:
            capture.truncated = True


# ---------------------------------------------------------------- rich output


def _mimebundle(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    data: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    method = getattr(obj, "_repr_mimebundle_", None)
    if callable(method) and not isinstance(obj, type):
        try:
            bundle = method()
            if isinstance(bundle, tuple):
                bundle, meta = bundle
                metadata.update(meta or {})
            data.update(bundle or {})
        except Exception:
            pass
    for attr, mime in _RICH_REPRS:
        method = getattr(obj, attr, None)
        if mime in data or not callable(method) or isinstance(obj, type):
            continue
        try:
            value = method()
        except Exception:
            continue
        if isinstance(value, tuple) and len(value) == 2:
            value, meta = value
            if meta:
                metadata[mime] = meta
        if value is None:
            continue
        if mime in _BINARY and isinstance(value, (bytes, bytearray)):
            value = base64.b64encode(bytes(value)).decode("ascii")
        data[mime] = value
    data.setdefault("text/plain", repr(obj))
    return data, metadata


def display(*objs: Any, raw: bool = False, metadata: dict[str, Any] | None = None, **_: Any):
    """Show each object as a ``display_data`` output (like IPython's display)."""
    capture = _state["capture"]
    for obj in objs:
        if raw:
            data, meta = dict(obj), dict(metadata or {})
        else:
            data, meta = _mimebundle(obj)
            meta.update(metadata or {})
        if capture is not None:
            capture.add({"output_type": "display_data", "data": data, "metadata": meta})


class _DisplayObject:
    """Minimal stand-ins for IPython.display's HTML, Markdown, ... classes."""

    mime = "text/plain"

    def __init__(self, data: Any = None, *, url: str | None = None, filename: str | None = None):
        if filename is not None or (isinstance(data, str) and self._is_path(data)):
            path = filename or data
            with open(path, "rb") as fh:
                data = fh.read()
            if self.mime not in _BINARY:
                data = data.decode("utf-8")
        self.data = data
        self.url = url

    def _is_path(self, data: str) -> bool:
        return self.mime in _BINARY and len(data) < 4096 and os.path.isfile(data)

    def _repr_mimebundle_(self) -> dict[str, Any]:
        data = self.data
        if self.mime in _BINARY and isinstance(data, (bytes, bytearray)):
            data = base64.b64encode(bytes(data)).decode("ascii")
        if self.mime == "application/json" and isinstance(data, str):
            data = json.loads(data)
        return {self.mime: data, "text/plain": f"<{type(self).__name__} object>"}


def _display_module() -> types.ModuleType:
    """A small ``IPython.display`` so common notebook code runs unchanged."""
    module = types.ModuleType("IPython.display")
    module.display = display
    kinds = {
        "HTML": "text/html",
        "Markdown": "text/markdown",
        "SVG": "image/svg+xml",
        "Latex": "text/latex",
        "Math": "text/latex",
        "JSON": "application/json",
        "Javascript": "application/javascript",
    }
    for name, mime in kinds.items():
        setattr(module, name, type(name, (_DisplayObject,), {"mime": mime}))

    class Image(_DisplayObject):
        def __init__(self, data: Any = None, *, filename: str | None = None, format: str = "png"):
            self.mime = "image/jpeg" if format.lower() in ("jpg", "jpeg") else "image/png"
            super().__init__(data, filename=filename)

    module.Image = Image
    module.clear_output = lambda wait=False: None
    package = types.ModuleType("IPython")
    package.display = module
    package.__path__ = []
    return package


# ---------------------------------------------------------------- denials, made readable


def _denied(message: str):
    def deny(*args: Any, **kwargs: Any):
        raise PermissionError(message)

    return deny


def _interruptible_sleep(wait_ms):
    """time.sleep that neither busy-waits (Pyodide's does) nor blocks interrupts.

    ``wait_ms`` is the worker's ``Atomics.wait`` on a buffer an interrupt
    notifies: the wait ends at once, and the loop's next bytecodes raise
    KeyboardInterrupt.
    """

    def sleep(seconds: float) -> None:
        seconds = float(seconds)
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            wait_ms(min(left, 0.25) * 1000.0)

    return sleep


class _OfflinePackageFinder:
    """Last import hook: name Pyodide packages the offline sandbox cannot load."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        top = fullname.partition(".")[0]
        if path is None and top in _state["pyodide_packages"]:
            raise ModuleNotFoundError(
                f"No module named {top!r}: it is a Pyodide package, and packages beyond the "
                "standard library are not available offline in the sandbox (it has no network "
                "access to download them). Use the standard library, or a non-sandboxed session.",
                name=top,
            )
        return None


def _patch_programs() -> None:
    for name in ("system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            setattr(os, name, _denied(_NO_PROGRAMS))
    for name in dir(os):
        if name.startswith(("exec", "spawn")) and callable(getattr(os, name)):
            setattr(os, name, _denied(_NO_PROGRAMS))
    import subprocess

    def popen_init(self, *args: Any, **kwargs: Any) -> None:
        raise PermissionError(_NO_PROGRAMS)

    subprocess.Popen.__init__ = popen_init
    subprocess.Popen.__del__ = lambda self: None


def _patch_network() -> None:
    import socket

    for name in ("connect", "connect_ex", "bind", "sendto", "listen"):
        setattr(socket.socket, name, _denied(_NO_NETWORK))
    socket.getaddrinfo = _denied(_NO_NETWORK)


def _no_input(*args: Any, **kwargs: Any) -> str:
    raise NotImplementedError("input() is not available: a sandboxed session has no stdin.")


def _pyodide_packages() -> frozenset[str]:
    try:
        import pyodide_js

        packages = pyodide_js.lockfile.packages.to_py()
    except Exception:
        return frozenset()
    names: set[str] = set()
    for key, info in packages.items():
        if info.get("package_type") == "cpython_module":
            continue
        names.add(key.replace("-", "_"))
        names.update(info.get("imports") or ())
    return frozenset(names)


def setup(take_output: Any = None, wait_ms: Any = None) -> None:
    """Prepare the interpreter once, before any cell (paid while pre-warming).

    ``take_output`` is the worker's JS function returning the ``[name, text]``
    chunks written to fd 1/2 since it was last called; ``wait_ms`` blocks the
    worker for up to that many milliseconds unless an interrupt comes.
    """
    _state["take_output"] = take_output
    env = {"HOME": "/home/pyodide", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PWD": MOUNT}
    os.environ.clear()
    os.environ.update(env)
    if os.path.isdir(MOUNT):
        os.chdir(MOUNT)
    if "" not in sys.path:
        sys.path.insert(0, "")
    builtins.display = display
    builtins.input = _no_input
    _patch_programs()
    _patch_network()
    if wait_ms is not None:
        time.sleep = _interruptible_sleep(wait_ms)
    _state["pyodide_packages"] = _pyodide_packages()
    sys.meta_path.append(_OfflinePackageFinder())
    try:
        import IPython  # noqa: F401
    except ImportError:
        package = _display_module()
        sys.modules["IPython"] = package
        sys.modules["IPython.display"] = package.display
    main = sys.modules["__main__"].__dict__
    main.setdefault("__builtins__", builtins)
    _warm_up()


def _warm_up() -> None:
    """Walk a cell's whole path once, so a session's first real cell is as fast as the rest."""
    body, expr = _compile("_rk_warm = [1]\n_rk_warm + [2]", "<warm-up>")
    scratch: dict[str, Any] = {"__builtins__": builtins}
    _run(body, scratch)
    data, _ = _mimebundle(_run(expr, scratch))
    json.dumps({"op": "result", "outputs": [{"data": data}]})
    try:
        _compile("def broken(:", "<warm-up>")
    except SyntaxError as exc:
        _error_output(exc, "<warm-up>")
    linecache.cache.pop("<warm-up>", None)


# ---------------------------------------------------------------- execution


def _error_output(exc: BaseException, filename: str) -> dict[str, Any]:
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    if isinstance(exc, SyntaxError):
        lines = traceback.format_exception_only(type(exc), exc)
    else:
        lines = traceback.format_exception(type(exc), exc, tb)
    return {
        "output_type": "error",
        "ename": type(exc).__name__,
        "evalue": str(exc),
        "traceback": [line.rstrip("\n") for line in lines],
    }


def _compile(code: str, filename: str) -> tuple[Any, Any]:
    """Split a cell into statements to exec and a trailing expression to eval."""
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree = ast.parse(code, filename, "exec")
    last = None
    # As in IPython, a trailing ';' hides the last value.
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not code.rstrip().endswith(";"):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, filename, "exec", flags=flags, dont_inherit=True)
    expr = compile(last, filename, "eval", flags=flags, dont_inherit=True) if last else None
    return body, expr


def _run(code_obj: Any, namespace: dict[str, Any]) -> Any:
    # eval() runs "exec"-mode code too, and unlike exec() returns the coroutine
    # that a cell with a top-level await compiles to.
    value = eval(code_obj, namespace)
    if code_obj.co_flags & CO_COROUTINE and isinstance(value, types.CoroutineType):
        value = _run_async(value)
    return value


def _run_async(coro: Any) -> Any:
    """Run a top-level-await cell to completion; :func:`interrupt` cancels it."""
    import asyncio

    from pyodide.ffi import can_run_sync, run_sync

    if not can_run_sync():
        coro.close()
        raise RuntimeError("Top-level await is not supported by this Pyodide runtime.")
    task = asyncio.ensure_future(coro)
    _state["task"], _state["interrupted"] = task, False
    try:
        return run_sync(task)
    except asyncio.CancelledError:
        if _state["interrupted"]:
            raise KeyboardInterrupt from None
        raise
    finally:
        _state["task"] = None


def interrupt() -> None:
    """Called by the worker on an interrupt while a cell awaits (its stack is suspended).

    A cell blocked in ``await`` runs no bytecode, so the interrupt buffer alone
    would not stop it: cancel its task, which surfaces as KeyboardInterrupt.
    """
    task = _state.get("task")
    if task is not None and not task.done():
        _state["interrupted"] = True
        task.cancel()


def _needs_async(code: str) -> bool:
    try:
        body, expr = _compile(code, "<check>")
    except BaseException:
        return False  # execute() reports the error
    return any(c is not None and c.co_flags & CO_COROUTINE for c in (body, expr))


def execute(exec_id: str, code: str, max_chars: int = 0, is_async: bool = False) -> str:
    """Run one cell; return the result message as a JSON line.

    A cell with a top-level ``await`` is not run by a plain call: the worker
    gets :data:`ASYNC_CELL` and calls again through ``callPromising``.
    """
    if not is_async and "await" in code and _needs_async(code):
        return ASYNC_CELL
    if exec_id.startswith(WARM_UP_PREFIX):
        count = 0  # the driver's warm-up runs: not the user's cells
    else:
        _state["count"] += 1
        count = _state["count"]
    filename = f"<cell-{count}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    capture = _Capture(int(max_chars or 0))
    _state["capture"] = capture
    namespace = sys.modules["__main__"].__dict__
    error = None
    try:
        body, expr = _compile(code, filename)
        _run(body, namespace)
        if expr is not None:
            value = _run(expr, namespace)
            if value is not None:
                if count:
                    builtins._ = value
                data, metadata = _mimebundle(value)
                capture.add(
                    {
                        "output_type": "execute_result",
                        "data": data,
                        "metadata": metadata,
                        "execution_count": count,
                    }
                )
    except BaseException as exc:  # noqa: B036 - a cell's SystemExit/KeyboardInterrupt are its errors
        error = _error_output(exc, filename)
        capture.add(error)
    finally:
        _drain()
        capture.finish()
        _state["capture"] = None
    reply = {
        "op": "result",
        "id": exec_id,
        "outputs": capture.outputs,
        "error": None if error is None else {k: error[k] for k in ("ename", "evalue", "traceback")},
        "truncated": capture.truncated,
        "execution_count": count,
    }
    return json.dumps(reply, default=str)
