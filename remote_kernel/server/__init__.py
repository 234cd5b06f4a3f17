"""The embedded local session pool: Azure's dynamic-sessions REST API, local interpreters.

``start_local_pool()`` runs it in a background thread (what the kernel and
the magics do when no endpoint is configured); ``remote-kernel serve`` runs
it in the foreground. The modules, from the outside in:

- ``background``: :func:`start_local_pool`, uvicorn in a thread.
- ``app``: the routes (both API generations); ``openapi``: their OpenAPI document.
- ``shapes``: every response body; ``api_errors``: the error answer every layer raises;
  ``versions``: what differs between api-versions (status codes, limits, null values).
- ``pool``: sessions by identifier, executions, cooldown, prewarming.
- ``files``: a session's file area (uploads, downloads, listings).
- ``metadata``: ``GET /metadata``, what a session of this pool runs (asked of a runtime once).
- ``mcp``: the pool's MCP server over HTTP (``serve --mcp``); ``mcp_protocol``: its
  messages as plain data; ``mcp_tools``: its tools, run in sessions (or beside them);
  ``mcp_settings``: where its settings come from.
- ``outputs``: one execution's output events and outcome, with the output limits.
- ``streaming``: a streamed execution's event log and its server-sent events.
- ``runtimes``: what runs a session's code; the contract and its shared rules
  (``runtimes.base``), IPython (``runtimes.ipython``), Pyodide under Deno
  (``runtimes.pyodide``), bash (``runtimes.shell``), Deno's JavaScript kernel
  (``runtimes.javascript``) and the registry by name (``runtimes.registry``).
- ``session_types``: which request body each pool type takes, and a shell
  pool's answer (the exit code).
- ``mnt_data``: whether and how IPython sessions get a private ``/mnt/data``.
- ``sandbox``: what the Pyodide runtime needs on the host (Deno, Pyodide, JS side).
- ``inside``: code that runs inside a session's interpreter, never imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remote_kernel.server.background import LocalPool, start_local_pool

__all__ = ["LocalPool", "start_local_pool"]


def __getattr__(name: str) -> Any:
    """Load the server (uvicorn, starlette) on first use: the wrapper kernel imports
    ``server.inside`` without it, and a kernel on Azure never needs it."""
    if name in __all__:
        from remote_kernel.server import background

        return getattr(background, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
