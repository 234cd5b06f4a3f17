"""A JavaScript pool (``serve --runtime javascript``) over HTTP, as Azure's Node.js tutorial
uses it: generation 1 ``POST /code/execute`` with JavaScript in ``code``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from remote_kernel.server import LocalPool, start_local_pool

pytestmark = pytest.mark.timeout(180)
GEN1 = "2024-02-02-preview"
GEN2 = "2025-02-02-preview"


@pytest.fixture(scope="module")
def js_pool() -> Iterator[LocalPool]:
    pool = start_local_pool(runtime="javascript", prewarm=1, max_sessions=4)
    try:
        yield pool
    finally:
        pool.stop()


def post(pool: LocalPool, path: str, version: str, body: dict) -> httpx.Response:
    params = {"api-version": version, "identifier": "js-session"}
    return httpx.post(f"{pool.url}{path}", params=params, json=body, timeout=60)


def test_the_nodejs_tutorials_generation_1_call(js_pool: LocalPool) -> None:
    body = {
        "properties": {
            "codeInputType": "inline",
            "executionType": "synchronous",
            "code": "const greeting = 'hi';\nconsole.log(greeting);\n6 * 7",
        }
    }
    answer = post(js_pool, "/code/execute", GEN1, body).json()["properties"]
    assert (answer["status"], answer["stdout"], answer["result"]) == ("Success", "hi\n", 42)
    again = post(js_pool, "/code/execute", GEN1, {"code": "greeting.toUpperCase()"}).json()
    assert again["properties"]["result"] == "HI"


def test_errors_carry_the_javascript_name_and_stack(js_pool: LocalPool) -> None:
    answer = post(js_pool, "/executions", GEN2, {"code": "null.property"}).json()
    assert answer["status"] == "Failed"
    assert answer["result"]["error"]["ename"] == "TypeError"
    assert "at <anonymous>" in answer["result"]["stderr"]


def test_a_javascript_pool_refuses_a_shell_body(js_pool: LocalPool) -> None:
    answer = post(js_pool, "/executions", GEN2, {"shellCommand": "ls"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "ShellNotSupported" and "JavaScript" in error["message"]


def test_metadata_describes_the_javascript_runtime(js_pool: LocalPool) -> None:
    answer = httpx.get(f"{js_pool.url}/metadata", params={"api-version": GEN2}, timeout=60)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["runtimes"][0]["name"] == "deno" and body["runtimes"][0]["version"][0].isdigit()
    assert body["jupyterKernel"]["name"] == "deno" and body["preInstalledPackages"] == []


def test_prompt_asks_the_streaming_caller_as_the_pool_says_it_can(js_pool: LocalPool) -> None:
    """The pool names ``stdin``: JavaScript's ``prompt()`` reaches the caller as an
    ``input_request`` event and the answer comes back through ``POST .../input``."""
    from remote_kernel.client import SessionPoolClient

    session = "js-prompt"
    seen: list[str] = []
    with SessionPoolClient(js_pool.url, token=js_pool.token, api_version=GEN2) as client:
        client.execute("1", session=session)
        assert client.protocol.features == frozenset({"stream", "stdin", "cancel"})

        def on_event(event: object) -> None:
            kind = getattr(event, "kind", "")
            seen.append(kind)
            if kind == "input_request":
                client.answer_input("js-prompt-run", "bob", session=session)

        result = client.execute(
            'const name = prompt("who?"); console.log("hi " + name)',
            session=session,
            on_event=on_event,
            execution_id="js-prompt-run",
            timeout=30,
        )
        client.delete_session(session)
    assert result.stdout == "hi bob\n" and result.error is None
    assert seen[0] == "input_request"
