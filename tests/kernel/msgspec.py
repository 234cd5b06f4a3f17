"""The Jupyter messaging spec (5.3+), as checks on every message a kernel sends.

Written from https://jupyter-client.readthedocs.io/en/latest/messaging.html
rather than borrowed from a test suite: jupyter_kernel_test's schemas stop at
5.1 and do not check the fields of error and aborted replies, which is how an
``execute_reply`` without ``execution_count`` got through (and crashed
``jupyter console``).

A reply's fields depend on its ``status``:

- ``ok``: the fields of that reply kind;
- ``error``: ``ename``, ``evalue``, ``traceback``;
- ``aborted``: nothing more (deprecated since 5.1, still sent by ipykernel for
  requests queued behind a failed cell).

``execute_reply`` carries ``execution_count`` whatever its status (the spec
lists it outside the status-dependent part; front-ends read it unconditionally).
Extra fields are allowed: the spec lets kernels add their own.

:func:`validate` returns the problems found (an empty list: the message is
complete); :func:`check` raises :class:`MessageSpecError` with all of them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

#: The oldest protocol version whose fields these checks require.
MIN_PROTOCOL = (5, 3)

Check = Callable[[Any], bool]


class MessageSpecError(AssertionError):
    """A message the kernel sent is incomplete or malformed by the messaging spec."""


# ------------------------------------------------------------------ field kinds


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _one_of(*choices: str) -> Check:
    return lambda value: value in choices


def _is_mime_bundle(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and "/" in k for k in value)


def _is_payload(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(p, dict) and isinstance(p.get("source"), str) for p in value
    )


def _is_help_links(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(link, dict) and _is_str(link.get("text")) and _is_str(link.get("url"))
        for link in value
    )


def _is_history(value: Any) -> bool:
    """``[(session, line, input)]`` or ``[(session, line, (input, output))]``."""

    def entry_ok(entry: Any) -> bool:
        if not isinstance(entry, (list, tuple)) or len(entry) != 3:
            return False
        session, line, item = entry
        if not (_is_int(session) and _is_int(line)):
            return False
        if isinstance(item, str):
            return True
        return (
            isinstance(item, (list, tuple))
            and len(item) == 2
            and isinstance(item[0], str)
            and (item[1] is None or isinstance(item[1], str))
        )

    return isinstance(value, list) and all(entry_ok(e) for e in value)


def _is_comms(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(v, dict) and _is_str(v.get("target_name")) for v in value.values()
    )


# ------------------------------------------------------------ content schemas

#: Fields every ``error`` reply (and the ``error`` IOPub message) carries.
ERROR_FIELDS: dict[str, Check] = {"ename": _is_str, "evalue": _is_str, "traceback": _is_str_list}

#: ``language_info`` in ``kernel_info_reply``: required, then optional fields.
LANGUAGE_INFO: dict[str, Check] = {
    "name": _is_str,
    "version": _is_str,
    "mimetype": _is_str,
    "file_extension": _is_str,
}
LANGUAGE_INFO_OPTIONAL: dict[str, Check] = {
    "pygments_lexer": _is_str,
    "codemirror_mode": lambda v: isinstance(v, (str, dict)),
    "nbconvert_exporter": _is_str,
}

#: Reply kind -> fields of its ``ok`` content (beyond ``status``).
REPLY_OK: dict[str, dict[str, Check]] = {
    "execute_reply": {"payload": _is_payload, "user_expressions": _is_dict},
    "inspect_reply": {"found": _is_bool, "data": _is_mime_bundle, "metadata": _is_dict},
    "complete_reply": {
        "matches": _is_str_list,
        "cursor_start": _is_int,
        "cursor_end": _is_int,
        "metadata": _is_dict,
    },
    "history_reply": {"history": _is_history},
    "kernel_info_reply": {
        "protocol_version": _is_str,
        "implementation": _is_str,
        "implementation_version": _is_str,
        "language_info": _is_dict,
        "banner": _is_str,
        "help_links": _is_help_links,
    },
    "comm_info_reply": {"comms": _is_comms},
    "interrupt_reply": {},
    "shutdown_reply": {"restart": _is_bool},
    "connect_reply": {},
}

#: Fields a reply carries whatever its status.
REPLY_ALWAYS: dict[str, dict[str, Check]] = {"execute_reply": {"execution_count": _is_int}}

#: Optional fields checked when present.
REPLY_OPTIONAL: dict[str, dict[str, Check]] = {
    "kernel_info_reply": {"debugger": _is_bool, "supported_features": _is_str_list},
}

#: IOPub (and stdin) message kind -> required fields, optional fields.
BROADCASTS: dict[str, tuple[dict[str, Check], dict[str, Check]]] = {
    # 5.4 (JEP 65): the first message a new IOPub subscriber gets.
    "iopub_welcome": ({"subscription": _is_str}, {}),
    "status": ({"execution_state": _one_of("busy", "idle", "starting")}, {}),
    "execute_input": ({"code": _is_str, "execution_count": _is_int}, {}),
    "stream": ({"name": _one_of("stdout", "stderr"), "text": _is_str}, {}),
    "display_data": (
        {"data": _is_mime_bundle, "metadata": _is_dict},
        {"transient": _is_dict},
    ),
    "update_display_data": (
        {"data": _is_mime_bundle, "metadata": _is_dict, "transient": _is_dict},
        {},
    ),
    "execute_result": (
        {"execution_count": _is_int, "data": _is_mime_bundle, "metadata": _is_dict},
        {"transient": _is_dict},
    ),
    "error": (ERROR_FIELDS, {}),
    "clear_output": ({"wait": _is_bool}, {}),
    "comm_open": ({"comm_id": _is_str, "target_name": _is_str, "data": _is_dict}, {}),
    "comm_msg": ({"comm_id": _is_str, "data": _is_dict}, {}),
    "comm_close": ({"comm_id": _is_str, "data": _is_dict}, {}),
    "input_request": ({"prompt": _is_str, "password": _is_bool}, {}),
}

#: The channels each kind may arrive on.
CHANNELS: dict[str, set[str]] = {
    **{kind: {"shell", "control"} for kind in REPLY_OK},
    "is_complete_reply": {"shell", "control"},
    **{kind: {"iopub"} for kind in BROADCASTS},
    # The kernel broadcasts its shutdown_reply on IOPub too.
    "shutdown_reply": {"shell", "control", "iopub"},
    "input_request": {"stdin"},
}

HEADER: dict[str, Check] = {
    "msg_id": _is_str,
    "session": _is_str,
    "username": _is_str,
    "date": lambda v: isinstance(v, (str, datetime.datetime)),
    "msg_type": _is_str,
    "version": _is_str,
}


# ------------------------------------------------------------------ checking


def _fields(
    where: str,
    content: dict[str, Any],
    required: dict[str, Check],
    optional: dict[str, Check] | None = None,
) -> list[str]:
    problems = []
    for name, ok in required.items():
        if name not in content:
            problems.append(f"{where}: missing {name!r}")
        elif not ok(content[name]):
            problems.append(f"{where}: bad {name!r}: {content[name]!r}")
    for name, ok in (optional or {}).items():
        if name in content and not ok(content[name]):
            problems.append(f"{where}: bad {name!r}: {content[name]!r}")
    return problems


def _version_ok(version: str) -> bool:
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= MIN_PROTOCOL


def _reply_problems(kind: str, content: dict[str, Any]) -> list[str]:
    status = content.get("status")
    problems = _fields(kind, content, REPLY_ALWAYS.get(kind, {}), REPLY_OPTIONAL.get(kind))
    if status == "ok":
        problems += _fields(kind, content, REPLY_OK[kind])
    elif status == "error":
        problems += _fields(f"{kind} (error)", content, ERROR_FIELDS)
    elif status != "aborted":
        problems.append(f"{kind}: bad 'status': {status!r}")
    if kind == "kernel_info_reply" and status == "ok":
        problems += _kernel_info_problems(content)
    return problems


def _kernel_info_problems(content: dict[str, Any]) -> list[str]:
    problems = []
    if not _version_ok(str(content.get("protocol_version", ""))):
        problems.append(f"kernel_info_reply: protocol_version {content.get('protocol_version')!r}")
    info = content.get("language_info")
    if isinstance(info, dict):
        problems += _fields("language_info", info, LANGUAGE_INFO, LANGUAGE_INFO_OPTIONAL)
    features = content.get("supported_features") or []
    if "debugger" in features and content.get("debugger") is not True:
        problems.append("kernel_info_reply: 'debugger' in supported_features, debugger not True")
    return problems


def _is_complete_problems(content: dict[str, Any]) -> list[str]:
    status = content.get("status")
    if status not in ("complete", "incomplete", "invalid", "unknown"):
        return [f"is_complete_reply: bad 'status': {status!r}"]
    if status == "incomplete":
        return _fields("is_complete_reply (incomplete)", content, {"indent": _is_str})
    return []


def _content_problems(kind: str, content: dict[str, Any]) -> list[str]:
    if kind == "is_complete_reply":
        return _is_complete_problems(content)
    if kind in BROADCASTS:
        required, optional = BROADCASTS[kind]
        return _fields(kind, content, required, optional)
    return _reply_problems(kind, content)


def validate(msg: dict[str, Any], channel: str) -> list[str]:
    """Everything ``msg`` (received on ``channel``) lacks or gets wrong; empty when complete."""
    header = msg.get("header")
    if not isinstance(header, dict):
        return ["message without a header"]
    problems = _fields("header", header, HEADER)
    if _is_str(header.get("version")) and not _version_ok(header["version"]):
        problems.append(f"header: protocol version {header['version']!r} < 5.3")
    for part in ("parent_header", "metadata", "content"):
        if not isinstance(msg.get(part), dict):
            problems.append(f"{part} is not a dict")
    kind = header.get("msg_type")
    if kind not in CHANNELS:
        return [*problems, f"unknown message type {kind!r} on {channel}"]
    if channel not in CHANNELS[kind]:
        problems.append(f"{kind} arrived on {channel}, expected {sorted(CHANNELS[kind])}")
    if isinstance(msg.get("content"), dict):
        problems += _content_problems(kind, msg["content"])
    return problems


def check(msg: dict[str, Any], channel: str) -> dict[str, Any]:
    """``msg`` itself when it is complete by the spec; else MessageSpecError listing why."""
    problems = validate(msg, channel)
    if problems:
        kind = (msg.get("header") or {}).get("msg_type")
        raise MessageSpecError(f"{kind} on {channel}: " + "; ".join(problems))
    return msg
