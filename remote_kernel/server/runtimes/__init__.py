"""What runs a session's code: one contract, the shared rules, one module per runtime.

- ``base``: :class:`SessionRuntime`, the contract the pool talks to, with the
  rules of running a cell that every runtime shares (timeout, cancel, grace
  then restart, lost state, output limits through one collector, live events).
- ``ipython``: an IPython kernel per session, over the Jupyter protocol
  (``JupyterKernelRuntime`` drives any Jupyter kernel; ``IPythonRuntime`` is one).
- ``pyodide``: Pyodide under Deno, a sandbox per session.
- ``shell``: one bash per session (Azure's Shell pools).
- ``javascript``: Deno's Jupyter kernel per session (Azure's NodeLTS pools).
- ``registry``: runtimes by name (``remote-kernel serve --runtime NAME``).
"""

from remote_kernel.server.runtimes.base import (
    InterpreterDied,
    RuntimeFactory,
    RuntimeOptions,
    SessionRuntime,
)
from remote_kernel.server.runtimes.registry import (
    DEFAULT_RUNTIME,
    RuntimeEntry,
    register_runtime,
    runtime_entry,
    runtime_factory,
    runtime_names,
)

__all__ = [
    "DEFAULT_RUNTIME",
    "InterpreterDied",
    "RuntimeEntry",
    "RuntimeFactory",
    "RuntimeOptions",
    "SessionRuntime",
    "register_runtime",
    "runtime_entry",
    "runtime_factory",
    "runtime_names",
]
