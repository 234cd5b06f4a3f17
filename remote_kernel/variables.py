"""Moving Python variables between a local namespace and the remote session.

Variables travel through the session's file area, because that is the only
binary channel the session-pool API has: pickle (protocol 4, which every
Python 3.8+ reads) to bytes, upload under a unique hidden name, and a small
remote script unpickles and deletes it. Pulling is the mirror image. The
remote scripts report back with one marked JSON line on stdout, run inside a
function so they leave no names behind in the session.

Size is limited on purpose and the limit is always stated in the error: a
silent cap (sparkmagic's row limit) is worse than a refusal.
"""

from __future__ import annotations

import ast
import io
import json
import keyword
import pickle
import secrets
from collections.abc import Iterable
from typing import Any

from remote_kernel.errors import ConfigurationError, TransferError
from remote_kernel.transfer_progress import format_size

PICKLE_PROTOCOL = 4
#: Default for ``max_variable_size``: a pickled payload above it is refused (100 MiB).
DEFAULT_MAX_VARIABLE_BYTES = 100 * 1024 * 1024
MARKER = "__ACA_REPORT__"
#: Remote name the cell's last value is kept under for ``%%aca -o NAME``.
LAST_VALUE_NAME = "_aca_last_value"

# Where the file area is, seen from inside the session: Azure mounts it at
# /mnt/data; a local pool without that mount starts the interpreter in it. The
# client always uploads a file first (the payload, or an empty placeholder), and
# the remote side looks for that file, so it never guesses a wrong directory.
_LOCATE = """\
    def _locate(sub, name):
        import os
        for base in ("/mnt/data", os.getcwd()):
            path = os.path.join(base, sub, name)
            if os.path.isfile(path):
                return path
        raise FileNotFoundError("uploaded file " + name + " not found in the session's file area")
"""

_PUSH_SCRIPT = """\
def {fn}(name, sub):
    import json, os, pickle
{locate}
    path = _locate(sub, name)
    try:
        with open(path, "rb") as f:
            payload = pickle.load(f)
    finally:
        try:
            os.remove(path)
        except OSError:
            pass
    report = {{"loaded": [], "failed": {{}}}}
    values = {{}}
    for key, blob in payload.items():
        try:
            values[key] = pickle.loads(blob)
        except Exception as exc:
            report["failed"][key] = type(exc).__name__ + ": " + str(exc)
    if not report["failed"]:  # all or nothing
        globals().update(values)
        report["loaded"] = list(values)
    print({marker!r} + json.dumps(report))
try:
    {fn}({name!r}, {sub!r})
finally:
    del {fn}
"""

_PULL_SCRIPT = """\
def {fn}(names, name, sub, limit, drop):
    import json, os, pickle
{locate}
    ns = globals()
    report = {{"missing": [], "failed": {{}}, "size": 0, "written": False}}
    blobs = {{}}
    for key in names:
        if key not in ns:
            report["missing"].append(key)
            continue
        obj = ns[key]
        try:
            blobs[key] = pickle.dumps(obj, protocol={protocol})
        except Exception as exc:
            kind = type(obj)
            report["failed"][key] = [kind.__module__ + "." + kind.__qualname__,
                                     type(exc).__name__ + ": " + str(exc)]
    if drop:
        for key in names:
            ns.pop(key, None)
    if not report["missing"] and not report["failed"]:
        data = pickle.dumps(blobs, protocol={protocol})
        report["size"] = len(data)
        report["sizes"] = {{key: len(blob) for key, blob in blobs.items()}}
        if len(data) <= limit:
            with open(_locate(sub, name), "wb") as f:
                f.write(data)
            report["written"] = True
    print({marker!r} + json.dumps(report))
try:
    {fn}({names!r}, {name!r}, {sub!r}, {limit!r}, {drop!r})
finally:
    del {fn}
"""


_RENAME_SCRIPT = """\
def {fn}(moves):
    import json, os
{locate}
    sources = [(_locate(sub, tmp), final) for sub, tmp, final in moves]
    for src, final in sources:
        os.replace(src, os.path.join(os.path.dirname(src), final))
    print({marker!r} + json.dumps({{"moved": len(sources)}}))
try:
    {fn}({moves!r})
finally:
    del {fn}
"""


def check_names(names: Iterable[str], command: str) -> list[str]:
    """Valid Python identifiers, in order, without duplicates; one-line error otherwise."""
    result: list[str] = []
    for name in names:
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ConfigurationError(f"{command}: {name!r} is not a valid Python variable name.")
        if name not in result:
            result.append(name)
    if not result:
        raise ConfigurationError(f"{command}: name at least one variable.")
    return result


def _type_name(obj: Any) -> str:
    kind = type(obj)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def limit_error(command: str, what: str, size: int, limit: int) -> ConfigurationError:
    return ConfigurationError(
        f"{command}: {what} is {format_size(size)} pickled, over the {format_size(limit)} limit "
        f"for variables; raise it with `%aca_config max_variable_size=...` (Azure accepts at "
        "most 128 MB per file) or save the data to a file and use %aca_upload/%aca_download."
    )


def pickle_variables(namespace: dict[str, Any], names: list[str], limit: int) -> bytes:
    """One pickle holding each variable's own pickle, so the remote side can name failures."""
    blobs: dict[str, bytes] = {}
    for name in names:
        if name not in namespace:
            raise ConfigurationError(f"%aca_push: no local variable named {name!r}.")
        obj = namespace[name]
        try:
            blobs[name] = pickle.dumps(obj, protocol=PICKLE_PROTOCOL)
        except Exception as exc:  # pickle raises TypeError, PicklingError, AttributeError...
            raise ConfigurationError(
                f"%aca_push: {name!r} cannot be sent: objects of type {_type_name(obj)} "
                f"cannot be pickled ({type(exc).__name__}: {_first_line(exc)})."
            ) from None
        if len(blobs[name]) > limit:
            raise limit_error("%aca_push", repr(name), len(blobs[name]), limit)
    payload = pickle.dumps(blobs, protocol=PICKLE_PROTOCOL)
    if len(payload) > limit:
        raise limit_error("%aca_push", "the set of variables", len(payload), limit)
    return payload


def push_script(file_name: str, sub: str) -> str:
    fn = "_aca_push_" + secrets.token_hex(4)
    return _PUSH_SCRIPT.format(fn=fn, name=file_name, sub=sub, marker=MARKER, locate=_LOCATE)


def rename_script(moves: list[tuple[str, str, str]]) -> str:
    """Remote code that renames uploaded temp files ``(sub, temp, final)`` into place."""
    fn = "_aca_move_" + secrets.token_hex(4)
    return _RENAME_SCRIPT.format(
        fn=fn, moves=[list(m) for m in moves], marker=MARKER, locate=_LOCATE
    )


def pull_script(names: list[str], file_name: str, sub: str, limit: int, drop: bool) -> str:
    fn = "_aca_pull_" + secrets.token_hex(4)
    return _PULL_SCRIPT.format(
        fn=fn,
        names=list(names),
        name=file_name,
        sub=sub,
        limit=limit,
        drop=drop,
        protocol=PICKLE_PROTOCOL,
        marker=MARKER,
        locate=_LOCATE,
    )


def parse_report(stdout: str, command: str) -> dict[str, Any]:
    """The JSON line a remote script printed after :data:`MARKER`."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                report = json.loads(line[len(MARKER) :])
            except ValueError:
                break
            if isinstance(report, dict):
                return report
    raise TransferError(f"{command}: the session sent no readable report; nothing was changed.")


def unpickle_variables(data: bytes, names: list[str]) -> dict[str, Any]:
    """Local side of a pull: each variable on its own, so a failure names it."""
    try:
        blobs = pickle.load(io.BytesIO(data))
    except Exception as exc:
        raise TransferError(f"%aca_pull: the downloaded data is unreadable ({exc}).") from None
    values: dict[str, Any] = {}
    for name in names:
        try:
            values[name] = pickle.loads(blobs[name])
        except Exception as exc:
            raise TransferError(
                f"%aca_pull: {name!r} cannot be rebuilt here ({type(exc).__name__}: "
                f"{_first_line(exc)}); its type must be importable locally too."
            ) from None
    return values


def temp_file_name(kind: str) -> str:
    return f".aca-{kind}-{secrets.token_hex(8)}.pkl"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def last_expression_code(code: str, target: str = LAST_VALUE_NAME) -> str:
    """``code`` with its final expression also bound to ``target`` remotely.

    The line numbers of the user's code stay the same (tracebacks still point
    at the right line), and the value is still shown as the cell's result unless
    the cell ended with ``;``.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        raise ConfigurationError(
            "-o NAME needs plain Python code (no IPython %magics or !commands) "
            "ending with an expression."
        ) from None
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        raise ConfigurationError("-o NAME needs a cell that ends with an expression.")
    node = tree.body[-1].value
    lines = code.splitlines(keepends=True)
    start = _offset(lines, node.lineno, node.col_offset)
    end = _offset(lines, node.end_lineno or node.lineno, node.end_col_offset or 0)
    text = code.encode("utf-8")
    head = text[:start].decode("utf-8")
    expr = text[start:end].decode("utf-8")
    tail = text[end:].decode("utf-8")
    quiet = tail.lstrip().startswith(";")
    new = f"{head}{target} = ({expr}){tail}"
    return new if quiet else f"{new.rstrip()}\n{target}\n"


def _offset(lines: list[str], lineno: int, col: int) -> int:
    """Byte offset of (lineno, col) in the UTF-8 text (ast columns are UTF-8 bytes)."""
    before = sum(len(line.encode("utf-8")) for line in lines[: lineno - 1])
    return before + col
