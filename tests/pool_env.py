"""The test process's environment pointed at one pool: shared by the kernel, magics and
journey suites (importable because ``tests/`` is their packages' base directory)."""

from __future__ import annotations

import os
from typing import Any

#: What a user's environment may carry that would change where cells run.
POOL_VARS = ("POOL_ENDPOINT", "POOL_MANAGEMENT_ENDPOINT")


def pool_env(
    pool: Any | None = None, *, drop: tuple[str, ...] = (), **extra: str
) -> dict[str, str]:
    """This environment without pool settings (and ``drop``), pointed at ``pool`` if given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ACA_") and k not in POOL_VARS and k not in drop
    }
    if pool is not None:
        env.update(ACA_POOL_ENDPOINT=pool.url, ACA_POOL_TOKEN=pool.token)
    env.update(extra)
    return env
