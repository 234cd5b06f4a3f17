"""Hostile input to the local pool: nothing leaves a session's file area, nothing crashes.

Requests go out raw (``http.client`` keeps ``..`` in a path, which httpx would
normalise away) against a pool with a token. A sentinel file next to the
pool's root and a file in another session must never come back, and every
refusal is a 4xx with Azure's error body, never a 5xx.
"""

from __future__ import annotations

import http.client
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest

from remote_kernel.identifiers import new_identifier
from remote_kernel.server import LocalPool, start_local_pool
from remote_kernel.server.versions import shape_for

from .pool_process import GEN1, GEN2, PeakSampler, ServedPool

pytestmark = pytest.mark.timeout(120)
SENTINEL = "TOP-SECRET-" + secrets.token_hex(8)
MiB = 1 << 20


class Raw:
    """One HTTP request at a time, path and query sent exactly as given."""

    def __init__(self, url: str, token: str | None) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token = token

    def send(
        self,
        method: str,
        path: str,
        query: dict[str, str] | str | None = None,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        token: str | None | bool = True,
    ) -> tuple[int, dict[str, str], bytes]:
        qs = query if isinstance(query, str) else urlencode(query or {})
        hdrs = dict(headers or {})
        use = self.token if token is True else token or None
        if use:
            hdrs["Authorization"] = f"Bearer {use}"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, f"{path}?{qs}" if qs else path, body=body, headers=hdrs)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()


def q(sid: str, version: str = GEN2, **extra: str) -> dict[str, str]:
    return {"api-version": version, "identifier": sid, **extra}


def multipart(filename: str, data: bytes, field: str = "file") -> tuple[bytes, dict[str, str]]:
    boundary = "rkboundary" + secrets.token_hex(6)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode("utf-8", "surrogateescape")
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A pool rooted in a temp dir with a sentinel beside its areas, and a victim session."""
    base = tmp_path_factory.mktemp("hostile")
    (base / "outside.txt").write_text(SENTINEL)
    token = secrets.token_urlsafe(24)
    pool = start_local_pool(token=token, root=base / "root", prewarm=1, max_upload_mb=1)
    raw = Raw(pool.url, token)
    victim = new_identifier("victim")
    body, headers = multipart("secret.txt", SENTINEL.encode())
    status, _, answer = raw.send("POST", "/files", q(victim), body=body, headers=headers)
    assert status == 200, answer
    attacker = new_identifier("attacker")
    assert _run(raw, attacker, "1")["status"] == "Succeeded"
    try:
        yield {"pool": pool, "raw": raw, "base": base, "victim": victim, "attacker": attacker}
    finally:
        pool.stop()


def _run(raw: Raw, sid: str, code: str) -> dict[str, Any]:
    status, _, body = raw.send(
        "POST",
        "/executions",
        q(sid),
        body=json.dumps({"code": code}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == shape_for(GEN2).execute_status, body
    return json.loads(body)


def _refused(status: int, body: bytes, allowed: tuple[int, ...] = (400, 404)) -> None:
    assert status in allowed, (status, body[:300])
    assert SENTINEL.encode() not in body
    error = json.loads(body)["error"]
    assert error["code"] and error["message"]


# -- path traversal -------------------------------------------------------------------

TRAVERSAL_NAMES = [
    "..",
    "../outside.txt",
    "../../outside.txt",
    "a/../../outside.txt",
    "%2e%2e/outside.txt",
    "%2e%2e%2f%2e%2e%2foutside.txt",
    "..%2f..%2foutside.txt",
    "%2fetc%2fpasswd",
    "..\\..\\outside.txt",
    "%5c..%5coutside.txt",
    "x%00.txt",
    "/etc/passwd",
]
TRAVERSAL_PATHS = [
    "..",
    "../..",
    "/etc",
    "/mnt/data/..",
    "/mnt/data/../../..",
    "a/../..",
    "..\\..",
    "x\x00y",
    "//etc",
]  # "/" is the area itself (Azure's examples send path=/): tests/azure_spec


def _file_routes(name: str) -> list[tuple[str, str, str]]:
    """(method, raw path, api-version) of every route that takes a file name."""
    return [
        ("GET", f"/files/content/{name}", GEN1),
        ("GET", f"/files/{name}/content", GEN2),
        ("GET", f"/files/{name}", GEN2),
        ("DELETE", f"/files/{name}", GEN2),
    ]


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_traversal_in_file_names_of_every_route(world: dict[str, Any], name: str) -> None:
    raw, sid = world["raw"], world["attacker"]
    for method, path, version in _file_routes(name):
        status, _, body = raw.send(method, path, q(sid, version))
        _refused(status, body)
    # The same names as an upload's file name, both generations. A multipart file
    # name is not URL-decoded: "%2e%2e" there is a literal (harmless) folder name.
    area = _area(world["pool"], sid)
    for route, version in (("/files", GEN2), ("/files/upload", GEN1)):
        payload, headers = multipart(name.replace("%00", "\x00"), b"planted")
        status, _, body = raw.send("POST", route, q(sid, version), body=payload, headers=headers)
        if status == 200:
            assert "%" in name, (name, body)  # a literal name; where it went is checked below
        else:
            _refused(status, body)
    assert (world["base"] / "outside.txt").read_text() == SENTINEL
    stray = [p for p in world["base"].rglob("*") if p.is_file() and p.read_bytes() == b"planted"]
    assert all(area in p.parents for p in stray), stray


def _area(pool: LocalPool, sid: str) -> Path:
    """The session's file area, from the pool itself (what the API must keep requests in)."""

    async def find() -> Path:
        session = pool.pool.get(sid)
        assert session is not None
        return session.directory

    return Path(pool.call(find()))


@pytest.mark.parametrize("path", TRAVERSAL_PATHS)
def test_traversal_in_the_path_parameter_of_every_route(world: dict[str, Any], path: str) -> None:
    raw, sid = world["raw"], world["attacker"]
    routes = [*_file_routes("outside.txt"), ("GET", "/files", GEN2), ("GET", "/files", GEN1)]
    for method, route, version in routes:
        status, _, body = raw.send(method, route, q(sid, version, path=path))
        _refused(status, body)
    payload, headers = multipart("planted.txt", b"planted")
    status, _, body = raw.send("POST", "/files", q(sid, path=path), body=payload, headers=headers)
    _refused(status, body)
    assert not [p for p in world["base"].rglob("planted.txt")]


def test_symlinks_planted_by_session_code_do_not_lead_out(world: dict[str, Any]) -> None:
    raw, sid, base = world["raw"], new_identifier("links"), world["base"]
    planted = _run(
        raw,
        sid,
        "import os\n"
        f"os.symlink({str(base / 'outside.txt')!r}, 'abs-link')\n"
        f"os.symlink({str(base)!r}, 'dir-link')\n"
        "os.symlink('../..', 'up-link')\n"
        "os.symlink('/nonexistent/target', 'dangling')\n"
        "os.symlink('real.txt', 'inside-link')\n"
        "open('real.txt', 'w').write('fine')\n"
        "sorted(os.listdir('.'))",
    )
    assert planted["status"] == "Succeeded", planted["result"]["stderr"]
    for name in ("abs-link", "up-link/outside.txt", "dir-link/outside.txt", "dangling"):
        for method, path, version in _file_routes(name):
            if method == "DELETE":
                continue
            status, _, body = raw.send(method, path, q(sid, version))
            _refused(status, body)
    for path in ("dir-link", "up-link", "up-link/.."):
        status, _, body = raw.send("GET", "/files", q(sid, path=path))
        _refused(status, body)
        payload, headers = multipart("planted.txt", b"planted")
        status, _, body = raw.send(
            "POST", "/files", q(sid, path=path), body=payload, headers=headers
        )
        _refused(status, body)
    # Listing the area itself works and reveals nothing of the targets.
    status, _, body = raw.send("GET", "/files", q(sid))
    assert status == 200, body
    assert SENTINEL.encode() not in body
    names = {entry["name"] for entry in json.loads(body)["value"]}
    assert {"real.txt", "inside-link"} <= names
    # A link that stays inside is followed.
    status, _, body = raw.send("GET", "/files/inside-link/content", q(sid))
    assert (status, body) == (200, b"fine")
    # Deleting a link removes the link, never its target.
    status, _, body = raw.send("DELETE", "/files/abs-link", q(sid))
    assert status in (204, 400), body
    assert (base / "outside.txt").read_text() == SENTINEL
    assert not [p for p in base.rglob("planted.txt")]


# -- identifiers, bodies, tokens ---------------------------------------------------------

BAD_IDENTIFIERS = ["", "abc", "a" * 129, "has space", "under_score", "dot.ted", "sl/ash",
                   "../../etc", "séance", "nul\x00byte", "tab\there"]  # fmt: skip
IDENTIFIED_ROUTES = [
    ("POST", "/executions"), ("POST", "/code/execute"), ("GET", "/executions/abc"),
    ("POST", "/executions/abc/cancel"), ("POST", "/files"), ("POST", "/files/upload"),
    ("GET", "/files"), ("GET", "/files/x/content"), ("GET", "/files/content/x"),
    ("GET", "/files/x"), ("DELETE", "/files/x"), ("GET", "/session"), ("DELETE", "/session"),
    ("POST", "/.management/stopSession"), ("GET", "/packages"),
]  # fmt: skip


@pytest.mark.parametrize("ident", BAD_IDENTIFIERS, ids=range(len(BAD_IDENTIFIERS)))
def test_identifiers_outside_the_rules_are_refused_everywhere(
    world: dict[str, Any], ident: str
) -> None:
    raw = world["raw"]
    for method, route in IDENTIFIED_ROUTES:
        status, headers, body = raw.send(method, route, q(ident), body=b"{}")
        assert status == 400, (method, route, status, body[:200])
        assert json.loads(body)["error"]["code"] in ("InvalidIdentifier", "MissingIdentifier")


MALFORMED_JSON = [b"{", b"not json", b"\xff\xfe", b"[]", b"null", b"42", b'"code"',
                  b'{"code": 1}', b'{"code": null}', b'{"code": "1", "timeoutInSeconds": "x"}',
                  b'{"code": "1", "timeoutInSeconds": -1}', b'{"code": "1", "id": "../x"}',
                  b'{"code": "1", "executionType": 7}', b'{"properties": []}',
                  b'{"code": "1", "outputStreamsMaxLength": true}', b"{" * 100_000]  # fmt: skip


@pytest.mark.parametrize("payload", MALFORMED_JSON, ids=range(len(MALFORMED_JSON)))
def test_malformed_json_is_400(world: dict[str, Any], payload: bytes) -> None:
    raw, sid = world["raw"], world["attacker"]
    for route, version in (("/executions", GEN2), ("/code/execute", GEN1)):
        status, _, body = raw.send(
            "POST", route, q(sid, version), body=payload,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        if route == "/code/execute" and (b'"id"' in payload or b"executionType" in payload):
            assert status == 200  # generation 1 has neither field: ignored, as Azure does
            continue
        assert status == 400, (route, payload[:40], status, body[:200])
        assert json.loads(body)["error"]["code"]


def _malformed_multiparts() -> list[tuple[bytes, dict[str, str]]]:
    good, headers = multipart("ok.txt", b"data")
    boundary = headers["Content-Type"].split("boundary=")[1]
    return [
        (good, {"Content-Type": "multipart/form-data"}),  # no boundary
        (good, {"Content-Type": "multipart/form-data; boundary=other"}),
        (good[: len(good) // 2], headers),  # cut short
        (b"garbage" * 100, headers),
        (good, {"Content-Type": "application/json"}),
        (good, {}),
        (good.replace(b'filename="ok.txt"', b""), headers),  # a form field, no file
        (good.replace(b'name="file"', b'name="other"'), headers),
        (b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data\r\n\r\nx\r\n", headers),
        (good.replace(b"\r\n\r\n", b"\n", 1), headers),
    ]


@pytest.mark.parametrize("case", range(10))
def test_malformed_multipart_is_400(world: dict[str, Any], case: int) -> None:
    raw, sid = world["raw"], world["attacker"]
    payload, headers = _malformed_multiparts()[case]
    for route, version in (("/files", GEN2), ("/files/upload", GEN1)):
        status, _, body = raw.send("POST", route, q(sid, version), body=payload, headers=headers)
        assert status == 400, (case, route, status, body[:300])
        assert json.loads(body)["error"]["code"]


def _every_route() -> list[tuple[str, str]]:
    return [*IDENTIFIED_ROUTES, ("GET", "/listSessions"), ("GET", "/.management/listSessions"),
            ("GET", "/no/such/route"), ("PUT", "/files/x")]  # fmt: skip


@pytest.mark.parametrize(
    "auth",
    [None, "Bearer wrong-token", "Bearer ", "Basic dXNlcjpwYXNz", "bearer", "Token {token}",
     "Bearer {token}x", "Bearer {token_prefix}"],
    ids=["missing", "wrong", "empty", "basic", "scheme-only", "other-scheme", "suffix", "prefix"],
)  # fmt: skip
def test_wrong_or_missing_token_is_401_on_every_route(
    world: dict[str, Any], auth: str | None
) -> None:
    raw, victim = world["raw"], world["victim"]
    token = raw.token
    headers = {}
    if auth is not None:
        headers["Authorization"] = auth.format(token=token, token_prefix=token[:-2])
    for method, route in _every_route():
        status, hdrs, body = raw.send(method, route, q(victim), body=b"{}", headers=headers,
                                      token=False)  # fmt: skip
        assert status == 401, (method, route, auth, status)
        assert json.loads(body)["error"]["code"] == "Unauthorized"
        assert SENTINEL.encode() not in body and token.encode() not in body
    # Not in the query string either.
    status, _, _ = raw.send("GET", "/files", {**q(victim), "token": token}, token=False)
    assert status == 401


def test_a_session_cannot_reach_another_sessions_files(world: dict[str, Any]) -> None:
    raw, victim, attacker = world["raw"], world["victim"], world["attacker"]
    status, _, body = raw.send("GET", "/files/secret.txt/content", q(victim))
    assert (status, body) == (200, SENTINEL.encode())  # it is there, for its owner
    for method, path, version in _file_routes("secret.txt"):
        status, _, body = raw.send(method, path, q(attacker, version))
        _refused(status, body, (404,))
    status, _, body = raw.send("GET", "/files", q(attacker))
    assert status == 200 and b"secret.txt" not in body
    # Guessing the victim's area through sibling folders is refused as traversal.
    for path in ("../" + victim, "..", "../.."):
        status, _, body = raw.send("GET", "/files/secret.txt/content", q(attacker, path=path))
        _refused(status, body, (400,))
    status, _, body = raw.send("GET", "/files/secret.txt/content", q(victim))
    assert status == 200  # untouched


# -- oversize bodies ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPool]:
    base = tmp_path_factory.mktemp("oversize")
    pool = ServedPool(
        base / "serve.log", token=secrets.token_urlsafe(24), prewarm=0,
        extra=["--max-upload-mb", "1"], root=base / "root",
    )  # fmt: skip
    yield pool
    pool.stop()


def _stream(total: int, head: bytes = b"", tail: bytes = b"") -> Iterator[bytes]:
    yield head
    chunk = b"x" * MiB
    for _ in range(total // MiB):
        yield chunk
    yield tail


def _post_stream(pool: ServedPool, path: str, query: dict[str, str], body: Any,
                 headers: dict[str, str]) -> tuple[int, bytes]:  # fmt: skip
    import httpx

    with httpx.Client(base_url=pool.url, timeout=60) as http:
        try:
            response = http.post(
                path, params=query, content=body,
                headers={"Authorization": f"Bearer {pool.token}", **headers},
            )  # fmt: skip
        except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
            return 0, b""  # the server cut the connection after answering
        return response.status_code, response.content


def test_oversize_upload_is_413_without_buffering(small_served: ServedPool) -> None:
    sid = new_identifier("big")
    payload, headers = multipart("big.bin", b"")
    head, tail = payload.split(b"\r\n--rk", 1)[0], b"\r\n--rk" + payload.split(b"\r\n--rk", 1)[1]
    before = small_served.server_rss()
    with PeakSampler(small_served.server_rss) as peak:
        status, body = _post_stream(
            small_served, "/files", q(sid), _stream(200 * MiB, head, tail), headers
        )
    assert status in (413, 0), (status, body[:200])
    if status:
        assert json.loads(body)["error"]["code"] == "PayloadTooLarge"
    growth = (peak.peak - before) / MiB
    assert growth < 40, f"server RSS grew by {growth:.0f} MiB for a 200 MB upload"
    assert small_served.root is not None
    assert not [p for p in small_served.root.glob("*/sessions/**/*") if p.is_file()]


def test_oversize_json_body_is_413_without_buffering(small_served: ServedPool) -> None:
    sid = new_identifier("bigjson")
    before = small_served.server_rss()
    code = b'{"code": "' + b"#" * (200 * MiB) + b'"}'
    with PeakSampler(small_served.server_rss) as peak:
        status, body = _post_stream(
            small_served, "/executions", q(sid), code, {"Content-Type": "application/json"}
        )
    assert status in (413, 0), (status, body[:200])
    if status:
        assert json.loads(body)["error"]["code"] == "RequestBodyTooLarge"
    growth = (peak.peak - before) / MiB
    assert growth < 40, f"server RSS grew by {growth:.0f} MiB for a 200 MB JSON body"
    # Without a Content-Length (chunked) too.
    status, body = _post_stream(
        small_served, "/executions", q(sid), _stream(200 * MiB, b'{"code": "', b'"}'),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    assert status in (413, 0), (status, body[:200])
    growth = (small_served.server_rss() - before) / MiB
    assert growth < 40, f"server RSS grew by {growth:.0f} MiB for a chunked 200 MB JSON body"


def test_the_pool_still_serves_after_the_abuse(world: dict[str, Any]) -> None:
    assert _run(world["raw"], world["attacker"], "6*7")["result"]["executionResult"] == 42
    assert (world["base"] / "outside.txt").read_text() == SENTINEL


def test_file_names_are_quoted_back_not_interpreted(world: dict[str, Any]) -> None:
    raw, sid = world["raw"], new_identifier("names")
    for name in ("a b.txt", "ünï.txt", "semi;colon", "q?mark", "hash#x", "pct%41"):
        payload, headers = multipart(name, b"n")
        status, _, body = raw.send("POST", "/files", q(sid), body=payload, headers=headers)
        assert status == 200, (name, body)
        status, _, body = raw.send("GET", f"/files/{quote(name, safe='')}/content", q(sid))
        assert (status, body) == (200, b"n"), name
