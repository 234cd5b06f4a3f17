"""Output synthesis: the nbformat outputs a pool without ``outputs`` (Azure) implies.

Azure answers with ``stdout``, ``stderr`` (traceback included) and a result
value; front-ends render nbformat outputs. This module turns the one into the
other, so every front-end renders one list whatever pool it talks to.
"""

from __future__ import annotations

import re
from typing import Any

from remote_kernel.client.models import ErrorInfo
from remote_kernel.wire import image_bundle, is_image_result, strip_ansi

TRACEBACK_HEAD = "Traceback (most recent call last):"
_EXC_LINE = re.compile(
    r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning|Iteration)?)(?::\s?(.*))?$"
)


def parse_traceback_text(text: str) -> ErrorInfo:
    """ename/evalue from a plain Python traceback (what Azure sends in stderr)."""
    clean = strip_ansi(text or "").rstrip()
    lines = clean.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith(TRACEBACK_HEAD)), None)
    body = lines[start:] if start is not None else lines
    for line in reversed(body):
        match = _EXC_LINE.match(line.strip())
        if match and not line.startswith(" "):
            return ErrorInfo(match.group(1), (match.group(2) or "").strip(), body)
    last = body[-1].strip() if body else "The remote execution failed."
    return ErrorInfo("RemoteError", last, body)


def _strip_traceback(stderr: str) -> str:
    index = stderr.find(TRACEBACK_HEAD)
    return stderr[:index] if index >= 0 else ""


def value_bundle(value: Any) -> dict[str, Any] | None:
    """A mime bundle for a result value as Azure sends it."""
    if value is None:
        return None
    if is_image_result(value):
        return image_bundle(value)
    text = value if isinstance(value, str) else repr(value)
    return {"text/plain": text}


def synthesise_outputs(
    stdout: str, stderr: str, value: Any, error: ErrorInfo | None
) -> list[dict[str, Any]]:
    """The nbformat output list a pool without ``outputs`` (Azure) implies."""
    outputs: list[dict[str, Any]] = []
    if stdout:
        outputs.append({"output_type": "stream", "name": "stdout", "text": stdout})
    err_text = strip_ansi(_strip_traceback(stderr) if error is not None else stderr)
    if err_text:
        outputs.append({"output_type": "stream", "name": "stderr", "text": err_text})
    bundle = value_bundle(value)
    if bundle is not None and error is None:
        kind = "display_data" if any(k.startswith("image/") for k in bundle) else "execute_result"
        out: dict[str, Any] = {"output_type": kind, "data": bundle, "metadata": {}}
        if kind == "execute_result":
            out["execution_count"] = None
        outputs.append(out)
    if error is not None:
        outputs.append(
            {
                "output_type": "error",
                "ename": error.ename,
                "evalue": error.evalue,
                "traceback": list(error.traceback),
            }
        )
    return outputs
