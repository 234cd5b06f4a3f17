"""The embedded local session pool: Azure's dynamic-sessions REST API, local interpreters.

``start_local_pool()`` runs it in a background thread (what the kernel and
the magics do when no endpoint is configured); ``remote-kernel serve`` runs
it in the foreground. Layout: ``app`` (routes), ``pool`` (sessions,
executions, cooldown, prewarming), ``files`` (the file area), ``shapes``
(every response body), ``ipython_runtime`` / ``sandbox`` (what runs code).
"""

from remote_kernel.server.background import LocalPool, start_local_pool

__all__ = ["LocalPool", "start_local_pool"]
