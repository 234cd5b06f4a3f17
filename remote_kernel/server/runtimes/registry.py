"""Session runtimes by name: what ``--runtime`` and ``local_pool_runtime`` choose from.

As jupyter_client picks a kernel provisioner by name, the pool picks a runtime
here. An entry names the module that implements it, imported only when the
runtime is used (the Pyodide one needs the ``sandbox`` extra). Each module
offers ``factory(options) -> RuntimeFactory``. A new runtime is one module
plus one :func:`register_runtime` line; the conformance suite
(``tests/runtimes``) then runs against it too.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from remote_kernel.errors import ConfigurationError
from remote_kernel.server.runtimes.base import RuntimeFactory, RuntimeOptions

DEFAULT_RUNTIME = "python"


@dataclass(frozen=True)
class RuntimeEntry:
    name: str
    #: The module with ``factory(options)``, imported on first use.
    module: str
    summary: str
    #: How to get what the module needs, should importing it fail.
    install_hint: str = ""
    #: Sessions run as local processes that get ``/mnt/data`` from a mount namespace.
    mounts_mnt_data: bool = False
    #: What the pool's sessions run, hence the request bodies it takes (python,
    #: javascript or shell; see ``server/session_types.py``).
    session_type: str = "python"
    #: Sessions are sandboxed: nothing may start a local process beside them (the MCP
    #: server's shell tool refuses rather than run a bash with your rights).
    sandboxed: bool = False


_RUNTIMES: dict[str, RuntimeEntry] = {}


def register_runtime(entry: RuntimeEntry) -> None:
    """Add (or replace) a runtime under ``entry.name``."""
    _RUNTIMES[entry.name] = entry


def runtime_names() -> list[str]:
    return list(_RUNTIMES)


def runtime_entry(name: str) -> RuntimeEntry:
    """The entry for ``name`` (case-insensitive), or a clear error listing the choices."""
    entry = _RUNTIMES.get(name.strip().lower())
    if entry is None:
        raise ConfigurationError(
            f"Unknown session runtime {name!r}.",
            fix=f"Choose one of: {', '.join(runtime_names())}.",
        )
    return entry


def runtime_factory(
    name: str = DEFAULT_RUNTIME, *, session_python: str | None = None, mnt_data: bool = True
) -> RuntimeFactory:
    """The factory of the runtime called ``name``, given the pool's options."""
    entry = runtime_entry(name)
    try:
        module = importlib.import_module(entry.module)
    except ImportError as exc:
        raise ConfigurationError(
            f"The {entry.name} runtime cannot be loaded ({exc}).", fix=entry.install_hint or None
        ) from exc
    return module.factory(RuntimeOptions(session_python=session_python, mnt_data=mnt_data))


register_runtime(
    RuntimeEntry(
        "python",
        "remote_kernel.server.runtimes.ipython",
        "an IPython kernel per session: a local process with your rights",
        mounts_mnt_data=True,
    )
)
register_runtime(
    RuntimeEntry(
        "pyodide",
        "remote_kernel.server.runtimes.pyodide",
        "Pyodide (CPython on WebAssembly) under Deno: a sandbox per session",
        install_hint="Install the sandbox extra: pip install 'aca-remote-kernel[sandbox]'.",
        sandboxed=True,
    )
)
register_runtime(
    RuntimeEntry(
        "shell",
        "remote_kernel.server.runtimes.shell",
        "a bash process per session (Azure's Shell pools): a local process with your rights",
        mounts_mnt_data=True,
        session_type="shell",
    )
)
register_runtime(
    RuntimeEntry(
        "javascript",
        "remote_kernel.server.runtimes.javascript",
        "Deno's Jupyter kernel per session (Azure's NodeLTS pools): a local process "
        "with your rights",
        install_hint="Install Deno's wheel: pip install 'aca-remote-kernel[sandbox]'.",
        mounts_mnt_data=True,
        session_type="javascript",
    )
)
