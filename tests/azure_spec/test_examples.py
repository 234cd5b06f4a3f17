"""Every vendored example, replayed: against the local pool, and through the client.

Replay: the example's request is sent to the real local pool (after the files
or session it assumes are put in place) and the answer is compared in shape
with the example's: the status code, the headers it lists, and every key of
its body with the same JSON type (values such as ids and times are not
compared; a key the example gives as ``null`` may be absent).

Client: the example's answer is served (respx: only Azure can produce these
bodies) to :class:`SessionPoolClient`, whose parsed result must carry the
example's values.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from remote_kernel import errors
from remote_kernel.client import SessionPoolClient
from remote_kernel.client.models import ExecutionStatus
from remote_kernel.identifiers import new_identifier
from remote_kernel.server import LocalPool

from .spec import SERVED, Example, examples, operation


def _params(kind: str) -> list[Any]:
    chosen = []
    for example in examples():
        if kind == "client" and example.version not in SERVED:
            continue
        chosen.append(pytest.param(example, id=str(example)))
    return chosen


# -- shape comparison ---------------------------------------------------------------------


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", dict: "object", list: "array", type(None): "null"}[type(value)]


def shape_differences(expected: Any, actual: Any, where: str = "body") -> list[str]:
    """How ``actual`` differs in shape from ``expected`` (keys and JSON types only)."""
    if expected is None:
        return []  # a null in an example says nothing about the type
    if _kind(expected) != _kind(actual):
        return [f"{where}: {_kind(expected)} expected, got {_kind(actual)} {actual!r:.80}"]
    if isinstance(expected, dict):
        found = []
        for key, value in expected.items():
            if key not in actual:
                if value is not None:
                    found.append(f"{where}.{key}: missing")
                continue
            found += shape_differences(value, actual[key], f"{where}.{key}")
        return found
    if isinstance(expected, list) and expected and actual:
        common = set.intersection(*(set(e) for e in expected)) if all(
            isinstance(e, dict) for e in expected
        ) else set()  # fmt: skip
        template = {k: expected[0][k] for k in common} if common else expected[0]
        return [d for i, item in enumerate(actual) for d in
                shape_differences(template, item, f"{where}[{i}]")]  # fmt: skip
    return []


def test_shape_comparison_catches_what_it_should() -> None:
    assert shape_differences({"a": 1, "b": None}, {"a": 2}) == []
    assert shape_differences({"a": 1}, {"a": "1"}) == ["body.a: number expected, got string '1'"]
    assert shape_differences({"v": [{"n": "x", "t": 1}]}, {"v": [{"n": "y"}]}) == [
        "body.v[0].t: missing"
    ]


# -- replay against the pool --------------------------------------------------------------


class Replayer:
    """Sends one example's request to the pool, after putting in place what it assumes."""

    def __init__(self, pool: LocalPool) -> None:
        self.http = httpx.Client(
            base_url=pool.url, headers={"Authorization": f"Bearer {pool.token}"}, timeout=120
        )
        self.sessions: list[str] = []

    def session(self) -> str:
        ident = new_identifier("example")
        self.sessions.append(ident)
        return ident

    def close(self) -> None:
        for ident in self.sessions:
            self.http.delete("/session", params={"api-version": SERVED[-1], "identifier": ident})
        self.http.close()

    def prepare(self, example: Example, ident: str) -> None:
        """Files and sessions the example's request names, made through the pool itself."""
        op, params = example.operation_id, example.parameters
        code = {
            "SessionResourceFiles_Get": "open('testfile', 'w').write('a: 1')",
            "SessionResourceFiles_Delete": "open('testfile', 'w').write('a: 1')",
            "SessionResourceFiles_DeleteFile": "open('testfile', 'w').write('a: 1')",
            "SessionResourceFiles_DownloadFile": "open('testfile', 'w').write('testfilecontent')",
            "SessionManagement_Get": "1",
            "SessionManagement_Delete": "1",
        }.get(op)
        if op == "SessionResourceFiles_List":
            folder = params.get("path", "/").strip("/") or "."
            code = (
                f"import os; os.makedirs('{folder}/level1/level2', exist_ok=True)\n"
                f"open('{folder}/level1/level2/testfile.yaml', 'w').write('a: 1')\n"
                f"open('{folder}/testfile.yaml', 'w').write('a: 1')"
            )
        if code is not None:
            version = params["api-version"] if params["api-version"] in SERVED else SERVED[-1]
            self.http.post(
                "/executions",
                params={"api-version": version, "identifier": ident},
                json={"code": code},
            ).raise_for_status()

    def send(self, example: Example, ident: str) -> httpx.Response:
        method, path, _ = operation(example.version, example.operation_id)
        params = example.parameters
        for name in ("name", "executionId", "fileName"):
            if name in params:
                path = path.replace("{" + name + "}", str(params[name]))
        query = {"api-version": params["api-version"]}
        if "identifier" in params:
            query["identifier"] = ident
        for name in ("path", "recursive", "skip"):
            if name in params:
                query[name] = str(params[name]).lower() if name == "recursive" else params[name]
        headers = {k: params[k] for k in ("operation-id",) if k in params}
        headers.update(example.body.get("headers", {}))
        kwargs: dict[str, Any] = {"headers": headers}
        if "codeExecutionRequest" in params:
            kwargs["json"] = params["codeExecutionRequest"]
        if "file" in params:
            kwargs["files"] = {"file": ("testfile.yaml", str(params["file"]).encode())}
        return self.http.request(method.upper(), path, params=query, **kwargs)


@pytest.fixture(scope="module")
def replayer(local_pool: LocalPool) -> Iterator[Replayer]:
    client = Replayer(local_pool)
    yield client
    client.close()


def _settle(replayer: Replayer, answer: httpx.Response, ident: str, version: str) -> Any:
    """The finished execution behind an Asynchronous answer (for the example's 200)."""
    execution_id = answer.json()["id"]
    for _ in range(120):
        polled = replayer.http.get(
            f"/executions/{execution_id}", params={"api-version": version, "identifier": ident}
        )
        if polled.json()["status"] not in ("NotStarted", "Running"):
            return polled
        time.sleep(0.25)
    raise AssertionError("the execution never finished")


@pytest.mark.parametrize("example", _params("replay"))
def test_example_replayed_against_the_pool(replayer: Replayer, example: Example) -> None:
    ident = replayer.session()
    if example.version not in SERVED:  # 2024-09-01: refused, see README.md
        answer = replayer.send(example, ident)
        refusals = {400: "UnsupportedApiVersion", 404: "NotFound", 405: "MethodNotAllowed"}
        assert answer.json()["error"]["code"] == refusals[answer.status_code], answer.text
        return
    replayer.prepare(example, ident)
    answer = replayer.send(example, ident)
    statuses = sorted(example.responses)
    first = statuses[-1] if "202" in statuses else statuses[0]  # the POST's own answer
    expected = example.responses[first]
    assert str(answer.status_code) == first, answer.text
    for header in expected.get("headers", {}):
        assert header.lower() in {h.lower() for h in answer.headers}, header
    if "body" in expected:
        assert shape_differences(expected["body"], answer.json()) == []
    if first == "202" and "200" in example.responses:
        final = _settle(replayer, answer, ident, example.version)
        assert shape_differences(example.responses["200"]["body"], final.json()) == []


# -- the client fed the examples' answers -------------------------------------------------

ENDPOINT = "https://example.dynamicsessions.io/subscriptions/s/resourceGroups/g/sessionPools/p"


def _reply(example: Example, status: str | None = None) -> httpx.Response:
    statuses = sorted(example.responses)
    status = status or (statuses[-1] if "202" in statuses else statuses[0])
    answer = example.responses[status]
    body = answer.get("body")
    content = b"" if body is None else json.dumps(body).encode()
    headers = dict(answer.get("headers", {}))
    if body is not None:
        headers["content-type"] = "application/json"
    return httpx.Response(int(status), content=content, headers=headers)


def _completed(example: Example) -> Example:
    """The same version's finished example, served when the client polls a running one."""
    for other in examples(example.version):
        if other.name == "CodeExecution_Execute_Async_Completed":
            return other
    raise AssertionError("no finished example to poll")


def _check_execution(client: SessionPoolClient, example: Example, mock: respx.Router) -> None:
    mock.post(f"{ENDPOINT}/executions").mock(return_value=_reply(example))
    body = _reply(example).json()
    if body["status"] == "Running":
        done = _completed(example)
        finished = _reply(done, "200" if "200" in done.responses else None)
        mock.get(url__regex=rf"{ENDPOINT}/executions/.*").mock(return_value=finished)
        body = finished.json()
    result = client.execute("print(7*9)", session="testSessionIdentifier")
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.stdout == body["result"]["stdout"]
    raw_value = body["result"]["executionResult"]
    assert result.value == (None if raw_value in ("", None) else raw_value)
    assert result.execution_id == body["id"]


def _check_files(client: SessionPoolClient, example: Example, mock: respx.Router) -> None:
    op, params = example.operation_id, example.parameters
    reply = _reply(example)
    path = str(params.get("path", ""))
    if op == "SessionResourceFiles_Upload":
        mock.post(f"{ENDPOINT}/files").mock(return_value=reply)
        info = client.upload_file(b"101010101", session="s-1234", remote_name="testfile.yaml")
        assert (info.name, info.size, info.content_type) == ("testfile.yaml", 4, "application/yaml")
    elif op == "SessionResourceFiles_Get":
        mock.get(f"{ENDPOINT}/files/testfile").mock(return_value=reply)
        info = client.file_info("testfile", session="s-1234", path=path)
        assert info.type == "File" and info.size == 4 and info.last_modified is not None
    elif op == "SessionResourceFiles_List":
        mock.get(f"{ENDPOINT}/files").mock(return_value=reply)
        listed = client.list_files(session="s-1234", path=path)
        assert [f.name for f in listed] == [e["name"] for e in reply.json()["value"]]
        assert [f.type.lower() for f in listed] == [
            e["type"].lower() for e in reply.json()["value"]
        ]
    elif op == "SessionResourceFiles_Delete":
        mock.delete(f"{ENDPOINT}/files/testfile").mock(return_value=reply)
        assert client.delete_file("testfile", session="s-1234", path=path) is None
    else:
        raise AssertionError(f"no client check for {op}")


def _check_session(client: SessionPoolClient, example: Example, mock: respx.Router) -> None:
    reply = _reply(example)
    if example.operation_id == "SessionManagement_Get":
        mock.get(f"{ENDPOINT}/session").mock(return_value=reply)
        info = client.get_session(example.parameters["identifier"])
        assert info.identifier == "testid1" and info.etag == reply.json()["etag"]
        assert info.expire_at is not None and info.created_at is not None
    else:
        mock.delete(f"{ENDPOINT}/session").mock(return_value=reply)
        assert client.delete_session("testSessionIdentifier") is None


#: Operations the client has no call for; their examples are only replayed on the pool.
NO_CLIENT_CALL = {"SessionPoolMetadata_Get"}


@pytest.mark.parametrize(
    "example",
    [p for p in _params("client") if p.values[0].operation_id not in NO_CLIENT_CALL],
)
def test_the_client_parses_the_examples_answer(example: Example) -> None:
    with (
        respx.mock(assert_all_called=True) as mock,
        SessionPoolClient(ENDPOINT, api_version=example.version, token="t") as client,
    ):
        if example.operation_id.startswith("CodeExecution"):
            _check_execution(client, example, mock)
        elif example.operation_id.startswith("SessionResourceFiles"):
            _check_files(client, example, mock)
        else:
            _check_session(client, example, mock)


def test_the_client_refuses_the_stable_version_it_cannot_speak() -> None:
    with pytest.raises(errors.ConfigurationError, match="2024-09-01"):
        SessionPoolClient(ENDPOINT, api_version="2024-09-01", token="t")
