"""Streamed downloads when the connection breaks mid-body (only a mock transport can do that)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from remote_kernel import errors
from remote_kernel.client import AsyncSessionPoolClient, SessionPoolClient

EP = "https://eastus.dynamicsessions.io/subscriptions/s/resourceGroups/g/sessionPools/p1"
BODY = b"x" * 3_000_000


class Broken(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Half the body, then a dropped connection."""

    def __iter__(self):
        yield BODY[: len(BODY) // 2]
        raise httpx.ReadError("connection reset")

    async def __aiter__(self):
        yield BODY[: len(BODY) // 2]
        raise httpx.ReadError("connection reset")


def flaky(breaks: int):
    """A pool whose first ``breaks`` downloads drop mid-body."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        headers = {"content-length": str(len(BODY))}
        if len(calls) <= breaks:
            return httpx.Response(200, headers=headers, stream=Broken())
        return httpx.Response(200, headers=headers, content=BODY)

    return httpx.MockTransport(handler), calls


def test_a_broken_download_is_tried_again_and_leaves_no_partial_file(tmp_path):
    transport, calls = flaky(breaks=1)
    seen = []
    client = SessionPoolClient(EP, token="t0ken", transport=transport)
    target = tmp_path / "out.bin"
    client.download_file(
        "f.bin", session="s-123", destination=target, progress=lambda d, t: seen.append((d, t))
    )
    assert target.read_bytes() == BODY and len(calls) == 2
    assert seen[-1] == (len(BODY), len(BODY))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_a_download_that_keeps_breaking_says_so_and_keeps_nothing(tmp_path):
    transport, calls = flaky(breaks=99)
    client = SessionPoolClient(EP, token="t0ken", transport=transport)
    with pytest.raises(errors.TransportError, match="broke during the download"):
        client.download_file("f.bin", session="s-123", destination=tmp_path / "out.bin")
    assert len(calls) == 4 and list(tmp_path.iterdir()) == []


def test_the_async_client_tries_a_broken_download_again():
    transport, calls = flaky(breaks=2)

    async def go():
        async with AsyncSessionPoolClient(EP, token="t0ken", transport=transport) as client:
            return await client.download_file("f.bin", session="s-123")

    assert asyncio.run(go()) == BODY and len(calls) == 3


def test_a_missing_file_names_the_listing_command():
    transport = httpx.MockTransport(
        lambda r: httpx.Response(404, json={"error": {"code": "NotFound", "message": "gone"}})
    )
    client = SessionPoolClient(EP, token="t0ken", transport=transport)
    with pytest.raises(errors.NotFoundError, match="aca_files"):
        client.download_file("f.bin", session="s-123")
