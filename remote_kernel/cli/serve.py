"""``remote-kernel serve``: run the local session pool in the foreground until Ctrl-C.

It prints one line, ``Pool endpoint: http://HOST:PORT``, to use as the pool
endpoint (``ACA_POOL_ENDPOINT``), and stops every session's interpreter on
SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from remote_kernel.config import TOKEN_ENV, env_first
from remote_kernel.server.pool import DEFAULT_COOLDOWN, DEFAULT_MAX_SESSIONS
from remote_kernel.server.runtimes import DEFAULT_RUNTIME, runtime_entry, runtime_names


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be 0-65535 (0: any free port)")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="Run the local session pool (the dynamic-sessions REST API with local kernels).",
        description="Serve Azure Container Apps dynamic sessions' REST API (both generations) "
        "with one local interpreter per session (an IPython kernel; Pyodide with --runtime "
        "pyodide; bash with --runtime shell, a Shell pool). Prints the endpoint URL; Ctrl-C stops it.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1).")
    parser.add_argument("--port", type=_port, default=0, help="Port (default 0: any free port).")
    parser.add_argument(
        "--token",
        default=None,
        help="Require 'Authorization: Bearer TOKEN' on every request (env: ACA_POOL_TOKEN). "
        "Prefer the env var: command lines are visible to other users.",
    )
    parser.add_argument(
        "--root",
        default=None,
        help="Directory for the sessions' files (default: a temporary directory). "
        "What the pool creates inside it is removed at shutdown.",
    )
    parser.add_argument(
        "--max-sessions",
        type=_positive_int,
        default=DEFAULT_MAX_SESSIONS,
        help=f"Most live sessions at once (default {DEFAULT_MAX_SESSIONS}).",
    )
    parser.add_argument(
        "--cooldown",
        type=_positive_float,
        default=DEFAULT_COOLDOWN,
        help=f"Seconds an idle session lives, files included (default {DEFAULT_COOLDOWN:g}).",
    )
    parser.add_argument(
        "--prewarm",
        type=_non_negative_int,
        default=1,
        help="Interpreters kept started ahead for new sessions (default 1).",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=_positive_float,
        default=128.0,
        help="Largest upload accepted, in MB (default 128, as Azure; 413 past it).",
    )
    parser.add_argument(
        "--runtime",
        type=str.lower,
        choices=runtime_names(),
        default=DEFAULT_RUNTIME,
        help="What runs the sessions' code: "
        + "; ".join(f"{name}: {runtime_entry(name).summary}" for name in runtime_names())
        + f" (default {DEFAULT_RUNTIME}).",
    )
    parser.add_argument(
        "--sandbox",
        dest="runtime",
        action="store_const",
        const="pyodide",
        help="The same as --runtime pyodide: sessions in Pyodide under Deno (a sandbox).",
    )
    parser.add_argument(
        "--session-python",
        metavar="PATH",
        default=None,
        help="Python interpreter the sessions run (it needs ipykernel; default: the one "
        "running this command). Choose it to choose the sessions' packages.",
    )
    parser.add_argument(
        "--no-mnt-data",
        dest="mnt_data",
        action="store_false",
        help="Do not give sessions a private /mnt/data mount (Linux user namespaces); "
        "their files are then only their working directory. Env: REMOTE_KERNEL_NO_MNT_DATA=1.",
    )
    parser.add_argument(
        "--mcp",
        action="store_true",
        help="Also serve the pool's MCP server at {endpoint}/mcp, as Azure's mcpServerSettings "
        "(tools launchShell, runShellCommandInRemoteEnvironment, runPythonCodeInRemoteEnvironment; "
        "API key in x-ms-apikey).",
    )
    parser.add_argument(
        "--mcp-api-key",
        metavar="KEY",
        default=None,
        help="The MCP server's API key (implies --mcp; env: ACA_MCP_API_KEY; default: a new "
        "key printed once). Prefer the env var: command lines are visible to other users.",
    )
    parser.add_argument(
        "--allow-insecure-remote",
        action="store_true",
        help="Allow a non-loopback --host without a token (anyone reaching it can run code).",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="Server log level (default warning; debug adds an access log).",
    )
    parser.set_defaults(func=run)


def _mnt_data_line(enabled: bool) -> str:
    from remote_kernel.server import mnt_data

    support = mnt_data.support(enabled, shown=True)
    return support.describe() if support.available else f"Warning: {support.describe()}"


def _mcp_key(args: argparse.Namespace) -> tuple[str | None, bool]:
    """The MCP server's key (None: no MCP server) and whether it was generated."""
    if not (args.mcp or args.mcp_api_key):
        return None, False
    from remote_kernel.server.mcp_settings import serve_key

    return serve_key(args.mcp_api_key)


def _print_mcp(url: str, generated_key: str | None) -> None:
    """The MCP endpoint, and a generated key this once (a given key is never echoed)."""
    print(f"MCP endpoint: {url}/mcp", flush=True)
    if generated_key:
        print(f"MCP API key: {generated_key}", flush=True)
    else:
        print("MCP API key: the one given (--mcp-api-key or ACA_MCP_API_KEY)", flush=True)


def run(args: argparse.Namespace) -> int:
    from remote_kernel.server import start_local_pool

    token = args.token or env_first(TOKEN_ENV) or None
    mcp_key, mcp_key_generated = _mcp_key(args)
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    # Decided before the pool starts its first interpreter, so the warning shows once.
    mounts = runtime_entry(args.runtime).mounts_mnt_data
    mnt_line = _mnt_data_line(args.mnt_data) if mounts else None
    try:
        pool = start_local_pool(
            host=args.host,
            port=args.port,
            token=token,
            root=args.root,
            max_sessions=args.max_sessions,
            cooldown=args.cooldown,
            prewarm=args.prewarm,
            runtime=args.runtime,
            max_upload_mb=args.max_upload_mb,
            allow_insecure_remote=args.allow_insecure_remote,
            log_level=args.log_level,
            session_python=args.session_python,
            mnt_data=args.mnt_data,
            mcp_api_key=mcp_key,
        )
        try:
            print(f"Pool endpoint: {pool.url}", flush=True)
            if mcp_key:
                _print_mcp(pool.url, mcp_key if mcp_key_generated else None)
            auth = "a bearer token is required" if token else "no token (loopback only)"
            print(f"Sessions: at most {args.max_sessions}, {auth}. Ctrl-C stops.", file=sys.stderr)
            if mnt_line:
                print(mnt_line, file=sys.stderr, flush=True)
            while not stop.wait(0.5):
                pass
        finally:
            pool.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
