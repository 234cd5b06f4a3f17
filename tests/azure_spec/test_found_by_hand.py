"""Issue 15's items "found by hand", one test each, against the real local pool.

Items 1, 8, 9, 11 and 14 came with the vendored specification; the execution
items (2-7, 10, 12, 13) with the execution-shape phase.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from remote_kernel.identifiers import new_identifier
from remote_kernel.server import LocalPool, start_local_pool

V2410, V2502, V2510 = "2024-10-02-preview", "2025-02-02-preview", "2025-10-02-preview"
GEN1 = "2024-02-02-preview"


class Pool:
    """Raw HTTP to a pool, each call naming its api-version and session."""

    def __init__(self, pool: LocalPool) -> None:
        self.http = httpx.Client(
            base_url=pool.url, headers={"Authorization": f"Bearer {pool.token}"}, timeout=120
        )

    def call(
        self, method: str, route: str, sid: str | None, version: str = V2510, **kw: Any
    ) -> httpx.Response:
        params = {"api-version": version, **kw.pop("params", {})}
        if sid is not None:
            params["identifier"] = sid
        return self.http.request(method, route, params=params, **kw)

    def run(self, sid: str, code: str, version: str = V2510, **body: Any) -> httpx.Response:
        return self.call("POST", "/executions", sid, version, json={"code": code, **body})

    def upload(self, sid: str, name: str, data: bytes, **params: str) -> httpx.Response:
        return self.call("POST", "/files", sid, params=params, files={"file": (name, data)})


@pytest.fixture(scope="module")
def pool(local_pool: LocalPool) -> Iterator[Pool]:
    client = Pool(local_pool)
    yield client
    client.http.close()


@pytest.fixture
def sid(pool: Pool) -> Iterator[str]:
    ident = new_identifier("hand")
    yield ident
    pool.call("DELETE", "/session", ident)


# -- 1. absolute multipart file names, path=/ ---------------------------------------------


def test_1_absolute_upload_name_under_mnt_data_is_that_file(pool: Pool, sid: str) -> None:
    """LlamaIndex and Semantic Kernel upload with the filename '/mnt/data/x.txt'."""
    answer = pool.upload(sid, "/mnt/data/x.txt", b"abc")
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "x.txt"
    content = pool.call("GET", "/files/x.txt/content", sid)
    assert content.status_code == 200 and content.content == b"abc"
    nested = pool.upload(sid, "/mnt/data/in/y.txt", b"y", path="elsewhere")
    assert nested.status_code == 200, nested.text  # absolute: path= does not apply
    assert pool.call("GET", "/files/in/y.txt/content", sid).content == b"y"


def test_1_path_slash_is_the_file_area_as_in_the_upload_example(pool: Pool, sid: str) -> None:
    answer = pool.upload(sid, "testfile.yaml", b"a: 1", path="/")
    assert answer.status_code == 200, answer.text
    listed = pool.call("GET", "/files", sid, params={"path": "/"}).json()["value"]
    assert [e["name"] for e in listed] == ["testfile.yaml"]


def test_1_outside_the_area_the_message_does_not_contradict_itself(pool: Pool, sid: str) -> None:
    answer = pool.upload(sid, "/etc/x.txt", b"abc")
    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    assert "outside /mnt/data" in message and "is absolute" not in message


# -- 2, 3, 13. execution statuses and headers ---------------------------------------------


#: POST /executions: 2024-10-02 lists 202, as do the 2025-02-02 examples (its document says
#: 200: the samples win) and the tutorial; 2025-10-02's document and examples say 200.
EXECUTE_STATUS = {V2410: 202, V2502: 202, V2510: 200}


@pytest.mark.parametrize("version", [V2410, V2502, V2510])
def test_2_synchronous_execution_answers_with_operation_headers(
    pool: Pool, sid: str, version: str
) -> None:
    answer = pool.run(sid, "print(7*9)", version, executionType="Synchronous")
    assert answer.status_code == EXECUTE_STATUS[version]
    assert answer.json()["status"] == "Succeeded"
    assert answer.headers["operation-id"] == answer.json()["id"]
    assert answer.headers["Operation-Location"].split("?")[0].endswith(answer.json()["id"])


@pytest.mark.parametrize("version", [V2410, V2502, V2510])
def test_2_asynchronous_execution_answers_with_operation_id(
    pool: Pool, sid: str, version: str
) -> None:
    answer = pool.run(sid, "print(1)", version, executionType="Asynchronous")
    assert answer.status_code == EXECUTE_STATUS[version] and "Operation-Location" in answer.headers
    assert answer.headers["operation-id"] == answer.json()["id"]
    assert "result" not in answer.json() or answer.json()["status"] == "Succeeded"


def test_3_operation_id_header_is_the_execution_id(pool: Pool, sid: str) -> None:
    wanted = f"op-{secrets.token_hex(6)}"
    answer = pool.call(
        "POST",
        "/executions",
        sid,
        json={"code": "1", "executionType": "Synchronous"},
        headers={"operation-id": wanted},
    )
    assert answer.json()["id"] == wanted
    assert pool.call("GET", f"/executions/{wanted}", sid).status_code == 200


def test_13_execution_answers_carry_the_documented_headers(pool: Pool, sid: str) -> None:
    answer = pool.run(sid, "1", executionType="Synchronous")
    for name in ("operation-id", "Operation-Location", "x-ms-session-guid"):
        assert name in answer.headers, name
    assert any(h.lower().startswith("x-ms-execution-") for h in answer.headers), answer.headers


# -- 4, 5, 6, 7, 10. execution bodies -----------------------------------------------------


def test_4_a_failed_run_has_a_top_level_error_and_keeps_ours(pool: Pool, sid: str) -> None:
    body = pool.run(sid, "1/0").json()
    assert body["status"] == "Failed"
    assert (
        body["error"]["error"]["code"] and "division by zero" in body["error"]["error"]["message"]
    )
    assert body["result"]["error"]["ename"] == "ZeroDivisionError"  # the extension stays


def test_5_none_is_null_on_2025_10_02(pool: Pool, sid: str) -> None:
    """Example CodeExecution_Execute_Result_None."""
    body = pool.run(sid, "a = None;a").json()
    assert body["result"]["executionResult"] is None


def test_6_output_streams_max_length_is_a_maximum(pool: Pool, sid: str) -> None:
    body = pool.run(sid, "print('x' * 100)", outputStreamsMaxLength=10).json()
    assert len(body["result"]["stdout"]) <= 10


def test_6_output_streams_default_is_4096_on_2025_10_02(pool: Pool, sid: str) -> None:
    body = pool.run(sid, "print('x' * 5000)").json()
    assert len(body["result"]["stdout"]) <= 4096


@pytest.mark.parametrize(
    ("kind", "code"),
    [("InlineBase64", base64.b64encode(b"print(6*7)").decode()), ("InlineText", "print(6*7)")],
)
def test_7_other_code_input_types_run(pool: Pool, sid: str, kind: str, code: str) -> None:
    answer = pool.run(sid, code, codeInputType=kind)
    assert answer.status_code in (200, 202), answer.text
    assert answer.json()["result"]["stdout"] == "42\n"


def test_10_a_cancelled_run_is_spelled_canceled(pool: Pool, sid: str) -> None:
    started = pool.run(sid, "import time; time.sleep(30)", executionType="Asynchronous").json()
    time.sleep(1)
    pool.call("POST", f"/executions/{started['id']}/cancel", sid)
    for _ in range(60):
        body = pool.call("GET", f"/executions/{started['id']}", sid).json()
        if body["status"] not in ("NotStarted", "Running"):
            break
        time.sleep(0.5)
    assert body["status"] == "Canceled"


# -- 8. files ---------------------------------------------------------------------------


def _tree(pool: Pool, sid: str) -> None:
    code = (
        "import os; os.makedirs('level1/level2', exist_ok=True)\n"
        "open('level1/level2/testfile.yaml', 'w').write('a: 1')\n"
        "open('top.csv', 'w').write('a,b')"
    )
    assert pool.run(sid, code).json()["status"] == "Succeeded"


def test_8_recursive_lists_every_level_with_its_directory(pool: Pool, sid: str) -> None:
    """Example SessionResourceFiles_List_Recursive."""
    _tree(pool, sid)
    flat = pool.call("GET", "/files", sid).json()["value"]
    assert {(e["directory"], e["name"]) for e in flat} == {("", "level1"), ("", "top.csv")}
    deep = pool.call("GET", "/files", sid, params={"recursive": "true"}).json()["value"]
    assert {(e["directory"], e["name"], e["type"]) for e in deep} == {
        ("", "level1", "Directory"),
        ("level1", "level2", "Directory"),
        ("level1/level2", "testfile.yaml", "File"),
        ("", "top.csv", "File"),
    }
    under = pool.call("GET", "/files", sid, params={"path": "level1", "recursive": "true"})
    assert {(e["directory"], e["name"]) for e in under.json()["value"]} == {
        ("", "level2"),
        ("level2", "testfile.yaml"),
    }


def test_8_folders_have_a_content_type_and_a_size(pool: Pool, sid: str) -> None:
    _tree(pool, sid)
    folder = next(
        e for e in pool.call("GET", "/files", sid).json()["value"] if e["name"] == "level1"
    )
    assert folder["contentType"] == "application/octet-stream"
    assert isinstance(folder["sizeInBytes"], int) and folder["sizeInBytes"] > 0


def test_8_file_lists_page_with_next_link(pool: Pool, sid: str) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        pool.upload(sid, name, b"x")
    first = pool.call("GET", "/files", sid, params={"maxpagesize": "2"}).json()
    assert [e["name"] for e in first["value"]] == ["a.txt", "b.txt"]
    second = pool.http.get(first["nextLink"]).json()
    assert [e["name"] for e in second["value"]] == ["c.txt"] and "nextLink" not in second


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("t.txt", "text/plain"), ("d.csv", "text/csv"), ("p.png", "image/png"),
     ("j.json", "application/json"), ("b.bin", "application/octet-stream"),
     ("noext", "application/octet-stream")],
)  # fmt: skip
def test_8_downloads_are_typed_by_extension(
    pool: Pool, sid: str, name: str, content_type: str
) -> None:
    pool.upload(sid, name, b"{}")
    answer = pool.call("GET", f"/files/{name}/content", sid)
    assert answer.status_code == 200
    assert answer.headers["content-type"].split(";")[0] == content_type
    assert pool.call("GET", f"/files/{name}", sid).json()["contentType"] == content_type


# -- 9. pool metadata, session paging -----------------------------------------------------


def test_9_pool_metadata_names_the_runtime_packages_and_kernel(pool: Pool) -> None:
    answer = pool.call("GET", "/metadata", None)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["runtimes"][0]["name"] == "cpython" and body["runtimes"][0]["version"][0] == "3"
    names = {p["name"].lower() for p in body["preInstalledPackages"]}
    assert {"ipykernel", "numpy"} <= names
    assert body["jupyterKernel"]["name"] == "python3"
    assert body["jupyterKernel"]["version"][0].isdigit()
    assert body["createdAt"].endswith("Z") and body["lastUpdatedAt"].endswith("Z")


def test_9_list_sessions_pages_by_skip(pool: Pool) -> None:
    made = [new_identifier("page") for _ in range(3)]
    try:
        for ident in made:
            assert pool.run(ident, "1").status_code == 200
        everything = pool.call("GET", "/listSessions", None).json()["sessions"]
        first = pool.call("GET", "/listSessions", None, params={"maxpagesize": "2"}).json()
        assert len(first["sessions"]) == 2 and "skip=2" in first["nextLink"]
        rest = pool.http.get(first["nextLink"]).json()
        ids = [s["identifier"] for s in first["sessions"] + rest["sessions"]]
        assert ids[: len(everything)] == [s["identifier"] for s in everything][: len(ids)]
        skipped = pool.call("GET", "/listSessions", None, params={"skip": "1"}).json()
        assert [s["identifier"] for s in skipped["sessions"]] == ids[1 : len(everything)]
    finally:
        for ident in made:
            pool.call("DELETE", "/session", ident)


# -- 11. identifiers per api-version ------------------------------------------------------


@pytest.mark.parametrize("ident", ["user_1", "a.b.c", "x@y!z:~", "team/alice"])
def test_11_2025_10_02_accepts_its_wider_pattern(pool: Pool, ident: str) -> None:
    try:
        answer = pool.call("GET", "/files", ident, V2510)
        assert answer.status_code == 200, answer.text
        refused = pool.call("GET", "/files", ident, V2410)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "InvalidIdentifier"
    finally:
        pool.call("DELETE", "/session", ident)


def test_11_the_refusal_names_the_rule_of_that_version(pool: Pool) -> None:
    answer = pool.call("GET", "/files", "a b c d", V2510)
    assert answer.status_code == 400 and "2025-10-02-preview" in answer.json()["error"]["message"]


# -- 12. pool full ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_pool() -> Iterator[Pool]:
    served = start_local_pool(token=secrets.token_urlsafe(16), prewarm=0, max_sessions=1)
    client = Pool(served)
    yield client
    client.http.close()
    served.stop()


def test_12_a_full_pool_answers_as_the_docs_say(tiny_pool: Pool) -> None:
    assert tiny_pool.run("first-session", "1").status_code == 200
    full = tiny_pool.run("second-session", "1")
    assert full.status_code == 404 and full.json()["error"]["code"] == "SessionPoolFull"


# -- 14. AutoGen's package list on generation 1 -------------------------------------------


def test_14_a_long_list_on_generation_1_is_its_text_repr(pool: Pool, sid: str) -> None:
    """What AutoGen's get_available_packages parses: str(result), '[]' off, split ',\\n'."""
    code = "import pkg_resources\n[d.project_name for d in pkg_resources.working_set]"
    props = pool.call(
        "POST", "/code/execute", sid, GEN1, json={"properties": {"code": code}}
    ).json()["properties"]
    assert props["status"] == "Success", props["stderr"]
    assert isinstance(props["result"], str) and ",\n" in props["result"]
    names = {name.strip(" '") for name in str(props["result"]).strip("[]").split(",\n")}
    assert {"numpy", "ipykernel", "setuptools"} <= names
    number = pool.call("POST", "/code/execute", sid, GEN1, json={"code": "1+1"}).json()
    assert number["properties"]["result"] == 2  # scalars stay JSON, as documented


# -- the execution items' edges -------------------------------------------------------------


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "a/b"])
def test_3_an_invalid_operation_id_is_a_clear_400(pool: Pool, sid: str, bad: str) -> None:
    answer = pool.call(
        "POST", "/executions", sid, json={"code": "1"}, headers={"operation-id": bad}
    )
    assert answer.status_code == 400 and "operation-id" in answer.json()["error"]["message"]


def test_3_header_and_body_id_must_agree(pool: Pool, sid: str) -> None:
    answer = pool.call(
        "POST", "/executions", sid, json={"code": "1", "id": "one"}, headers={"operation-id": "two"}
    )
    assert answer.status_code == 400 and "differ" in answer.json()["error"]["message"]


def test_4_a_successful_run_has_no_top_level_error(pool: Pool, sid: str) -> None:
    assert "error" not in pool.run(sid, "1").json()


@pytest.mark.parametrize(
    ("code", "expected"),
    [("print(7*9)", ""), ("s = ''; s", ""), ("a = None;a", None), ("a = None;a;", "")],
)
def test_5_only_a_none_value_is_null(pool: Pool, sid: str, code: str, expected: Any) -> None:
    """Examples CodeExecution_Execute_Sync ("") and _Result_None (null), 2025-10-02-preview."""
    assert pool.run(sid, code).json()["result"]["executionResult"] == expected


def test_5_older_versions_keep_the_empty_string(pool: Pool, sid: str) -> None:
    assert pool.run(sid, "a = None;a", V2410).json()["result"]["executionResult"] == ""


def test_6_the_notice_is_in_the_outputs_extension_only(pool: Pool, sid: str) -> None:
    result = pool.run(sid, "print('x' * 100)", outputStreamsMaxLength=10).json()["result"]
    assert result["stdout"] == "x" * 10 and result["truncated"] is True
    assert "[output truncated: 91 more characters" in result["outputs"][0]["text"]


def test_6_older_versions_keep_the_pools_own_limit(pool: Pool, sid: str) -> None:
    body = pool.run(sid, "print('x' * 5000)", V2410).json()
    assert len(body["result"]["stdout"]) == 5001 and body["result"]["truncated"] is False


def test_7_invalid_base64_is_a_clear_400(pool: Pool, sid: str) -> None:
    answer = pool.run(sid, "not base64!", codeInputType="InlineBase64")
    assert answer.status_code == 400 and "InlineBase64" in answer.json()["error"]["message"]


def test_deeply_nested_json_is_a_400_not_a_500(pool: Pool, sid: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    answer = pool.call(
        "POST",
        "/executions",
        sid,
        content=deep.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert "nested" in answer.json()["error"]["message"]
