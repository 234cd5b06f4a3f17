"""The wrapper kernel ("Python (remote session)").

Imports stay lazy: ``remote_kernel.kernel.spec`` (used by ``remote-kernel
install``) must not pull in ipykernel.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RemoteKernel", "launch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from remote_kernel.kernel import kernel

        return getattr(kernel, name)
    raise AttributeError(name)
