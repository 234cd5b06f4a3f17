"""Session files through the local pool: both generations, sub-folders, unsafe names."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest
from pool_api import GEN1, GEN2, Api, error_code


def _upload(
    api: Api, sid: str, name: str, data: bytes, *, version: str = GEN2, path: str | None = None
) -> httpx.Response:
    route = "/files/upload" if version == GEN1 else "/files"
    params = {"path": path} if path is not None else None
    return api.request(
        "POST", route, sid, version=version, params=params, files={"file": (name, data)}
    )


def _names(api: Api, sid: str, *, version: str = GEN2, path: str | None = None) -> list[str]:
    params = {"path": path} if path is not None else None
    response = api.request("GET", "/files", sid, version=version, params=params)
    assert response.status_code == 200, response.text
    values = response.json()["value"]
    return [v["properties"]["filename"] if version == GEN1 else v["name"] for v in values]


def test_gen2_upload_metadata_list_download_delete(api: Api, sid: str) -> None:
    response = _upload(api, sid, "hello.txt", b"hello world")
    assert response.status_code == 200
    info = response.json()
    assert info["name"] == "hello.txt" and info["sizeInBytes"] == 11
    assert info["type"] == "File" and info["contentType"] == "text/plain"
    assert info["lastModifiedAt"].endswith("Z")
    meta = api.request("GET", "/files/hello.txt", sid)
    assert meta.status_code == 200 and meta.json()["sizeInBytes"] == 11
    listed = api.request("GET", "/files", sid).json()["value"]
    assert [entry["name"] for entry in listed] == ["hello.txt"]
    content = api.request("GET", "/files/hello.txt/content", sid)
    assert content.status_code == 200 and content.content == b"hello world"
    assert api.request("DELETE", "/files/hello.txt", sid).status_code == 204
    for method, route in [
        ("GET", "/files/hello.txt"),
        ("GET", "/files/hello.txt/content"),
        ("DELETE", "/files/hello.txt"),
    ]:
        missing = api.request(method, route, sid)
        assert missing.status_code == 404 and error_code(missing) == "FileNotFound"


def test_gen1_upload_list_download_delete(api: Api, sid: str) -> None:
    response = _upload(api, sid, "data.csv", b"a,b\n1,2\n", version=GEN1)
    assert response.status_code == 200
    (entry,) = response.json()["value"]
    props = entry["properties"]
    assert props["filename"] == "data.csv" and props["size"] == 8
    assert props["lastModifiedTime"].endswith("Z")
    assert _names(api, sid, version=GEN1) == ["data.csv"]
    content = api.request("GET", "/files/content/data.csv", sid, version=GEN1)
    assert content.content == b"a,b\n1,2\n"
    assert api.request("DELETE", "/files/data.csv", sid, version=GEN1).status_code == 204
    assert _names(api, sid, version=GEN1) == []


def test_binary_round_trip_is_byte_exact_and_visible_to_code(api: Api, sid: str) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 123)
    assert _upload(api, sid, "blob.bin", payload).json()["sizeInBytes"] == len(payload)
    digest = api.value(
        sid, "import hashlib\nhashlib.sha256(open('blob.bin','rb').read()).hexdigest()"
    )
    assert digest == hashlib.sha256(payload).hexdigest()
    downloaded = api.request("GET", "/files/blob.bin/content", sid)
    assert downloaded.content == payload
    assert downloaded.headers["content-type"] == "application/octet-stream"  # .bin: no type


def test_files_written_by_code_can_be_downloaded(api: Api, sid: str) -> None:
    api.run(sid, "open('made.txt', 'w').write('from the session')")
    assert api.request("GET", "/files/content/made.txt", sid).content == b"from the session"


def test_upload_replaces_an_existing_file(api: Api, sid: str) -> None:
    _upload(api, sid, "same.txt", b"first version")
    _upload(api, sid, "same.txt", b"second")
    assert api.request("GET", "/files/same.txt/content", sid).content == b"second"
    assert _names(api, sid) == ["same.txt"]


def test_sub_folders_by_path_parameter(api: Api, sid: str) -> None:
    assert _upload(api, sid, "n.txt", b"abc", path="sub/dir").status_code == 200
    assert _names(api, sid, path="sub/dir") == ["n.txt"]
    assert _names(api, sid, path="/mnt/data/sub/dir") == ["n.txt"]
    root = api.request("GET", "/files", sid).json()["value"]
    # A folder as the 2025-10-02-preview recursive example shows one: its own size,
    # application/octet-stream, never null (the specification's schema has no nulls).
    assert root == [
        {
            "name": "sub",
            "sizeInBytes": api.value(sid, "__import__('os').stat('sub').st_size"),
            "lastModifiedAt": root[0]["lastModifiedAt"],
            "contentType": "application/octet-stream",
            "type": "Directory",
            "directory": "",
        }
    ]
    assert _names(api, sid, version=GEN1) == []  # generation 1 lists files only
    meta = api.request("GET", "/files/n.txt", sid, params={"path": "sub/dir"})
    assert meta.json()["sizeInBytes"] == 3
    assert api.value(sid, "open('sub/dir/n.txt').read()") == "abc"
    gone = api.request("DELETE", "/files/n.txt", sid, params={"path": "sub/dir"})
    assert gone.status_code == 204
    missing = api.request("GET", "/files", sid, params={"path": "nowhere"})
    assert missing.status_code == 404 and error_code(missing) == "DirectoryNotFound"


def test_names_with_folders_as_langchain_sends_them(api: Api, sid: str) -> None:
    assert _upload(api, sid, "nested/x.txt", b"x", version=GEN1).status_code == 200
    assert _names(api, sid, version=GEN1, path="nested") == ["x.txt"]
    assert api.request("GET", "/files/content/nested/x.txt", sid, version=GEN1).content == b"x"
    azure_style = api.request("POST", "/files", sid, params={"path": "/mnt/data"},
                              files={"file": ("top.txt", b"t")})  # fmt: skip
    assert azure_style.status_code == 200 and "top.txt" in _names(api, sid)


BAD_NAMES = ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt", "..", "a\\..\\evil.txt"]
BAD_PATHS = ["..", "../x", "/etc", "a/../../b", "x\x00y", "/mnt/data/../x", "/mnt/database"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_upload_names_are_refused(api: Api, shared_sid: str, name: str) -> None:
    response = _upload(api, shared_sid, name, b"evil")
    assert response.status_code == 400, response.text
    assert error_code(response) == "InvalidPath"


@pytest.mark.parametrize("path", BAD_PATHS)
def test_unsafe_path_parameters_are_refused(api: Api, shared_sid: str, path: str) -> None:
    for method, route, kwargs in [
        ("POST", "/files", {"files": {"file": ("ok.txt", b"x")}}),
        ("GET", "/files", {}),
        ("GET", "/files/ok.txt", {}),
        ("GET", "/files/ok.txt/content", {}),
        ("DELETE", "/files/ok.txt", {}),
    ]:
        response = api.request(method, route, shared_sid, params={"path": path}, **kwargs)
        assert response.status_code == 400, (method, route, response.text)
        assert error_code(response) == "InvalidPath"


@pytest.mark.parametrize("raw", ["..%2Fevil", "%2E%2E/x", "a%00b", "%2Fetc%2Fpasswd"])
def test_unsafe_names_in_the_url_are_refused(api: Api, shared_sid: str, raw: str) -> None:
    url = f"{api.pool.url}/files/{raw}/content?api-version={GEN2}&identifier={shared_sid}"
    response = api.http.get(url)
    assert response.status_code == 400, response.text
    assert error_code(response) == "InvalidPath"


def test_empty_and_nul_upload_names_are_refused(api: Api, shared_sid: str) -> None:
    boundary = "xyz"
    for filename in ['""', '"a\x00b"']:
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename={filename}'
            f"\r\n\r\ndata\r\n--{boundary}--\r\n"
        ).encode()
        response = api.request(
            "POST",
            "/files",
            shared_sid,
            content=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code == 400, response.text
        assert error_code(response) == "InvalidPath"


def test_symlinks_cannot_lead_out_of_the_area(api: Api, sid: str) -> None:
    api.run(sid, "import os\nos.symlink('/etc', 'etc-link')")
    response = api.request("GET", "/files/content/etc-link/hostname", sid, version=GEN1)
    assert response.status_code == 400 and error_code(response) == "InvalidPath"


def test_nothing_escaped_the_areas(local_pool) -> None:
    root: Path = local_pool.pool.root
    for base in [root, root.parent, root / "sessions", Path("/etc")]:
        assert not (base / "evil.txt").exists()


def test_upload_needs_a_file_field(api: Api, shared_sid: str) -> None:
    not_multipart = api.request("POST", "/files", shared_sid, content=b"raw bytes")
    assert not_multipart.status_code == 400 and error_code(not_multipart) == "InvalidRequestBody"
    other_field = api.request("POST", "/files", shared_sid, files={"other": ("a.txt", b"x")})
    assert other_field.status_code == 400 and error_code(other_field) == "InvalidRequestBody"


def test_folder_is_not_downloadable(api: Api, sid: str) -> None:
    _upload(api, sid, "f.txt", b"1", path="folder")
    response = api.request("GET", "/files/folder/content", sid)
    assert response.status_code == 400 and error_code(response) == "IsADirectory"
    assert api.request("DELETE", "/files/folder", sid).status_code == 204
    assert _names(api, sid) == []


def test_an_upload_cut_short_leaves_no_file(api: Api, sid: str) -> None:
    import socket
    import urllib.parse

    api.run(sid, "1")  # the session exists before the broken upload
    url = httpx.URL(api.pool.url)
    query = urllib.parse.urlencode({"api-version": GEN2, "identifier": sid})
    head = (
        f"POST /files?{query} HTTP/1.1\r\nHost: {url.host}\r\n"
        f"Authorization: {api.http.headers['Authorization']}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000\r\n\r\n"
        '--b\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n\r\n'
    ).encode()
    with socket.create_connection((url.host, url.port)) as sock:
        sock.sendall(head + b"\1" * 100_000)
    leftovers = (
        "import os, time\n"
        + "\n".join(
            ["for _ in range(100):", "    if not os.listdir('.'): break", "    time.sleep(0.05)"]
        )
        + "\nos.listdir('.')"
    )
    assert api.value(sid, leftovers) == []


def test_several_files_in_one_upload(api: Api, sid: str) -> None:
    parts = [("file", ("one.txt", b"1")), ("file", ("two.txt", b"22"))]
    gen1 = api.request("POST", "/files/upload", sid, version=GEN1, files=parts).json()
    assert [v["properties"]["size"] for v in gen1["value"]] == [1, 2]
    gen2 = api.request("POST", "/files", sid, params={"path": "again"}, files=parts).json()
    assert [entry["name"] for entry in gen2] == ["one.txt", "two.txt"]
