"""Run the local pool in a background thread of the calling process.

The kernel and the magics start the pool on demand with :func:`start_local_pool`:
uvicorn serves it from a daemon thread with its own event loop (signal
handlers left to the host process, as httpx's test server does), and the call
returns once the pool accepts connections. :meth:`LocalPool.stop` (also run at
exit) stops every session's interpreter and removes the pool's directories.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from remote_kernel.config import is_loopback
from remote_kernel.errors import ConfigurationError
from remote_kernel.server.app import DEFAULT_MAX_UPLOAD_BYTES, create_app
from remote_kernel.server.pool import DEFAULT_COOLDOWN, DEFAULT_MAX_SESSIONS, SessionPool
from remote_kernel.server.runtimes import DEFAULT_RUNTIME, RuntimeFactory, runtime_entry
from remote_kernel.server.runtimes import runtime_factory as runtime_factory_named

if TYPE_CHECKING:
    from remote_kernel.server.mcp_tools import ToolRuntimes

log = logging.getLogger(__name__)


class _ThreadServer(uvicorn.Server):
    """A uvicorn server that never touches signal handlers (they belong to the host)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass


#: Seconds an idle keep-alive connection stays open.
KEEP_ALIVE_SECONDS = 120


def check_bind(host: str, token: str | None, allow_insecure_remote: bool) -> None:
    """Refuse to serve code execution to the network without a token, unless forced."""
    if token or allow_insecure_remote or is_loopback(f"http://{_url_host(host)}"):
        return
    raise ConfigurationError(
        f"Refusing to listen on {host} without a token: anyone who can reach it could run code "
        "on this machine.",
        fix="Pass --token (or set ACA_POOL_TOKEN), or --allow-insecure-remote if you really "
        "mean it.",
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        raise ConfigurationError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from exc
    # Accepted connections inherit it: without it uvicorn's two writes per response
    # (headers, body) meet the client's delayed ACK and every keep-alive call waits ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class LocalPool:
    """Handle on a running local pool: ``url``, ``token``, :meth:`stop`."""

    def __init__(self, server: _ThreadServer, pool: SessionPool, url: str, token: str | None):
        self.url = url
        self.token = token
        self.pool = pool
        self._server = server
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_lock = threading.Lock()
        self._stopped = False

    def __repr__(self) -> str:  # never the token
        state = "stopped" if self._stopped else "running"
        return f"<LocalPool {self.url} {state}>"

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return not self._stopped and self._thread is not None and self._thread.is_alive()

    def call(self, coro: Any, timeout: float = 60.0) -> Any:
        """Run a coroutine on the pool's event loop from another thread."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def kernel_pids(self) -> list[int]:
        """Process ids of every session interpreter and prewarmed spare."""
        if not self.running:
            return []

        async def pids() -> list[int]:
            return self.pool.pids()

        return list(self.call(pids(), 10.0))

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every interpreter, remove the pool's directories, end the thread. Idempotent."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        atexit.unregister(self.stop)
        thread = self._thread
        if thread is not None and thread.is_alive():
            # Close the pool first: in-flight executions end at once (their session
            # is gone), so uvicorn has no request left to wait for.
            with contextlib.suppress(FutureTimeout, RuntimeError):
                self.call(self.pool.close(), timeout)
            self._server.should_exit = True
            thread.join(timeout)
            if thread.is_alive():
                log.warning("the local pool's server thread did not stop within %g s", timeout)

    def _run(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._server.serve(sockets=[sock]))
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(self.pool.close())
            loop.close()
            sock.close()


def _mcp_runtimes(runtime: str, mnt_data: bool) -> ToolRuntimes:
    """Where the MCP tools run on a pool of ``runtime`` (loaded only with ``--mcp``)."""
    from remote_kernel.server.mcp_tools import tool_runtimes

    return tool_runtimes(runtime_entry(runtime), mnt_data=mnt_data)


def start_local_pool(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    root: str | Path | None = None,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
    cooldown: float = DEFAULT_COOLDOWN,
    prewarm: int = 1,
    runtime: str = DEFAULT_RUNTIME,
    sandbox: bool = False,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_BYTES / (1024 * 1024),
    allow_insecure_remote: bool = False,
    log_level: str = "warning",
    startup_timeout: float = 60.0,
    runtime_factory: RuntimeFactory | None = None,
    session_python: str | None = None,
    mnt_data: bool = True,
    mcp_api_key: str | None = None,
    session_type: str | None = None,
) -> LocalPool:
    """Start a local pool in a daemon thread; returns once it accepts connections.

    ``token=None`` serves without authentication (refused off loopback unless
    ``allow_insecure_remote``). ``root=None`` keeps the sessions' files in a
    temporary directory removed at stop. ``runtime`` names what runs the
    sessions' code (see :func:`~remote_kernel.server.runtimes.runtime_names`);
    ``sandbox=True`` is the older spelling of ``runtime="pyodide"``;
    ``runtime_factory`` overrides both. ``session_python`` is the sessions' interpreter
    (default: this one); ``mnt_data=False`` gives sessions their file area as the
    working directory only, without a private ``/mnt/data`` mount. ``mcp_api_key``
    also serves the MCP endpoint at ``/mcp`` with that key. ``session_type`` (python,
    javascript, shell) is the runtime's unless given (with a ``runtime_factory``).
    """
    check_bind(host, token, allow_insecure_remote)
    if max_sessions < 1 or cooldown <= 0 or prewarm < 0 or max_upload_mb <= 0:
        raise ConfigurationError(
            "max_sessions must be >= 1, cooldown > 0, prewarm >= 0 and max_upload_mb > 0."
        )
    name = "pyodide" if sandbox else runtime
    factory = runtime_factory or runtime_factory_named(
        name, session_python=session_python, mnt_data=mnt_data
    )
    pool = SessionPool(
        factory,
        root=Path(root) if root is not None else None,
        max_sessions=max_sessions,
        cooldown=cooldown,
        prewarm=prewarm,
    )
    app = create_app(
        pool,
        token=token,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        mcp_api_key=mcp_api_key,
        session_type=session_type or runtime_entry(name).session_type,
        mcp_runtimes=_mcp_runtimes(name, mnt_data) if mcp_api_key else None,
    )
    sock = _listen(host, port)
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        access_log=log_level == "debug",
        timeout_graceful_shutdown=3,
        # Longer than any client's keep-alive expiry (ours: 60 s), so a client never sends
        # on a connection the pool is closing at that instant (a lost execution otherwise).
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    server = _ThreadServer(config)
    bound_port = sock.getsockname()[1]
    handle = LocalPool(server, pool, f"http://{_url_host(host)}:{bound_port}", token)
    thread = threading.Thread(
        target=handle._run, args=(sock,), name=f"remote-kernel-pool-{bound_port}", daemon=True
    )
    handle._thread = thread
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            handle.stop(5.0)
            raise ConfigurationError(
                f"The local pool did not start on {host}:{bound_port} "
                "(see the log above for the reason)."
            )
        time.sleep(0.005)
    atexit.register(handle.stop)
    return handle
