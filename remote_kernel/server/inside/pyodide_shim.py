"""The shim that runs *inside* Pyodide: IPython-like cell semantics for the sandbox.

This file is not imported by the host: the Pyodide runtime
(``server/runtimes/pyodide.py``) sends its source to the Deno worker, which
writes it into Pyodide's in-memory file system and imports it as
``_rk_sandbox``. It runs every statement of a cell but the last, evaluates a
trailing expression and shows its rich repr, offers ``display()``, and turns
exceptions into Jupyter ``error`` outputs.

Each output leaves the moment it is made, as one event line shaped like a
Jupyter IOPub message (``msg_type`` plus ``content``); stdout and stderr (kept
in order, and capped per stream, by the JS worker) go first. The host feeds
them to the same ``OutputCollector`` as the IPython runtime's messages, so
merging, limits and notices are decided there, once.

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
    "cell": None,
    "flush_output": None,
    "emit": None,
    "task": None,
    "interrupted": False,
    "pyodide_packages": frozenset(),
    # input(): the worker's reader, its buffer size, whether this run may ask, and
    # the error text when it may not (the host's, shared with the IPython runtime).
    "read_input": None,
    "input_limit": 0,
    "allow_stdin": False,
    "no_stdin": "input() is not available in this run.",
}


class _Cell:
    """Where one cell's outputs go: to the host, as events, in the order they happen."""

    def __init__(self, exec_id: str) -> None:
        self.exec_id = exec_id

    def send(self, msg_type: str, content: dict[str, Any]) -> None:
        """One rich output or error, after the stream text written before it."""
        _drain()
        self.post(msg_type, content)

    def post(self, msg_type: str, content: dict[str, Any]) -> None:
        emit = _state["emit"]
        if emit is not None:
            line = {"op": "event", "id": self.exec_id, "msg_type": msg_type, "content": content}
            emit(json.dumps(line, default=str))


def _drain() -> None:
    """Send what the cell wrote to fd 1/2 so far (the JS worker keeps it in order)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    flush = _state["flush_output"]
    if flush is not None and _state["cell"] is not None:
        flush()


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
    cell = _state["cell"]
    for obj in objs:
        if raw:
            data, meta = dict(obj), dict(metadata or {})
        else:
            data, meta = _mimebundle(obj)
            meta.update(metadata or {})
        if cell is not None:
            cell.send("display_data", {"data": data, "metadata": meta})


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
        _drain()  # what the cell printed before it waits is seen now, not at its end
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


class StdinNotImplementedError(NotImplementedError):
    """``input()`` in a run whose caller cannot answer it (IPython's name for it)."""


StdinNotImplementedError.__module__ = "builtins"  # tracebacks name it as IPython's do


def _ask(prompt: Any = "", password: bool = False) -> str:
    """``input()``/``getpass()``: an ``input_request`` event, then block until the answer.

    The wait is the worker's ``Atomics.wait`` in slices; an interrupt wakes it
    and ``read_input`` raises KeyboardInterrupt, so the cell stops as in
    ``time.sleep`` and the session keeps its variables.
    """
    cell, read = _state["cell"], _state["read_input"]
    if cell is None or read is None or not _state["allow_stdin"]:
        raise StdinNotImplementedError(_state["no_stdin"])
    cell.send("input_request", {"prompt": str(prompt), "password": bool(password)})
    while True:
        answer = read(250)
        if isinstance(answer, str):
            return answer
        if answer is not None:
            raise ValueError(
                f"The answer to input() was {int(answer):,} bytes; the sandbox takes at most "
                f"{_state['input_limit']:,}."
            )


def _input(prompt: Any = "") -> str:
    return _ask(prompt)


def _getpass(prompt: str = "Password: ", stream: Any = None) -> str:
    return _ask(prompt, password=True)


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


def setup(
    flush_output: Any = None,
    wait_ms: Any = None,
    emit: Any = None,
    read_input: Any = None,
    input_limit: int = 0,
    no_stdin: str | None = None,
) -> None:
    """Prepare the interpreter once, before any cell (paid while pre-warming).

    ``flush_output`` is the worker's JS function that sends what was written to
    fd 1/2 as stream events; ``wait_ms`` blocks the worker for up to that many
    milliseconds unless an interrupt comes; ``emit`` sends one event line to
    the host at once. ``read_input(ms)`` waits that long for the answer to
    ``input()`` (the string; its byte count when it passed ``input_limit``;
    None); ``no_stdin`` is the error text of ``input()`` in a run without it.
    """
    _state["flush_output"] = flush_output
    _state["emit"] = emit
    _state["read_input"] = read_input
    _state["input_limit"] = int(input_limit)
    if no_stdin:
        _state["no_stdin"] = str(no_stdin)
    env = {"HOME": "/home/pyodide", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PWD": MOUNT}
    os.environ.clear()
    os.environ.update(env)
    if os.path.isdir(MOUNT):
        os.chdir(MOUNT)
    if "" not in sys.path:
        sys.path.insert(0, "")
    builtins.display = display
    builtins.input = _input
    import getpass

    getpass.getpass = _getpass
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
        _error_content(exc, "<warm-up>")
    linecache.cache.pop("<warm-up>", None)


# ---------------------------------------------------------------- execution


def _cut_shim_tail(tb: Any) -> None:
    """Drop the shim's own frames at the end (our input(), time.sleep): the user's
    line is where the error happened."""
    last_user = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename != __file__:
            last_user = tb
        tb = tb.tb_next
    if last_user is not None:
        last_user.tb_next = None


def _error_content(exc: BaseException, filename: str) -> dict[str, Any]:
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    _cut_shim_tail(tb)
    if isinstance(exc, SyntaxError):
        lines = traceback.format_exception_only(type(exc), exc)
    else:
        lines = traceback.format_exception(type(exc), exc, tb)
    return {
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


def execute(exec_id: str, code: str, is_async: bool = False, allow_stdin: bool = False) -> str:
    """Run one cell, sending its outputs as they happen; return the result line (JSON).

    A cell with a top-level ``await`` is not run by a plain call: the worker
    gets :data:`ASYNC_CELL` and calls again through ``callPromising``.
    ``allow_stdin``: ``input()`` asks the caller (else it fails at once).
    """
    _state["allow_stdin"] = bool(allow_stdin)
    if not is_async and "await" in code and _needs_async(code):
        return ASYNC_CELL
    if exec_id.startswith(WARM_UP_PREFIX):
        count = 0  # the driver's warm-up runs: not the user's cells
    else:
        _state["count"] += 1
        count = _state["count"]
    filename = f"<cell-{count}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    cell = _Cell(exec_id)
    _state["cell"] = cell
    namespace = sys.modules["__main__"].__dict__
    failed = False
    try:
        body, expr = _compile(code, filename)
        _run(body, namespace)
        if expr is not None:
            value = _run(expr, namespace)
            if value is not None:
                if count:
                    builtins._ = value
                data, metadata = _mimebundle(value)
                content = {"data": data, "metadata": metadata, "execution_count": count}
                cell.send("execute_result", content)
    except BaseException as exc:  # noqa: B036 - a cell's SystemExit/KeyboardInterrupt are its errors
        failed = True
        cell.send("error", _error_content(exc, filename))
    finally:
        _drain()
        _state["cell"] = None
    reply = {"op": "result", "id": exec_id, "failed": failed, "execution_count": count}
    return json.dumps(reply)
