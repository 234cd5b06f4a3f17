"""Code execution through the local pool, both generations, over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import time

import httpx
import psutil
import pytest
from pool_api import GEN1, GEN2, Api, error_code

GEN2_VERSIONS = ["2024-10-02-preview", "2025-02-02-preview", "2025-10-02-preview"]
GEN1_VERSIONS = ["2024-02-02-preview", "2024-08-02-preview"]


def test_gen2_state_stdout_value_and_new_session_flag(api: Api, sid: str) -> None:
    first = api.run(sid, "x = 40\nprint('hello')")
    assert first["status"] == "Succeeded"
    assert first["identifier"] == sid and first["executionType"] == "Synchronous"
    assert first["id"]
    result = first["result"]
    assert result["stdout"] == "hello\n" and result["stderr"] == ""
    assert result["executionResult"] == "" and result["sessionCreated"] is True
    assert result["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "hello\n"}]
    assert isinstance(result["executionTimeInMilliseconds"], int)
    second = api.run(sid, "x + 2")
    assert second["result"]["executionResult"] == 42
    assert second["result"]["sessionCreated"] is False
    assert second["rawResult"]["result"] == 42 and second["rawResult"]["hresult"] == 0
    assert second["id"] != first["id"]


@pytest.mark.parametrize("version", GEN2_VERSIONS)
def test_every_gen2_version_answers_gen2(api: Api, shared_sid: str, version: str) -> None:
    body = api.run(shared_sid, "6 * 7", version=version)
    assert body["status"] == "Succeeded" and body["result"]["executionResult"] == 42


@pytest.mark.parametrize("version", GEN1_VERSIONS)
def test_gen1_shape_with_and_without_properties(api: Api, shared_sid: str, version: str) -> None:
    wrapped = api.request(
        "POST",
        "/code/execute",
        shared_sid,
        version=version,
        json={"properties": {"codeInputType": "inline", "code": "print(1)\n1+1"}},
    )
    body = wrapped.json()
    assert wrapped.status_code == 200 and body["$id"] == "1"
    props = body["properties"]
    assert props["status"] == "Success" and props["stdout"] == "1\n" and props["result"] == 2
    assert isinstance(props["executionTimeInMilliseconds"], int)
    assert {"outputs", "error", "truncated", "sessionCreated", "timedOut", "stateLost"} <= set(
        props
    )
    flat = api.request("POST", "/code/execute", shared_sid, version=version, json={"code": "3"})
    assert flat.json()["properties"]["result"] == 3


def test_result_values_follow_azure(api: Api, shared_sid: str) -> None:
    assert api.value(shared_sid, "(1, (2, 3))") == [1, [2, 3]]
    assert api.value(shared_sid, "{'a': [1.5, None, True]}") == {"a": [1.5, None, True]}
    assert api.value(shared_sid, "'text'") == "text"
    assert api.value(shared_sid, "None") == ""
    assert api.value(shared_sid, "{1, 2}") == "{1, 2}"  # not JSON: the repr
    assert api.value(shared_sid, "float('nan')") == "nan"
    assert api.value(shared_sid, "{1: 'x'}") == "{1: 'x'}"
    assert api.value(shared_sid, "object()").startswith("<object at 0x")


def test_stderr_is_plain_text_and_streams_keep_order(api: Api, shared_sid: str) -> None:
    code = (
        "import sys\nprint('out1', flush=True)\nsys.stderr.write('\\x1b[31mred\\x1b[0m\\n')\n"
        "sys.stderr.flush()\nprint('out2')"
    )
    result = api.run(shared_sid, code)["result"]
    assert result["stdout"] == "out1\nout2\n"
    assert result["stderr"] == "red\n"
    names = [(o["name"], o["text"]) for o in result["outputs"]]
    assert names == [("stdout", "out1\n"), ("stderr", "\x1b[31mred\x1b[0m\n"), ("stdout", "out2\n")]


def test_several_displays_in_order(api: Api, shared_sid: str) -> None:
    code = (
        "from IPython.display import display, HTML, Markdown\n"
        "print('a')\ndisplay(HTML('<b>1</b>'))\nprint('b')\ndisplay(Markdown('*2*'))\n'end'"
    )
    outputs = api.run(shared_sid, code)["result"]["outputs"]
    kinds = [o["output_type"] for o in outputs]
    assert kinds == ["stream", "display_data", "stream", "display_data", "execute_result"]
    assert outputs[1]["data"]["text/html"] == "<b>1</b>"
    assert outputs[3]["data"]["text/markdown"] == "*2*"
    assert outputs[4]["data"]["text/plain"] == "'end'"


def test_matplotlib_figure_is_the_result_image(api: Api, shared_sid: str) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('t')\nplt.show()"
    result = api.run(shared_sid, code)["result"]
    image = result["executionResult"]
    assert image["type"] == "image" and image["format"] == "png"
    assert base64.b64decode(image["base64_data"]).startswith(b"\x89PNG")
    assert any("image/png" in o.get("data", {}) for o in result["outputs"])


def test_execute_result_image_and_gen1_image(api: Api, shared_sid: str) -> None:
    code = (
        "import io, matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
        "fig = plt.figure(); plt.plot([1, 2]); buf = io.BytesIO(); fig.savefig(buf, format='png')\n"
        "plt.close(fig)\nfrom IPython.display import Image\nImage(data=buf.getvalue())"
    )
    props = api.run1(shared_sid, code)
    assert props["result"]["type"] == "image"
    assert base64.b64decode(props["result"]["base64_data"]).startswith(b"\x89PNG")
    # The session's inline backend is back for later cells.
    api.run(shared_sid, "matplotlib.use('module://matplotlib_inline.backend_inline')")


@pytest.mark.parametrize("version", [GEN1, GEN2])
def test_user_error(api: Api, shared_sid: str, version: str) -> None:
    code = "print('before')\n1/0"
    if version == GEN1:
        props = api.run1(shared_sid, code)
        assert props["status"] == "Failure"
        stderr, error, outputs = props["stderr"], props["error"], props["outputs"]
    else:
        body = api.run(shared_sid, code)
        assert body["status"] == "Failed"
        assert body["rawResult"]["error_name"] == "ZeroDivisionError"
        result = body["result"]
        stderr, error, outputs = result["stderr"], result["error"], result["outputs"]
    assert error["ename"] == "ZeroDivisionError" and error["evalue"] == "division by zero"
    assert "ZeroDivisionError: division by zero" in stderr and "\x1b[" not in stderr
    assert "Traceback" in stderr
    assert [o["output_type"] for o in outputs] == ["stream", "error"]


def test_timeout_interrupts_and_keeps_state(api: Api, sid: str) -> None:
    api.run(sid, "kept = 'yes'")
    started = time.monotonic()
    body = api.run(sid, "import time\ntime.sleep(30)", timeoutInSeconds=1)
    assert time.monotonic() - started < 6
    result = body["result"]
    assert body["status"] == "Failed" and result["timedOut"] is True
    assert result["stateLost"] is False and result["error"]["ename"] == "TimeoutError"
    assert "TimeoutError" in result["stderr"]
    assert api.value(sid, "kept") == "yes"


def test_a_cell_handling_the_interrupt_is_not_interrupted_again(api: Api, sid: str) -> None:
    """Once the cell's code runs, one interrupt is enough: a repeat would cut into the
    cell's own KeyboardInterrupt handling (here a slow cleanup; on IPython 8 it was
    IPython formatting the traceback, which left a stray "KeyboardInterrupt" on stderr)."""
    code = (
        "import time\ntry:\n    time.sleep(30)\nexcept KeyboardInterrupt:\n"
        "    time.sleep(1.5)\n    print('cleanup finished')\n    raise"
    )
    result = api.run(sid, code, timeoutInSeconds=1)["result"]
    assert result["timedOut"] is True and result["stateLost"] is False
    assert result["stdout"] == "cleanup finished\n", result


def test_timeout_of_a_cell_ignoring_interrupts_restarts_the_interpreter(api: Api, sid: str) -> None:
    api.run(sid, "gone = 1")
    code = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)"
    result = api.run(sid, code, timeoutInSeconds=1)["result"]
    assert result["timedOut"] is True and result["stateLost"] is True
    assert "restarted" in result["error"]["evalue"]
    assert api.value(sid, "'gone' in globals()") is False
    assert api.value(sid, "1 + 1") == 2


def test_async_execution_operation_location(api: Api, sid: str) -> None:
    response = api.request(
        "POST",
        "/executions",
        sid,
        json={"code": "import time; time.sleep(2); 7", "executionType": "Asynchronous"},
    )
    assert response.status_code == 202
    started = response.json()
    assert started["status"] in ("NotStarted", "Running") and "result" not in started
    assert response.headers["operation-id"] == started["id"]
    location = httpx.URL(response.headers["Operation-Location"])
    assert location.path == f"/executions/{started['id']}"
    assert location.params["identifier"] == sid and location.params["api-version"] == GEN2
    deadline = time.monotonic() + 30
    while True:
        polled = api.http.get(str(location)).json()
        if polled["status"] not in ("NotStarted", "Running"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert polled["status"] == "Succeeded" and polled["result"]["executionResult"] == 7


def _start(api: Api, sid: str, code: str, **body: object) -> str:
    response = api.request(
        "POST", "/executions", sid, json={"code": code, "executionType": "Asynchronous", **body}
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _wait(api: Api, sid: str, execution_id: str, state: str = "done") -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = api.request("GET", f"/executions/{execution_id}", sid).json()
        if state == "Running" and body["status"] == "Running":
            return body
        if state == "done" and body["status"] not in ("NotStarted", "Running"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"execution {execution_id} never reached {state}")


def test_cancel_running_execution_keeps_session(api: Api, sid: str) -> None:
    api.run(sid, "kept = 5")
    run_id = _start(api, sid, "import time\nfor _ in range(300): time.sleep(0.1)")
    _wait(api, sid, run_id, "Running")
    response = api.request("POST", f"/executions/{run_id}/cancel", sid)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "Canceled"
    assert body["result"]["error"]["ename"] == "KeyboardInterrupt"
    assert api.value(sid, "kept") == 5


def test_cancel_queued_execution_drops_it(api: Api, sid: str) -> None:
    first = _start(api, sid, "import time; time.sleep(3); ran = ['first']")
    _wait(api, sid, first, "Running")
    queued = _start(api, sid, "ran.append('second')")
    started = time.monotonic()
    response = api.request("POST", f"/executions/{queued}/cancel", sid)
    assert time.monotonic() - started < 1.5  # not after the first one finished
    assert response.status_code == 202 and response.json()["status"] == "Canceled"
    assert _wait(api, sid, first)["status"] == "Succeeded"
    assert api.value(sid, "ran") == ["first"]
    finished = api.request("POST", f"/executions/{first}/cancel", sid)
    assert finished.status_code == 200 and finished.json()["status"] == "Succeeded"


def test_cancel_or_get_unknown_execution_is_404(api: Api, shared_sid: str) -> None:
    api.run(shared_sid, "1")
    assert error_code(api.request("POST", "/executions/nope/cancel", shared_sid)) == (
        "ExecutionNotFound"
    )
    assert error_code(api.request("GET", "/executions/nope", shared_sid)) == "ExecutionNotFound"


def test_client_chosen_id(api: Api, shared_sid: str) -> None:
    body = api.run(shared_sid, "1", id="client-id-123")
    assert body["id"] == "client-id-123"
    again = api.request(
        "POST", "/executions", shared_sid, json={"code": "1", "id": "client-id-123"}
    )
    assert again.status_code == 409 and error_code(again) == "ExecutionIdConflict"
    bad = api.request("POST", "/executions", shared_sid, json={"code": "1", "id": "bad id!"})
    assert bad.status_code == 400


def test_executions_of_one_session_run_in_order(api: Api, shared_sid: str) -> None:
    api.run(shared_sid, "order = []")
    ids = [
        _start(api, shared_sid, f"import time; time.sleep(0.05); order.append({i})")
        for i in range(5)
    ]
    for execution_id in ids:
        assert _wait(api, shared_sid, execution_id)["status"] == "Succeeded"
    assert api.value(shared_sid, "order") == [0, 1, 2, 3, 4]


def test_two_sessions_run_concurrently(api: Api) -> None:
    from remote_kernel.identifiers import new_identifier

    sessions = [new_identifier("conc"), new_identifier("conc")]
    for ident in sessions:  # create both first: kernel start-up is not what is measured
        api.run(ident, "import time")
    code = "t0 = time.time(); time.sleep(1.0); (t0, time.time())"

    async def both() -> list[dict]:
        headers = dict(api.http.headers)
        async with httpx.AsyncClient(base_url=api.pool.url, headers=headers, timeout=60) as c:
            calls = [
                c.post(
                    "/executions",
                    params={"api-version": GEN2, "identifier": s},
                    json={"code": code},
                )
                for s in sessions
            ]
            return [r.json() for r in await asyncio.gather(*calls)]

    (a0, a1), (b0, b1) = (b["result"]["executionResult"] for b in asyncio.run(both()))
    assert a0 < b1 and b0 < a1, "the two sleeps did not overlap"
    for ident in sessions:
        api.request("DELETE", "/session", ident)


def test_output_limit_from_request(api: Api, shared_sid: str) -> None:
    body = api.run(shared_sid, "print('x' * 10000)", outputStreamsMaxLength=100)
    result = body["result"]
    assert result["truncated"] is True
    assert result["stdout"] == "x" * 100  # at most the maximum asked for (issue 15 item 6)
    assert result["outputs"][0]["text"].startswith("x" * 100 + "\n[output truncated")
    assert "9901 more characters" in result["outputs"][0]["text"]


def test_huge_output_is_capped_by_the_server(api: Api, shared_sid: str) -> None:
    """100 MB printed: the answer keeps 1 MB, and the pool (in this process) stays small."""
    before = psutil.Process().memory_info().rss
    code = (
        "import sys\nchunk = 'y' * 1_000_000\nfor _ in range(100): sys.stdout.write(chunk)\n'after'"
    )
    result = api.run(shared_sid, code)["result"]
    grown = psutil.Process().memory_info().rss - before
    assert result["truncated"] is True and result["executionResult"] == "after"
    assert len(result["stdout"]) == 1_000_000
    assert "99000000 more characters of stdout were dropped" in result["outputs"][0]["text"]
    assert grown < 50_000_000, f"the pool grew by {grown / 1e6:.0f} MB"


def test_interpreter_death_loses_the_session(api: Api, sid: str) -> None:
    api.run(sid, "open('f.txt', 'w').write('x'); alive = 1")
    body = api.run(sid, "import os\nos.kill(os.getpid(), 9)")
    result = body["result"]
    assert body["status"] == "Failed" and result["error"]["ename"] == "SessionLost"
    assert result["stateLost"] is True and "died" in result["error"]["evalue"]
    fresh = api.run(sid, "import os\n('alive' in globals(), os.listdir('.'))")
    assert fresh["result"]["sessionCreated"] is True
    assert fresh["result"]["executionResult"] == [False, []]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"code": 5}, "InvalidRequestBody"),
        ({}, "InvalidRequestBody"),
        ({"code": "1", "timeoutInSeconds": -1}, "InvalidRequestBody"),
        ({"code": "1", "timeoutInSeconds": "ten"}, "InvalidRequestBody"),
        ({"code": "1", "executionType": "Later"}, "InvalidRequestBody"),
        ({"code": "1", "codeInputType": "file"}, "InvalidRequestBody"),
        ({"code": "1", "outputStreamsMaxLength": -3}, "InvalidRequestBody"),
        ({"shellCommand": "ls"}, "ShellNotSupported"),
    ],
)
def test_bad_bodies_are_400(api: Api, shared_sid: str, body: dict, code: str) -> None:
    response = api.request("POST", "/executions", shared_sid, json=body)
    assert response.status_code == 400 and error_code(response) == code


def test_non_json_body_is_400(api: Api, shared_sid: str) -> None:
    response = api.request("POST", "/code/execute", shared_sid, version=GEN1, content=b"{nope")
    assert response.status_code == 400 and error_code(response) == "InvalidRequestBody"


def test_long_timeout_is_capped_not_refused(api: Api, shared_sid: str) -> None:
    assert api.run(shared_sid, "1", timeoutInSeconds=5000)["status"] == "Succeeded"


def test_clear_output_and_updated_displays(api: Api, shared_sid: str) -> None:
    code = (
        "from IPython.display import display, clear_output\n"
        "print('gone')\nclear_output()\nprint('kept')\n"
        "handle = display('v1', display_id=True)\nhandle.update('v2')"
    )
    outputs = api.run(shared_sid, code)["result"]["outputs"]
    assert outputs[0] == {"output_type": "stream", "name": "stdout", "text": "kept\n"}
    assert outputs[1]["output_type"] == "display_data"
    assert outputs[1]["data"]["text/plain"] == "'v2'"
    assert len(outputs) == 2


def test_input_fails_instead_of_hanging(api: Api, shared_sid: str) -> None:
    body = api.run(shared_sid, "input('name? ')", timeoutInSeconds=10)
    assert body["status"] == "Failed"
    assert body["result"]["error"]["ename"] == "StdinNotImplementedError"


def _threads_left(pid: int) -> list[str]:
    try:
        return os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return []


def test_interpreter_killed_between_calls_gives_a_fresh_session(api: Api, sid: str) -> None:
    pid = api.value(sid, "import os\nbefore = 1\nos.getpid()")
    os.kill(pid, signal.SIGKILL)
    # Dead for good: a zombie whose last thread is gone (the leader turns "Z" while
    # its other threads are still exiting, and cannot be reaped until they are).
    deadline = time.monotonic() + 10
    while len(_threads_left(pid)) > 1 or (
        _threads_left(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    result = api.run(sid, "'before' in globals()")["result"]
    assert result["sessionCreated"] is True and result["executionResult"] is False


def test_usage_error_is_an_error_not_a_success(api: Api, shared_sid: str) -> None:
    # IPython reports an unknown magic only in the shell reply and on stderr.
    body = api.run(shared_sid, "%definitely_not_a_magic")
    assert body["status"] == "Failed"
    assert body["result"]["error"]["ename"] == "UsageError"
    assert "definitely_not_a_magic" in body["result"]["error"]["evalue"]
    assert api.run(shared_sid, "1 + 1")["result"]["executionResult"] == 2
