"""The Bash and JavaScript kernels: the Python kernel's machinery, another session type.

Each is :class:`~remote_kernel.kernel.kernel.RemoteKernel` with its language's
``language_info`` and :attr:`~remote_kernel.config.PoolSettings.pool_type`, so
cells go to a Shell pool (``shellCommand``) or a Node.js pool (``code``), and
the embedded pool starts the matching runtime. Interrupt, the lost-state
warning, delete-at-shutdown and the ``%aca_*`` commands are the Python kernel's.
What is Python-only there (completion and inspection run as Python in the
session, ``name?`` paging, IPython's completeness check) answers empty, valid
replies here instead.

``REMOTE_KERNEL_LANGUAGE`` (set by the ``remote-bash`` / ``remote-javascript``
kernelspecs) picks the class at launch; see :func:`kernel_class`.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from remote_kernel.kernel import introspect
from remote_kernel.kernel.kernel import RemoteKernel
from remote_kernel.kernel.sink import KernelSink

LANGUAGE_ENV = "REMOTE_KERNEL_LANGUAGE"
_AZURE_DOCS = {
    "text": "Azure Container Apps dynamic sessions",
    "url": "https://learn.microsoft.com/azure/container-apps/sessions",
}


class _OtherLanguageKernel(RemoteKernel):
    """What differs for a language other than Python (subclasses set the language)."""

    #: The pool type this language's cells need (PoolSettings.pool_type).
    session_type = "python"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_type = self.banner_session = self.session_type

    async def do_is_complete(self, code: str) -> dict[str, Any]:  # type: ignore[override]
        return {"status": "unknown"}

    async def do_complete(self, code: str, cursor_pos: int | None) -> dict[str, Any]:  # type: ignore[override]
        return introspect.empty_completion(len(code) if cursor_pos is None else cursor_pos)

    async def do_inspect(  # type: ignore[override]
        self, code: str, cursor_pos: int, detail_level: int = 0, omit_sections: Any = ()
    ) -> dict[str, Any]:
        return introspect.empty_inspection()

    async def _run_pager(self, name: str, detail: int, sink: KernelSink) -> Any:
        """``name?`` is not a help request outside Python: run the cell as written."""
        return await self._run_cell(name + "?" * (detail + 1), str(uuid.uuid4()))


class BashKernel(_OtherLanguageKernel):
    """Bash (remote session): each cell is a command in the session's bash."""

    implementation = "remote_kernel_bash"
    display_language = "Bash"
    session_type = "shell"
    language_info = {
        "name": "bash",
        "version": "5",
        "mimetype": "text/x-sh",
        "codemirror_mode": "shell",
        "pygments_lexer": "bash",
        "file_extension": ".sh",
    }
    help_links = [
        {"text": "Bash Reference", "url": "https://www.gnu.org/software/bash/manual/"},
        _AZURE_DOCS,
    ]


class JavaScriptKernel(_OtherLanguageKernel):
    """JavaScript (remote session): cells run in a Node.js (NodeLTS) session."""

    implementation = "remote_kernel_javascript"
    display_language = "JavaScript"
    session_type = "javascript"
    language_info = {
        "name": "javascript",
        "version": "ES2023",
        "mimetype": "text/javascript",
        "codemirror_mode": "javascript",
        "pygments_lexer": "javascript",
        "file_extension": ".js",
    }
    help_links = [
        {
            "text": "JavaScript Reference",
            "url": "https://developer.mozilla.org/docs/Web/JavaScript",
        },
        _AZURE_DOCS,
    ]


KERNELS: dict[str, type[RemoteKernel]] = {
    "python": RemoteKernel,
    "bash": BashKernel,
    "javascript": JavaScriptKernel,
}


def kernel_class() -> type[RemoteKernel]:
    """The kernel ``REMOTE_KERNEL_LANGUAGE`` names (Python when unset or unknown)."""
    return KERNELS.get(os.environ.get(LANGUAGE_ENV, "python").strip().lower(), RemoteKernel)
