"""The protocol layer with plain data: every documented response shape."""

from __future__ import annotations

import pytest

from remote_kernel import errors
from remote_kernel.client.messages import Request, Response, Sleep
from remote_kernel.client.models import ExecutionStatus
from remote_kernel.client.operations import Protocol
from remote_kernel.client.synthesis import parse_traceback_text

EP = "https://westus2.dynamicsessions.io/subscriptions/s/resourceGroups/g/sessionPools/mypool"
GEN1 = Protocol(EP, "2024-02-02-preview")
GEN2 = Protocol(EP, "2024-10-02-preview")
TB = (
    "Traceback (most recent call last):\n"
    '  File "<stdin>", line 1, in <module>\n'
    "ZeroDivisionError: division by zero\n"
)


def ok(body, status=200, headers=None):
    return Response(status, headers or {}, body)


def test_gen1_request_shape():
    req = GEN1.execute_request("print(1)", "sess-1", timeout=30)
    assert (req.method, req.path) == ("POST", "/code/execute")
    assert req.params == {"api-version": "2024-02-02-preview", "identifier": "sess-1"}
    assert req.json == {
        "properties": {
            "codeInputType": "inline",
            "executionType": "synchronous",
            "code": "print(1)",
            "timeoutInSeconds": 30,
        }
    }
    assert not req.idempotent


def test_gen2_request_shape_caps_timeout_and_passes_id():
    req = GEN2.execute_request("1+1", "sess-1", timeout=999, execution_id="abc-1")
    assert (req.method, req.path) == ("POST", "/executions")
    assert req.json == {
        "codeInputType": "Inline",
        "code": "1+1",
        "executionType": "Synchronous",
        "timeoutInSeconds": 220,
    }
    assert req.headers == {"operation-id": "abc-1"}  # Azure's header (issue 15)
    assert req.read_timeout == 250


@pytest.mark.parametrize(
    "version", ["2024-10-02-preview", "2025-02-02-preview", "2025-10-02-preview"]
)
def test_every_gen2_execution_names_its_id_in_operation_id(version):
    first = Protocol(EP, version).execute_request("1", "sess-1")
    second = Protocol(EP, version).execute_request("1", "sess-1")
    assert len(first.headers["operation-id"]) == 36  # a fresh UUID each time
    assert first.headers["operation-id"] != second.headers["operation-id"]


def test_gen1_sends_no_operation_id():
    assert "operation-id" not in GEN1.execute_request("1", "sess-1", execution_id="x").headers


@pytest.mark.parametrize("spelling", ["Canceled", "Cancelled"])
def test_both_spellings_of_cancelled_are_read(spelling):
    body = {"id": "e", "status": spelling, "result": {"stdout": "", "stderr": ""}}
    assert GEN2.parse_execution(ok(body), "s-123").status is ExecutionStatus.CANCELLED


@pytest.mark.parametrize("wrapped", [True, False])
def test_gen1_success_with_and_without_properties(wrapped):
    props = {
        "$id": "2",
        "status": "Success",
        "stdout": "1\n",
        "stderr": "",
        "result": 2,
        "executionTimeInMilliseconds": 23,
    }
    body = {"$id": "1", "properties": props} if wrapped else props
    result = GEN1.parse_execution(ok(body), "s-123")
    assert result.ok and result.value == 2 and result.stdout == "1\n"
    assert result.duration_ms == 23
    assert result.outputs == [
        {"output_type": "stream", "name": "stdout", "text": "1\n"},
        {
            "output_type": "execute_result",
            "data": {"text/plain": "2"},
            "metadata": {},
            "execution_count": None,
        },
    ]
    assert not result.full_outputs


def test_gen1_empty_result_means_none():
    result = GEN1.parse_execution(
        ok({"properties": {"status": "Success", "stdout": "", "stderr": "", "result": ""}}), "s-123"
    )
    assert result.value is None and result.outputs == []


def test_gen1_failure_parses_traceback_into_one_error_output():
    body = {"properties": {"status": "Failure", "stdout": "before\n", "stderr": TB, "result": ""}}
    result = GEN1.parse_execution(ok(body), "s-123")
    assert result.status is ExecutionStatus.FAILED and not result.ok
    assert result.error.ename == "ZeroDivisionError"
    assert result.error.evalue == "division by zero"
    kinds = [o["output_type"] for o in result.outputs]
    assert kinds == ["stream", "error"]
    assert result.outputs[-1]["ename"] == "ZeroDivisionError"


def test_gen2_image_result_becomes_display_data():
    body = {
        "id": "e1",
        "status": "Succeeded",
        "result": {
            "stdout": "",
            "stderr": "",
            "executionResult": {"type": "image", "format": "png", "base64_data": "iVBORw0KGgo="},
            "executionTimeInMilliseconds": 5,
        },
    }
    result = GEN2.parse_execution(ok(body), "s-123")
    assert result.execution_id == "e1"
    assert result.outputs == [
        {
            "output_type": "display_data",
            "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<PNG image>"},
            "metadata": {},
        }
    ]


def test_gen2_succeeded_with_traceback_in_stderr_is_an_error():
    body = {
        "id": "e2",
        "status": "Succeeded",
        "result": {"stdout": "", "stderr": TB, "executionResult": None},
    }
    result = GEN2.parse_execution(ok(body), "s-123")
    assert result.status is ExecutionStatus.FAILED
    assert result.error.ename == "ZeroDivisionError"


def test_gen2_local_pool_extensions_are_used():
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": "a\n"},
        {"output_type": "display_data", "data": {"text/html": "<b>x</b>"}, "metadata": {}},
        {"output_type": "stream", "name": "stdout", "text": "b\n"},
    ]
    body = {
        "id": "e3",
        "status": "Succeeded",
        "result": {
            "stdout": "a\nb\n",
            "stderr": "",
            "executionResult": None,
            "outputs": outputs,
            "sessionCreated": True,
            "truncated": True,
        },
    }
    result = GEN2.parse_execution(ok(body), "s-123")
    assert result.full_outputs and result.outputs == outputs
    assert result.session_created is True and result.truncated is True


def test_custom_container_array_body():
    body = [
        {
            "id": "e4",
            "status": "Succeeded",
            "result": {"stdout": "hi\n", "stderr": "", "executionResult": None},
        }
    ]
    assert GEN2.parse_execution(ok(body), "s-123").stdout == "hi\n"


def test_truncation_detected_for_2025_10_api():
    proto = Protocol(EP, "2025-10-02-preview")
    body = {
        "id": "e",
        "status": "Succeeded",
        "result": {"stdout": "x" * 4096, "stderr": "", "executionResult": None},
    }
    assert proto.parse_execution(ok(body), "s-123").truncated


def drive(step, responses):
    """Run a protocol generator against canned responses; return (value, requests)."""
    sent = []
    responses = iter(responses)
    try:
        instruction = next(step)
        while True:
            sent.append(instruction)
            if isinstance(instruction, Sleep):
                instruction = step.send(None)
            else:
                instruction = step.send(next(responses))
    except StopIteration as stop:
        return stop.value, sent


def test_sync_execution_answered_202_is_polled_not_reposted():
    running = ok(
        {"id": "e5", "status": "Running"},
        status=202,
        headers={"Operation-Location": f"{EP}/executions/e5"},
    )
    done = ok(
        {
            "id": "e5",
            "status": "Succeeded",
            "result": {"stdout": "ok\n", "stderr": "", "executionResult": None},
        }
    )
    value, sent = drive(GEN2.execute("x", "s-123"), [running, running, done])
    requests = [r for r in sent if isinstance(r, Request)]
    assert [r.method for r in requests] == ["POST", "GET", "GET"]
    assert requests[1].path == "/executions/e5" and requests[1].idempotent
    assert value.stdout == "ok\n"


def _finished(execution_id: str) -> Response:
    result = {"stdout": "ok\n", "stderr": "", "executionResult": None}
    return ok({"id": execution_id, "status": "Succeeded", "result": result})


def test_polls_the_operation_location_on_the_endpoint():
    running = ok(
        {"id": "e6", "status": "Running"},
        status=202,
        headers={
            "operation-id": "e6",
            "Operation-Location": f"{EP}/executions/e6/poll?api-version=2024-10-02-preview&x=1",
        },
    )
    _, sent = drive(GEN2.execute("x", "s-123"), [running, _finished("e6")])
    poll = [r for r in sent if isinstance(r, Request)][1]
    assert poll.path == "/executions/e6/poll" and poll.idempotent
    assert poll.params == {"api-version": "2024-10-02-preview", "x": "1", "identifier": "s-123"}


@pytest.mark.parametrize(
    "location", ["https://elsewhere.example/executions/e7", "/executions/e7?identifier=s-123"]
)
def test_a_location_off_the_endpoint_is_not_followed(location):
    """The token goes to the endpoint only; the id in the location or header is polled."""
    running = ok({"status": "Running"}, status=202, headers={"Operation-Location": location})
    _, sent = drive(GEN2.execute("x", "s-123"), [running, _finished("e7")])
    poll = [r for r in sent if isinstance(r, Request)][1]
    assert poll.path == "/executions/e7"


def test_the_operation_id_header_names_the_execution_to_poll():
    running = ok({"status": "Running"}, status=202, headers={"operation-id": "e8"})
    _, sent = drive(GEN2.execute("x", "s-123"), [running, _finished("e8")])
    assert [r.path for r in sent if isinstance(r, Request)] == ["/executions", "/executions/e8"]


def test_a_202_with_a_finished_body_is_not_polled():
    """What the examples and the tutorial show for a Synchronous run."""
    done = ok(_finished("e9").body, status=202, headers={"operation-id": "e9"})
    value, sent = drive(GEN2.execute("x", "s-123"), [done])
    assert [r.method for r in sent if isinstance(r, Request)] == ["POST"]
    assert value.stdout == "ok\n" and value.execution_id == "e9"


def test_list_packages_falls_back_to_a_script_on_azure():
    not_found = ok({"error": {"code": "NotFound", "message": "no"}}, status=404)
    ran = ok(
        {
            "id": "e",
            "status": "Succeeded",
            "result": {
                "stdout": '[["numpy", "2.0"], ["Pandas", "2.2"]]\n',
                "stderr": "",
                "executionResult": None,
            },
        }
    )
    value, _ = drive(GEN2.list_packages("s-123"), [not_found, ran])
    assert [(p.name, p.version) for p in value] == [("numpy", "2.0"), ("Pandas", "2.2")]


def test_file_shapes_both_generations():
    gen1 = ok(
        {
            "value": [
                {
                    "properties": {
                        "filename": "a.txt",
                        "size": 3,
                        "lastModifiedTime": "2024-05-01T10:00:00.1234567Z",
                    }
                }
            ]
        }
    )
    [info] = GEN1.parse_list_files(gen1, "s-123", "")
    assert (info.name, info.size, info.last_modified.year) == ("a.txt", 3, 2024)
    gen2 = ok(
        {
            "name": "b.png",
            "sizeInBytes": 10,
            "lastModifiedAt": "2025-01-01T00:00:00Z",
            "contentType": "image/png",
            "type": "File",
        }
    )
    info = GEN2.parse_upload(gen2, "s-123", "b.png", "sub")
    assert (info.name, info.size, info.remote_path) == ("b.png", 10, "/mnt/data/sub/b.png")
    array = ok([{"name": "c", "sizeInBytes": 1, "type": "File"}])
    assert GEN2.parse_upload(array, "s-123", "c", "").size == 1
    assert GEN1.upload_request("s-123", "a.txt", None).path == "/files/upload"
    assert GEN2.download_request("s-123", "a b", "").path == "/files/a%20b/content"
    assert GEN1.download_request("s-123", "a", "").path == "/files/content/a"


@pytest.mark.parametrize("name", ["", "..", "a/b", "/etc/passwd", "x\x00y"])
def test_bad_file_names_are_refused_before_sending(name):
    with pytest.raises(errors.ConfigurationError):
        GEN2.download_request("s-123", name)


@pytest.mark.parametrize("identifier", ["abc", "has_underscore", "dot.ted", "x" * 129, "a/bc"])
def test_bad_identifiers_are_refused_before_sending(identifier):
    with pytest.raises(errors.InvalidIdentifierError, match="4-128"):
        GEN2.execute_request("1", identifier)


def test_sessions_list_shapes():
    body = {
        "sessions": [
            {
                "identifier": "my-session-001",
                "createdAt": "2025-01-01T00:00:00Z",
                "lastAccessedAt": None,
                "expireAt": "2025-01-01T01:00:00Z",
                "etag": "x",
            }
        ]
    }
    [s] = GEN2.parse_list_sessions(ok(body))
    assert s.identifier == "my-session-001" and s.expire_at.hour == 1
    assert GEN2.parse_list_sessions(ok({"value": [{"identifier": "abcd"}]}))[0].identifier == "abcd"


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "needle"),
    [
        (
            401,
            {"error": {"code": "Unauthorized", "message": "bad token"}},
            {},
            errors.AuthenticationError,
            "az login",
        ),
        (
            403,
            {"error": {"code": "Forbidden", "message": "denied"}},
            {},
            errors.PermissionDeniedError,
            "Azure ContainerApps Session Executor",
        ),
        (413, "Request body too large", {}, errors.PayloadTooLargeError, "128 MB"),
        (
            429,
            {"error": {"code": "TooManyRequests", "message": "slow"}},
            {"Retry-After": "3"},
            errors.RateLimitedError,
            "slow",
        ),
        (
            503,
            {"error": {"code": "ServiceUnavailable", "message": "down"}},
            {"x-ms-request-id": "req-42"},
            errors.ServerError,
            "req-42",
        ),
        (
            409,
            {"error": {"code": "SessionPoolFull", "message": "full"}},
            {},
            errors.PoolFullError,
            "maxConcurrentSessions",
        ),
        (  # the local pool answers 404 as Azure's documentation says (issue 15 item 12)
            404,
            {"error": {"code": "SessionPoolFull", "message": "The pool holds its maximum"}},
            {"x-ms-error-code": "SessionPoolFull"},
            errors.PoolFullError,
            "maxConcurrentSessions",
        ),
        (
            400,
            {"error": {"code": "InvalidIdentifier", "message": "bad identifier"}},
            {},
            errors.BadRequestError,
            "4-128",
        ),
    ],
)
def test_error_bodies_become_typed_errors_with_fixes(status, body, headers, cls, needle):
    with pytest.raises(cls) as info:
        GEN2.parse_execution(Response(status, headers, body), "s-123")
    assert needle in str(info.value)
    if status == 403:
        assert "mypool" in str(info.value)
    if status == 429:
        assert info.value.retry_after == 3.0


def test_404_on_execute_says_the_session_expired():
    with pytest.raises(errors.SessionExpiredError, match="expired"):
        GEN2.parse_execution(Response(404, {"x-ms-error-code": "SessionNotFound"}, ""), "s-123")


def test_bare_string_error_and_header_code():
    err = GEN2.error_for(Response(400, {"x-ms-error-code": "BadThing"}, "plain words"), "upload")
    assert err.code == "BadThing" and "plain words" in str(err)


def test_tokens_in_error_bodies_are_redacted():
    body = {"error": {"message": "Authorization: Bearer eyJabc.def.ghi rejected"}}
    err = GEN2.error_for(Response(401, {}, body), "execute")
    assert "eyJabc" not in str(err)


def test_traceback_text_parsing():
    info = parse_traceback_text("\x1b[31m" + TB)
    assert (info.ename, info.evalue) == ("ZeroDivisionError", "division by zero")
    custom = parse_traceback_text("Traceback (most recent call last):\n  x\nmymod.Boom: bang")
    assert (custom.ename, custom.evalue) == ("mymod.Boom", "bang")


def test_gen2_empty_string_result_means_none():
    body = {
        "id": "e",
        "status": "Succeeded",
        "result": {"stdout": "1\n", "stderr": "", "executionResult": ""},
    }
    result = GEN2.parse_execution(ok(body), "s-123")
    assert result.value is None
    assert [o["output_type"] for o in result.outputs] == ["stream"]
