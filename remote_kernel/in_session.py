"""Whether this process is a remote session itself (a session kernel of the local pool).

The pool sets :data:`IN_SESSION_ENV` in every session's environment, so
``%load_ext remote_kernel`` typed into the remote kernel (which sends it to the
session) can say so instead of starting a second, nested pool in there.
"""

from __future__ import annotations

import os

#: Set to "1" by the pool in each session kernel's environment.
IN_SESSION_ENV = "REMOTE_KERNEL_IN_SESSION"

ALREADY_REMOTE = (
    "remote_kernel: this is already a remote session (every cell runs in it); "
    "the %aca magics are not loaded here.\n"
)


def in_remote_session() -> bool:
    """True inside a session the pool started."""
    return os.environ.get(IN_SESSION_ENV, "") == "1"
