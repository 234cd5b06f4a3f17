"""With a token configured, nothing a person or a log can see contains it.

Everything is scanned: the server's log (uvicorn's access log included), every
error the client raises (with its full traceback chain), reprs of the objects
people print, ``%aca_config`` in a real IPython shell, a notebook run by nbclient
on the remote kernel (outputs and the kernel's own stderr), and
``remote-kernel doctor``. The token is distinctive, so a partial print would
show too.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from remote_kernel import errors
from remote_kernel.client import AsyncSessionPoolClient, SessionPoolClient, codecs
from remote_kernel.config import PoolSettings
from remote_kernel.identifiers import new_identifier
from remote_kernel.server import start_local_pool
from remote_kernel.session import RemoteSession

from .pool_process import ServedPool, free_port

pytestmark = pytest.mark.timeout(150)
TOKEN = "rk-secret-" + secrets.token_urlsafe(24)
#: A second secret: the token a misconfigured front-end sends (must not leak either).
WRONG = "rk-wrong-" + secrets.token_urlsafe(24)


def assert_clean(label: str, text: str) -> None:
    for secret in (TOKEN, WRONG):
        assert secret not in text, f"{label} shows a token"
        assert secret[10:30] not in text, f"{label} shows part of a token"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACA_")}
    env.pop("POOL_ENDPOINT", None)
    env.pop("POOL_MANAGEMENT_ENDPOINT", None)
    return {**env, **extra}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPool]:
    """A pool with the token and its access log on (log level debug)."""
    base = tmp_path_factory.mktemp("secrets")
    pool = ServedPool(
        base / "serve.log", token=TOKEN, prewarm=0, log_level="debug",
        extra=["--max-upload-mb", "1"],
    )  # fmt: skip
    yield pool
    pool.stop()
    log = pool.log_text()
    assert "POST /executions" in log  # the access log was on
    assert_clean("the server log", log)


def _full(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) + repr(exc)


def _raised(call: Any, *args: Any, **kwargs: Any) -> BaseException:
    try:
        call(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - every kind is scanned
        return exc
    raise AssertionError(f"{call} did not raise")


class _Breaks(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise OSError("the disk is gone")


def test_client_errors_reprs_and_logs(
    secured: ServedPool,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    sid = new_identifier("secrets")
    seen: dict[str, str] = {}
    with SessionPoolClient(secured.url, token=TOKEN) as client:
        result = client.execute("import os\nprint(sorted(os.environ))\n1/0", session=sid)
        assert result.error is not None and result.error.ename == "ZeroDivisionError"
        seen["result"] = repr(result) + json.dumps(result.raw) + str(result.outputs)
        seen["client repr"] = repr(client) + str(client)
        seen["not found"] = _full(_raised(client.download_file, "missing.txt", session=sid))
        seen["bad path"] = _full(_raised(client.list_files, session=sid, path="../.."))
        seen["too large"] = _full(
            _raised(client.upload_file, b"x" * (2 << 20), session=sid, remote_name="big.bin")
        )
        seen["broken upload"] = _full(
            _raised(client.upload_file, _Breaks(), session=sid, remote_name="b.bin")
        )
        seen["bad identifier"] = _full(_raised(client.execute, "1", session="no way"))
        monkeypatch.setattr(codecs, "READ_MARGIN", -9.8)
        seen["read timeout"] = _full(
            _raised(client.execute, "import time; time.sleep(1)", session=sid, timeout=10)
        )
        monkeypatch.undo()
    with SessionPoolClient(secured.url, token=WRONG) as wrong:
        denied = _raised(wrong.execute, "1", session=sid)
        assert isinstance(denied, errors.AuthenticationError)
        seen["401"] = _full(denied) + json.dumps(denied.body)  # type: ignore[attr-defined]
    with SessionPoolClient(f"http://127.0.0.1:{free_port()}", token=TOKEN) as nowhere:
        refused = _raised(nowhere.execute, "1", session=sid)
        assert isinstance(refused, errors.PoolConnectionError)
        seen["refused"] = _full(refused)
    seen["async client repr"] = repr(AsyncSessionPoolClient(secured.url, token=TOKEN))
    settings = PoolSettings(pool_endpoint=secured.url, token=TOKEN)
    seen["settings"] = repr(settings) + str(settings) + str(settings.describe())
    remote = RemoteSession(settings)
    try:
        assert remote.execute("40 + 2").value == 42
        seen["remote session"] = repr(remote) + str(vars(remote).keys()) + repr(remote.client)
    finally:
        remote.close()
    with start_local_pool(token=TOKEN, prewarm=0, log_level="debug") as local:
        seen["local pool"] = repr(local) + str(local)
        with SessionPoolClient(local.url, token=TOKEN) as c:
            assert c.execute("1", session=sid).value == 1
    seen["python logging"] = caplog.text
    printed = capfd.readouterr()
    seen["printed (uvicorn's own loggers)"] = printed.out + printed.err
    assert '"POST /executions?' in seen["printed (uvicorn's own loggers)"]  # access log on
    for label, text in seen.items():
        assert_clean(label, text)


@pytest.fixture
def ipython(secured: ServedPool) -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance()
    ip.config.AcaMagics.pool_endpoint = secured.url
    ip.config.AcaMagics.token = TOKEN
    ip.run_line_magic("load_ext", "remote_kernel")
    try:
        yield ip
    finally:
        ip.run_line_magic("unload_ext", "remote_kernel")
        InteractiveShell.clear_instance()


def test_aca_config_and_other_magics(ipython: Any) -> None:
    from IPython.utils.capture import capture_output

    shown = []
    for line in ["%aca_config", f"%aca_config token={TOKEN}", "%aca_session",
                 "%aca print('hi')", "%aca_download nothing-here.txt", "%aca 1/0",
                 "%aca_config pool_endpoint=ftp://nowhere"]:  # fmt: skip
        with capture_output() as cap:
            result = ipython.run_cell(line)
        error = result.error_in_exec or result.error_before_exec
        # What the user sees: IPython shows a UsageError as its one line, no traceback.
        shown.append(cap.stdout + cap.stderr + str([o.data for o in cap.outputs]))
        shown.append(str(error) if error else "")
    assert "token" in shown[0] and "hidden" in shown[0]  # it says there is one
    assert "hi" in shown[6]
    assert_clean("%aca_* output", "\n".join(shown))


def test_notebook_on_the_remote_kernel(secured: ServedPool, tmp_path: Path) -> None:
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    from remote_kernel.kernel.spec import SpecOptions, install

    install(SpecOptions(name="remote-secrets"), prefix=str(tmp_path))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in [
        "%aca_config",
        "import os\nsorted(os.environ.items())",
        "print(open('/proc/self/environ', 'rb').read())",
        "%aca_download nothing-here.txt",
        "raise RuntimeError('fails on purpose')",
        "%aca_session",
    ]]  # fmt: skip
    km = KernelManager(
        kernel_spec_manager=KernelSpecManager(
            kernel_dirs=[str(tmp_path / "share" / "jupyter" / "kernels")]
        ),
        kernel_name="remote-secrets",
    )
    log = tmp_path / "kernel.log"
    with open(log, "wb") as stderr:
        NotebookClient(nb, km=km, timeout=90, allow_errors=True).execute(
            env=_env(ACA_POOL_ENDPOINT=secured.url, ACA_POOL_TOKEN=TOKEN), stderr=stderr
        )
    text = nbformat.writes(nb)
    assert "fails on purpose" in text and "PATH" in text  # the cells did run
    assert_clean("the executed notebook", text)
    assert_clean("the kernel's stderr", log.read_text(errors="replace"))


@pytest.mark.parametrize("token", [TOKEN, WRONG], ids=["right-token", "wrong-token"])
def test_doctor(secured: ServedPool, token: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "remote_kernel.cli", "doctor"],
        env=_env(ACA_POOL_ENDPOINT=secured.url, ACA_POOL_TOKEN=token),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert "token: set (hidden)" in output, output
    if token == TOKEN:
        assert "✓ execution: `-7 % 3` returned 2" in output, output
    else:
        assert "✗ execution" in output and "HTTP 401" in output, output
    assert_clean("doctor output", output)


def test_redaction_hides_tokens_but_keeps_prose() -> None:
    said = errors.redact(f"Missing or wrong bearer token: got 'Bearer {WRONG}' and {TOKEN}", TOKEN)
    assert said == "Missing or wrong bearer token: got 'Bearer ***' and ***"
