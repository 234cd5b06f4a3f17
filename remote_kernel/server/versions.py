"""What each generation-2 api-version's document (or its examples) fixes about executions.

Azure's documents differ per api-version in small ways the pool must follow:
the status code of ``POST /executions``, whether a ``None`` value is ``null``,
the default of ``outputStreamsMaxLength``. One row per version, so handlers
ask this table and never compare version strings (sources:
``docs/protocol-extensions.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from remote_kernel.server.pool import DEFAULT_MAX_OUTPUT_CHARS

#: The pool's own stream cap where the document sets no default.
POOL_STREAM_MAX = DEFAULT_MAX_OUTPUT_CHARS


@dataclass(frozen=True)
class ExecutionShape:
    #: Status code of ``POST /executions`` (Synchronous and Asynchronous alike).
    execute_status: int = 202
    #: A ``None`` last value is ``"executionResult": null`` (else ``""``).
    none_is_null: bool = False
    #: ``outputStreamsMaxLength`` when the request has none.
    default_stream_max: int = POOL_STREAM_MAX


SHAPES: dict[str, ExecutionShape] = {
    # Document: 202 only; examples and the custom-container tutorial: 202.
    "2024-10-02-preview": ExecutionShape(),
    # Document: 200; its examples (Sync, Async_Running, Async_Completed): 202. The samples win.
    "2025-02-02-preview": ExecutionShape(),
    # Document and every example: 200; CodeExecution_Execute_Result_None; default 4096.
    "2025-10-02-preview": ExecutionShape(
        execute_status=200, none_is_null=True, default_stream_max=4096
    ),
}
#: Generation 1 and any version not listed.
DEFAULT = ExecutionShape(execute_status=200)


def shape_for(api_version: str | None) -> ExecutionShape:
    return SHAPES.get(api_version or "", DEFAULT)
