"""The vocabulary both sides speak (``remote_kernel/wire.py``): what the pool writes,
the client reads back, from the pool's own body builders (no server needed)."""

from __future__ import annotations

import contextlib
import io
from types import SimpleNamespace

import pytest

from remote_kernel import wire
from remote_kernel.client.messages import Request, Response
from remote_kernel.client.models import ExecutionStatus
from remote_kernel.client.operations import Protocol
from remote_kernel.client.synthesis import parse_traceback_text, synthesise_outputs
from remote_kernel.commands.results import line_value
from remote_kernel.server import shapes

EP = "https://westus2.dynamicsessions.io/subscriptions/s/resourceGroups/g/sessionPools/p"
PNG = "iVBORw0KGgo=\n"
FIGURE = {"output_type": "display_data", "data": {"image/png": PNG}, "metadata": {}}
BOOM = {"ename": "ValueError", "evalue": "boom", "traceback": ["\x1b[31mValueError\x1b[0m: boom"]}


def _outcome(**kw):
    return shapes.RunOutcome(**{"duration_ms": 3.0, **kw})


def _gen2_body(outcome):
    execution = SimpleNamespace(
        id="e-1",
        identifier="s-123",
        execution_type="Synchronous",
        phase="Done",
        outcome=outcome,
        session_created=True,
        code="x",
        max_output_chars=4096,
    )
    return shapes.gen2_execution(execution)


@pytest.mark.parametrize(
    ("outcome", "statuses"),
    [
        (_outcome(stdout="hi\n"), (ExecutionStatus.SUCCEEDED, ExecutionStatus.SUCCEEDED)),
        (_outcome(error=BOOM), (ExecutionStatus.FAILED, ExecutionStatus.FAILED)),
        # Generation 1 has no word for cancelled: Failure.
        (_outcome(cancelled=True), (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)),
    ],
)
@pytest.mark.parametrize("version", ["2024-02-02-preview", "2024-10-02-preview"])
def test_the_client_reads_each_status_the_pool_writes(outcome, statuses, version):
    proto = Protocol(EP, version)
    body = (
        shapes.gen1_execution(outcome, session_created=True)
        if proto.codec.generation == 1
        else _gen2_body(outcome)
    )
    result = proto.parse_execution(Response(200, {}, body), "s-123")
    assert result.status is statuses[proto.codec.generation - 1]
    assert result.session_created is True and result.full_outputs


def test_an_image_result_written_by_the_pool_is_an_image_to_the_client():
    outcome = _outcome(outputs=[FIGURE])
    body = _gen2_body(outcome)
    value = body["result"]["executionResult"]
    assert wire.is_image_result(value) and "\n" not in value["base64_data"]
    # Azure sends no outputs list: the client rebuilds the figure from the value alone.
    outputs = synthesise_outputs("", "", value, None)
    assert outputs == [
        {
            "output_type": "display_data",
            "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<PNG image>"},
            "metadata": {},
        }
    ]
    result = Protocol(EP, "2024-10-02-preview").parse_execution(
        Response(200, {}, {"id": "e", "status": "Succeeded", "result": {"executionResult": value}}),
        "s-123",
    )
    assert line_value(result) is None  # shown as a figure, not returned as a dict


def test_both_sides_strip_the_same_escape_sequences():
    coloured = "\x1b]0;title\x07\x1b[1;31mValueError\x1b[0m: boom\x1bM"
    server_side = shapes.error_text(_outcome(stderr=coloured))
    client_side = parse_traceback_text(coloured)
    assert server_side == "ValueError: boom"
    assert (client_side.ename, client_side.evalue) == ("ValueError", "boom")
    assert "\x1b" not in synthesise_outputs("", coloured, None, None)[0]["text"]


def test_the_packages_script_leaves_the_session_namespace_alone():
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(wire.PACKAGES_SCRIPT, namespace)
    assert set(namespace) == {"__builtins__"}
    names = {name.lower() for name, _ in wire.parse_packages(printed.getvalue())}
    assert "pytest" in names


def test_the_client_falls_back_to_the_shared_packages_script():
    step = Protocol(EP, "2024-10-02-preview").list_packages("s-123")
    first = next(step)
    assert isinstance(first, Request) and first.path == "/packages"
    second = step.send(Response(404, {}, {"error": {"code": "NotFound", "message": "no"}}))
    assert second.json["code"] == wire.PACKAGES_SCRIPT


def test_unreadable_package_output_is_a_value_error():
    with pytest.raises(ValueError):
        wire.parse_packages("no list here\n")


def test_a_stream_never_passes_the_maximum_whatever_the_runtime_appended():
    """The sandbox runtime ends a cut stream with its notice; the answer holds the limit."""
    outcome = _outcome(stdout="x" * 4096 + "\n[output truncated: 5 more characters]\n")
    assert _gen2_body(outcome)["result"]["stdout"] == "x" * 4096
    gen1 = shapes.gen1_execution(outcome, session_created=True, limit=4096)
    assert gen1["properties"]["stdout"] == "x" * 4096
