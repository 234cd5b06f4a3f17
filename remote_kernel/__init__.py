"""remote_kernel: run notebook cells in remote Python sessions.

Layers (each its own sub-package):

- ``remote_kernel.client``: the session-pool REST client (Azure Container Apps
  dynamic sessions, both API generations) and its auth.
- ``remote_kernel.server``: the embedded local session pool speaking the same API.
- ``remote_kernel.kernel`` and ``remote_kernel.magics``: the Jupyter front-ends.
- ``remote_kernel.cli``: the ``remote-kernel`` command.
"""

from __future__ import annotations

__version__ = "0.1.0"


def load_ipython_extension(ipython):  # pragma: no cover - thin shim
    """``%load_ext remote_kernel``: register the ``%%aca`` family of magics."""
    from remote_kernel.magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):  # pragma: no cover - thin shim
    from remote_kernel.magics import unload_ipython_extension as _unload

    _unload(ipython)
