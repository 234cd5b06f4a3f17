"""The MCP message layer as plain data: no server, no I/O (sans-I/O, as the REST shapes)."""

from __future__ import annotations

import pytest

from remote_kernel.server import mcp_protocol as proto


def test_initialize_without_params_is_a_request() -> None:
    call = proto.parse_message({"jsonrpc": "2.0", "id": "1", "method": "initialize"})
    assert call == proto.Call("initialize", {}, "1", True)


def test_a_notification_has_no_id_and_a_client_response_is_nothing_to_answer() -> None:
    note = proto.parse_message({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert note is not None and not note.is_request
    assert proto.parse_message({"jsonrpc": "2.0", "id": 3, "result": {}}) is None


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ([1], proto.INVALID_REQUEST),
        ({"id": 1, "method": "ping"}, proto.INVALID_REQUEST),
        ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, proto.INVALID_REQUEST),
        ({"jsonrpc": "2.0", "id": 1, "method": 7}, proto.INVALID_REQUEST),
        ({"jsonrpc": "2.0", "id": [1], "method": "ping"}, proto.INVALID_REQUEST),
        ({"jsonrpc": "2.0", "id": True, "method": "ping"}, proto.INVALID_REQUEST),
        ({"jsonrpc": "2.0", "id": 1}, proto.INVALID_REQUEST),
        ({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}, proto.INVALID_PARAMS),
    ],
)
def test_malformed_messages_are_protocol_errors(message: object, code: int) -> None:
    with pytest.raises(proto.ProtocolError) as caught:
        proto.parse_message(message)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", proto.PARSE_ERROR),
        (b"\xff\xfe", proto.PARSE_ERROR),
        (b"[]", proto.INVALID_REQUEST),
    ],
)
def test_bodies_that_hold_no_message(raw: bytes, code: int) -> None:
    with pytest.raises(proto.ProtocolError) as caught:
        proto.parse_body(raw)
    assert caught.value.code == code


def test_a_batch_is_a_list_of_messages() -> None:
    assert proto.parse_body(b'[{"a": 1}, {"b": 2}]') == ([{"a": 1}, {"b": 2}], True)
    assert proto.parse_body(b'{"a": 1}') == ([{"a": 1}], False)


def test_tool_arguments_are_checked_against_the_schemas() -> None:
    shell = proto.parse_tool_call(
        {"name": proto.RUN_SHELL, "arguments": {"environmentId": "e", "execCommandAndArgs": ["ls"]}}
    )
    assert shell.exec_args == ("ls",) and shell.shell_command is None
    python = proto.parse_tool_call(
        {"name": proto.RUN_PYTHON, "arguments": {"environmentId": "e", "pythonCode": "1"}}
    )
    assert (python.environment_id, python.python_code) == ("e", "1")
    assert proto.parse_tool_call({"name": proto.LAUNCH_SHELL}) == proto.ToolCall(proto.LAUNCH_SHELL)


@pytest.mark.parametrize(
    "params",
    [
        {"name": "rm -rf"},
        {"name": None},
        {"name": proto.LAUNCH_SHELL, "arguments": "x"},
        {"name": proto.LAUNCH_SHELL, "arguments": {"extra": 1}},
        {"name": proto.RUN_PYTHON, "arguments": {"pythonCode": "1"}},
        {"name": proto.RUN_PYTHON, "arguments": {"environmentId": 5, "pythonCode": "1"}},
        {"name": proto.RUN_PYTHON, "arguments": {"environmentId": "e", "pythonCode": ["1"]}},
        {"name": proto.RUN_SHELL, "arguments": {"environmentId": "e"}},
        {
            "name": proto.RUN_SHELL,
            "arguments": {"environmentId": "e", "shellCommand": "ls", "execCommandAndArgs": ["ls"]},
        },
        {"name": proto.RUN_SHELL, "arguments": {"environmentId": "e", "execCommandAndArgs": []}},
        {"name": proto.RUN_SHELL, "arguments": {"environmentId": "e", "execCommandAndArgs": [1]}},
        {
            "name": proto.RUN_PYTHON,
            "arguments": {"environmentId": "e", "pythonCode": "x" * (proto.MAX_CODE_CHARS + 1)},
        },
    ],
)
def test_bad_tool_calls_are_invalid_params(params: dict) -> None:
    with pytest.raises(proto.ProtocolError) as caught:
        proto.parse_tool_call(params)
    assert caught.value.code == proto.INVALID_PARAMS


def test_every_tool_schema_lists_only_what_the_parser_accepts() -> None:
    for tool in proto.TOOLS:
        schema = tool["inputSchema"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert set(schema.get("required", [])) <= set(schema["properties"])
