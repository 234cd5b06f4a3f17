"""The vocabulary the client and the local pool both speak, defined once.

The pool (``server/``) writes these words and the client (``client/``) reads
them; when both import them from here they cannot drift apart (they had: two
different ANSI patterns, three spellings of the image result). Only the
standard library is imported, so either side may import this module without
pulling in the other.

- execution status names (both generations' spellings);
- the extension fields of ``docs/protocol-extensions.md``, and the streaming extension's
  header, media type and event names;
- the image result dict Azure sends for a plotted figure;
- ANSI escape stripping;
- the script that lists a session's packages, and the reading of its output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

# -- execution status ---------------------------------------------------------------------

SUCCEEDED = "Succeeded"
FAILED = "Failed"
#: Azure's ``OperationState`` spelling; the client also reads our old "Cancelled".
CANCELLED = "Canceled"
RUNNING = "Running"
NOT_STARTED = "NotStarted"
TIMED_OUT = "TimedOut"
#: Generation 1 (``properties.status``) says only these two.
GEN1_SUCCESS = "Success"
GEN1_FAILURE = "Failure"

#: Every spelling a pool may send, lower-cased, to the generation-2 name.
STATUS_ALIASES = {
    "success": SUCCEEDED,
    "succeeded": SUCCEEDED,
    "failure": FAILED,
    "failed": FAILED,
    "cancelled": CANCELLED,
    "canceled": CANCELLED,
    "running": RUNNING,
    "notstarted": NOT_STARTED,
    "timedout": TIMED_OUT,
}

# -- extension fields (docs/protocol-extensions.md) ---------------------------------------

OUTPUTS = "outputs"
ERROR = "error"
TRUNCATED = "truncated"
SESSION_CREATED = "sessionCreated"
TIMED_OUT_FLAG = "timedOut"
STATE_LOST = "stateLost"


def extension_fields(
    *,
    outputs: list[dict[str, Any]],
    error: dict[str, Any] | None,
    truncated: bool,
    session_created: bool,
    timed_out: bool,
    state_lost: bool,
) -> dict[str, Any]:
    """The local pool's additions, written next to ``stdout``/``stderr`` in both generations."""
    return {
        OUTPUTS: outputs,
        ERROR: error,
        TRUNCATED: truncated,
        SESSION_CREATED: session_created,
        TIMED_OUT_FLAG: timed_out,
        STATE_LOST: state_lost,
    }


# -- the streaming extension (docs/protocol-extensions.md) -------------------------------

#: Response header on every answer of the local pool: the extensions it speaks.
FEATURES_HEADER = "x-remote-kernel-features"
STREAM_FEATURE = "stream"
STDIN_FEATURE = "stdin"
CANCEL_FEATURE = "cancel"
#: What ``Accept`` asks ``POST /executions`` (and ``GET /executions/{id}``) to stream.
EVENT_STREAM = "text/event-stream"
#: The last event of a stream: its data is the JSON body a non-streamed request gets.
RESULT_EVENT = "result"
#: Events the log no longer holds (a resume from before its window): data ``{"dropped": n}``.
GAP_EVENT = "gap"
#: Output events a stream carries, by their Jupyter IOPub ``msg_type``.
OUTPUT_EVENTS = frozenset(
    {"stream", "display_data", "update_display_data", "clear_output", "execute_result", "error"}
)
INPUT_REQUEST_EVENT = "input_request"
#: The first event when the request created its session: ``{"sessionCreated": true}``, so a
#: client can say "your variables are gone" before the run's output, not after it.
SESSION_EVENT = "session"


def content_type(headers: Mapping[str, str]) -> str:
    """The ``Content-Type`` of any header mapping (case-insensitive or not), or ''."""
    return next((v for k, v in headers.items() if k.lower() == "content-type"), "")


def is_event_stream(status: int, headers: Mapping[str, str]) -> bool:
    """The answer is a streamed execution's events (an error answer never is)."""
    return status < 400 and content_type(headers).startswith(EVENT_STREAM)


def parse_features(value: str | None) -> frozenset[str]:
    """The feature names of a ``x-remote-kernel-features`` header (none when absent)."""
    return frozenset(p.strip().lower() for p in (value or "").split(",") if p.strip())


# -- the image result ---------------------------------------------------------------------

#: Image ``format`` -> mime type.
IMAGE_MIMES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "svg": "image/svg+xml",
}


def image_result(base64_data: str, fmt: str = "png") -> dict[str, str]:
    """Azure's result for a figure: ``{"type": "image", "format", "base64_data"}``."""
    return {"type": "image", "format": fmt, "base64_data": base64_data.replace("\n", "")}


def is_image_result(value: Any) -> bool:
    return (
        isinstance(value, dict) and value.get("type") == "image" and bool(value.get("base64_data"))
    )


def image_bundle(value: dict[str, Any]) -> dict[str, str]:
    """The mime bundle an image result stands for."""
    fmt = str(value.get("format", "png")).lower()
    mime = IMAGE_MIMES.get(fmt, f"image/{fmt}")
    return {mime: value["base64_data"], "text/plain": f"<{fmt.upper()} image>"}


# -- terminal colours ---------------------------------------------------------------------

#: CSI sequences (colours, cursor), OSC sequences (titles, links) and two-byte escapes.
ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


# -- the session's packages ---------------------------------------------------------------

#: Prints the session's distributions as one JSON line without touching its namespace.
PACKAGES_SCRIPT = (
    "(lambda m, j: print(j.dumps(sorted({(d.metadata['Name'], d.version) "
    "for d in m.distributions() if d.metadata['Name']}))))"
    "(__import__('importlib.metadata').metadata, __import__('json'))"
)


def parse_packages(stdout: str) -> list[tuple[str, str]]:
    """``(name, version)`` pairs from what :data:`PACKAGES_SCRIPT` printed.

    Raises ValueError when no list can be read (the caller says what failed).
    """
    lines = [line for line in stdout.splitlines() if line.startswith("[")]
    if not lines:
        raise ValueError("no package list in the output")
    return [(str(name), str(version)) for name, version in json.loads(lines[-1])]
