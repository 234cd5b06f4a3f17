"""Sessions, packages, the OpenAPI document, parameters and the token, over real HTTP."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import httpx
import psutil
import pytest
from pool_api import GEN1, GEN2, Api, error_code

from remote_kernel.errors import ConfigurationError
from remote_kernel.server import start_local_pool
from remote_kernel.server.app import ROUTES
from remote_kernel.server.ipython_runtime import kernel_env


def _when(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def test_list_get_and_delete_a_session(api: Api, sid: str) -> None:
    pid = api.value(sid, "import os\nos.getpid()")
    listed = api.request("GET", "/listSessions").json()["sessions"]
    (entry,) = [s for s in listed if s["identifier"] == sid]
    assert set(entry) == {"identifier", "createdAt", "lastAccessedAt", "expireAt", "etag"}
    cooldown = api.pool.pool.cooldown
    assert _when(entry["expireAt"]) - _when(entry["lastAccessedAt"]) == timedelta(seconds=cooldown)
    one = api.request("GET", "/session", sid)
    assert one.status_code == 200 and one.json()["identifier"] == sid
    managed = api.request("GET", "/.management/listSessions", version=GEN1).json()
    assert sid in [s["identifier"] for s in managed["value"]] and managed["nextLink"] is None
    assert api.request("DELETE", "/session", sid).status_code == 204
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert sid not in [
        s["identifier"] for s in api.request("GET", "/listSessions").json()["sessions"]
    ]
    for method in ("GET", "DELETE"):
        gone = api.request(method, "/session", sid)
        assert gone.status_code == 404 and error_code(gone) == "SessionNotFound"


def test_access_moves_last_accessed_and_etag(api: Api, sid: str) -> None:
    api.run(sid, "1")
    before = api.request("GET", "/session", sid).json()
    time.sleep(0.01)
    api.run(sid, "2")
    after = api.request("GET", "/session", sid).json()
    assert after["createdAt"] == before["createdAt"]
    assert _when(after["lastAccessedAt"]) > _when(before["lastAccessedAt"])
    assert after["etag"] != before["etag"]
    api.request("DELETE", "/session", sid)


def test_stop_session_removes_state_and_files(api: Api, sid: str) -> None:
    api.run(sid, "secret = 1\nopen('f.txt', 'w').write('x')")
    stopped = api.request("POST", "/.management/stopSession", sid)
    assert stopped.status_code == 204
    fresh = api.run(sid, "import os\n('secret' in globals(), os.listdir('.'))")
    assert fresh["result"]["sessionCreated"] is True
    assert fresh["result"]["executionResult"] == [False, []]
    api.request("DELETE", "/session", sid)


def test_packages_extension(api: Api, shared_sid: str) -> None:
    response = api.request("GET", "/packages", shared_sid)
    assert response.status_code == 200
    names = {p["name"].lower(): p["version"] for p in response.json()["value"]}
    assert {"ipykernel", "matplotlib"} <= set(names)
    assert names["ipykernel"][0].isdigit()


def test_openapi_document_lists_every_route_without_a_token(local_pool) -> None:
    response = httpx.get(f"{local_pool.url}/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    served = {
        (r.path.replace(":path", ""), m.lower()) for r in ROUTES for m in r.methods if m != "HEAD"
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"identifier": "abcd"}, "MissingApiVersion"),
        ({"identifier": "abcd", "api-version": "2023-01-01"}, "UnsupportedApiVersion"),
        ({"api-version": GEN2}, "MissingIdentifier"),
    ],
)
def test_missing_or_unknown_parameters_are_400(api: Api, params: dict, code: str) -> None:
    response = api.http.post("/executions", params=params, json={"code": "1"})
    assert response.status_code == 400 and error_code(response) == code
    assert response.headers["x-ms-request-id"]


@pytest.mark.parametrize(
    "ident", ["abc", "a_bcd", "ab.cd", "ab/cd", "ab cd", "x" * 129, "ab\u00e9cd", "ab:cd"]
)
def test_identifier_rules(api: Api, ident: str) -> None:
    response = api.request("POST", "/executions", ident, json={"code": "1"})
    assert response.status_code == 400 and error_code(response) == "InvalidIdentifier"
    assert "4-128 characters" in response.json()["error"]["message"]


def test_every_allowed_identifier_character(api: Api) -> None:
    ident = "Az09|-&^%$#(){}[];<>"
    assert api.value(ident, "'ok'") == "ok"
    assert api.request("DELETE", "/session", ident).status_code == 204


def test_unknown_route_and_method_are_azure_errors(api: Api) -> None:
    missing = api.request("GET", "/nothing-here")
    assert missing.status_code == 404 and error_code(missing) == "NotFound"
    wrong = api.request("PUT", "/executions")
    assert wrong.status_code == 405 and error_code(wrong) == "MethodNotAllowed"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ],
)
def test_token_is_required(local_pool, headers: dict) -> None:
    response = httpx.post(
        f"{local_pool.url}/executions",
        params={"api-version": GEN2, "identifier": "abcd"},
        json={"code": "1"},
        headers=headers,
    )
    assert response.status_code == 401 and error_code(response) == "Unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["x-ms-request-id"]
    assert local_pool.token not in response.text


def test_the_right_token_passes_and_every_answer_has_a_request_id(
    api: Api, shared_sid: str
) -> None:
    response = api.request("GET", "/files", shared_sid)
    assert response.status_code == 200 and len(response.headers["x-ms-request-id"]) == 36


def test_sessions_never_see_the_pool_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACA_POOL_TOKEN", "pool-secret")
    monkeypatch.setenv("MPLBACKEND", "agg")
    env = kernel_env()
    assert "ACA_POOL_TOKEN" not in env and "pool-secret" not in env.values()
    assert env["MPLBACKEND"] == "module://matplotlib_inline.backend_inline"


def test_remote_bind_without_token_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="without a token"):
        start_local_pool(host="0.0.0.0")
