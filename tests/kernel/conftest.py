"""Real kernels over the real Jupyter protocol, pointed at the shared local pool.

Kernels are launched from a kernelspec installed by ``remote_kernel.kernel.spec``
into a temporary prefix (the same code ``remote-kernel install`` runs), with the
pool's URL and token passed in the environment the way users pass them.

Every message those kernels send is checked against the messaging spec as it
arrives (:class:`ValidatingClient`, :mod:`msgspec`): a test that reads an
incomplete reply fails, whatever it asserts itself.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.channels import ZMQSocketChannel
from jupyter_client.kernelspec import KernelSpecManager
from pool_env import pool_env
from traitlets import Type

from remote_kernel.kernel.spec import SpecOptions, install

from . import msgspec

SIGNAL_SPEC = "remote-python"
MESSAGE_SPEC = "remote-python-message"
#: Seconds a test waits for one cell (first cells start a remote kernel).
CELL_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def kernel_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prefix holding our kernelspec in both interrupt modes."""
    prefix = tmp_path_factory.mktemp("jupyter-prefix")
    install(SpecOptions(name=SIGNAL_SPEC), prefix=str(prefix))
    install(SpecOptions(name=MESSAGE_SPEC, interrupt_mode="message"), prefix=str(prefix))
    return prefix


def kernels_dir(prefix: Path) -> Path:
    return prefix / "share" / "jupyter" / "kernels"


def _validating(channel: str) -> type[ZMQSocketChannel]:
    """A channel class that checks each message it receives against the messaging spec."""

    def _recv(self: ZMQSocketChannel, **kwargs: Any) -> dict[str, Any]:
        return msgspec.check(ZMQSocketChannel._recv(self, **kwargs), channel)

    return type(f"Validating{channel.title()}Channel", (ZMQSocketChannel,), {"_recv": _recv})


class ValidatingClient(BlockingKernelClient):
    """A blocking client whose shell, IOPub, stdin and control messages are all validated."""

    shell_channel_class = Type(_validating("shell"))  # type: ignore[assignment]
    iopub_channel_class = Type(_validating("iopub"))  # type: ignore[assignment]
    stdin_channel_class = Type(_validating("stdin"))  # type: ignore[assignment]
    control_channel_class = Type(_validating("control"))  # type: ignore[assignment]


def kernel_manager(prefix: Path, name: str = SIGNAL_SPEC) -> KernelManager:
    """A manager for kernelspec ``name`` under ``prefix`` whose clients validate messages."""
    km = KernelManager(
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels_dir(prefix))]),
        kernel_name=name,
    )
    km.client_factory = ValidatingClient
    return km


def drain(kc: BlockingKernelClient) -> None:
    """Receive (and so validate) whatever the kernel sent that no test read."""
    for channel in (kc.iopub_channel, kc.shell_channel, kc.control_channel, kc.stdin_channel):
        while channel.msg_ready():
            channel.get_msg(timeout=0)


@contextmanager
def running_kernel(
    prefix: Path,
    env: dict[str, str],
    *,
    name: str = SIGNAL_SPEC,
    extra_arguments: list[str] | None = None,
    cwd: Path | None = None,
) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    km = kernel_manager(prefix, name)
    km.start_kernel(env=env, extra_arguments=extra_arguments or [], cwd=str(cwd) if cwd else None)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield km, kc
        drain(kc)
    finally:
        kc.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel()


@pytest.fixture(scope="module")
def kernel(kernel_prefix: Path, local_pool: Any) -> Iterator[BlockingKernelClient]:
    """One kernel on the shared pool for a whole test module."""
    with running_kernel(kernel_prefix, pool_env(local_pool)) as (_, kc):
        yield kc


def execute(
    kc: BlockingKernelClient, code: str, *, timeout: float = CELL_TIMEOUT, **options: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``code``; return the execute_reply and the IOPub messages of that request
    (everything but status and execute_input), in arrival order."""
    msg_id = kc.execute(code, **options)
    return collect(kc, msg_id, timeout=timeout)


def collect(
    kc: BlockingKernelClient, msg_id: str, *, timeout: float = CELL_TIMEOUT
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    deadline = time.monotonic() + timeout
    outputs: list[dict[str, Any]] = []
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            break
        if kind not in ("status", "execute_input"):
            outputs.append(msg)
    while True:  # skip stale replies (wait_for_ready may have sent two kernel_info requests)
        reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply, outputs


def kinds(outputs: list[dict[str, Any]]) -> list[str]:
    return [m["msg_type"] for m in outputs]


def answer_stdin(kc: BlockingKernelClient, msg_id: str, value: str) -> dict[str, Any]:
    """Wait for the cell's input_request on the stdin channel, answer it, return its content."""
    while True:
        request = kc.get_stdin_msg(timeout=CELL_TIMEOUT)
        if request["parent_header"].get("msg_id") == msg_id:
            kc.input(value)
            return request["content"]  # type: ignore[no-any-return]


def as_shown(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The outputs as a front-end shows them: consecutive stream messages of one name
    merged, as JupyterLab's output area does.

    One ``print`` may arrive as two stream messages, from a stock kernel too:
    ipykernel flushes a stream 0.2 s after a write, and a flush timer left from an
    earlier cell can fire between ``print``'s two writes (seen under CI load).
    """
    shown: list[dict[str, Any]] = []
    for msg in outputs:
        last = shown[-1] if shown else None
        if (
            last is not None
            and msg["msg_type"] == last["msg_type"] == "stream"
            and msg["content"]["name"] == last["content"]["name"]
        ):
            text = last["content"]["text"] + msg["content"]["text"]
            shown[-1] = {**last, "content": {**last["content"], "text": text}}
        else:
            shown.append(msg)
    return shown


def stream_text(outputs: list[dict[str, Any]], name: str = "stdout") -> str:
    return "".join(
        m["content"]["text"]
        for m in outputs
        if m["msg_type"] == "stream" and m["content"]["name"] == name
    )


# --------------------------------------------------------------------------- proxy


class _Proxy:
    """A pool that forwards to the local pool but has no cancel route (as on Azure)."""

    def __init__(self, upstream: str, token: str) -> None:
        import httpx
        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        client = httpx.AsyncClient(base_url=upstream, timeout=None)
        hop = {"host", "content-length", "transfer-encoding", "connection"}

        async def forward(request: Request) -> Response:
            if request.url.path.endswith("/cancel"):
                body = {"error": {"code": "NotFound", "message": "No such route."}}
                return JSONResponse(body, status_code=404)
            headers = {k: v for k, v in request.headers.items() if k.lower() not in hop}
            upstream_response = await client.request(
                request.method,
                request.url.path,
                params=request.query_params,
                headers=headers,
                content=await request.body(),
            )
            out_headers = {
                k: v for k, v in upstream_response.headers.items() if k.lower() not in hop
            }
            out_headers.pop("content-encoding", None)
            return Response(
                upstream_response.content,
                status_code=upstream_response.status_code,
                headers=out_headers,
            )

        methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
        app = Starlette(routes=[Route("/{path:path}", forward, methods=methods)])
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.token = token
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("proxy did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


@pytest.fixture(scope="module")
def no_cancel_pool(local_pool: Any) -> Iterator[_Proxy]:
    proxy = _Proxy(local_pool.url, local_pool.token)
    try:
        yield proxy
    finally:
        proxy.stop()
