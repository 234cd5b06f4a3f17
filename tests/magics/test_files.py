"""%aca_upload / %aca_download / %aca_files / %aca_rm against the real local pool."""

from __future__ import annotations

import os

import pytest

from remote_kernel.errors import PayloadTooLargeError

from .conftest import one_line_error


@pytest.fixture
def fresh(shell):
    """Each test gets its own empty session, so file listings are exact."""
    shell.run("%aca_session new")
    return shell


def remote_names(shell):
    return sorted(
        f.name
        for f in shell.magics.remote.client.list_files(session=shell.magics.remote.session_id)
    )


def test_binary_round_trip_is_byte_exact(fresh, tmp_path):
    data = bytes(range(256)) * 64 + os.urandom(4096) + b"\x00\r\n\x1a"
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    ran = fresh.run(f"%aca_upload {src}")
    assert ran.success and "/mnt/data/blob.bin" in ran.stdout
    ran = fresh.run(
        "%%aca\nimport hashlib\nhashlib.sha256(open('blob.bin', 'rb').read()).hexdigest()"
    )
    import hashlib

    assert repr(ran.result.result) == repr(hashlib.sha256(data).hexdigest())
    back = tmp_path / "back.bin"
    ran = fresh.run(f"%aca_download blob.bin {back}")
    assert ran.success, ran.text
    assert back.read_bytes() == data


def test_upload_rename_subpath_and_download_into_directory(fresh, tmp_path):
    src = tmp_path / "local name.txt"
    src.write_text("hello")
    assert fresh.run(f"%aca_upload '{src}' renamed.txt").success
    assert fresh.run(f"%aca_upload '{src}' inputs/").success
    assert fresh.run(f"%aca_upload '{src}' inputs/other.txt").success
    assert "renamed.txt" in remote_names(fresh)
    files = fresh.magics.remote.client.list_files(
        session=fresh.magics.remote.session_id, path="inputs"
    )
    assert sorted(f.name for f in files) == ["local name.txt", "other.txt"]
    out = tmp_path / "out"
    out.mkdir()
    assert fresh.run(f"%aca_download /mnt/data/inputs/other.txt {out}").success
    assert (out / "other.txt").read_text() == "hello"
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert fresh.run("%aca_download renamed.txt").success
    finally:
        os.chdir(cwd)
    assert (tmp_path / "renamed.txt").read_text() == "hello"


def test_upload_glob_and_several_files_then_download_glob(fresh, tmp_path):
    for i in range(3):
        (tmp_path / f"part{i}.csv").write_text(f"row{i}\n")
    (tmp_path / "notes.md").write_text("x")
    ran = fresh.run(f"%aca_upload {tmp_path}/*.csv {tmp_path}/notes.md")
    assert ran.success, ran.text
    assert "4 files" in ran.stdout
    assert remote_names(fresh) == ["notes.md", "part0.csv", "part1.csv", "part2.csv"]
    dest = tmp_path / "dl"
    dest.mkdir()
    assert fresh.run(f"%aca_download 'part*.csv' {dest}").success
    assert sorted(p.name for p in dest.iterdir()) == ["part0.csv", "part1.csv", "part2.csv"]
    assert (dest / "part2.csv").read_text() == "row2\n"


def test_failed_multi_upload_leaves_the_session_as_it_was(fresh, tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("new a")
    (tmp_path / "b.txt").write_text("new b")
    old = tmp_path / "old"
    old.mkdir()
    (old / "a.txt").write_text("old a")
    assert fresh.run(f"%aca_upload {old}/a.txt").success
    client = fresh.magics.remote.client
    real = client.upload_file
    calls = []

    def second_fails(*args, **kwargs):  # the pool answers 413 to the second file
        calls.append(kwargs.get("remote_name"))
        if len(calls) == 2:
            raise PayloadTooLargeError("Upload failed: HTTP 413.", status_code=413)
        return real(*args, **kwargs)

    monkeypatch.setattr(client, "upload_file", second_fails)
    ran = fresh.run(f"%aca_upload {tmp_path}/a.txt {tmp_path}/b.txt")
    monkeypatch.undo()
    text = one_line_error(ran)
    assert "PayloadTooLargeError" in text and "128 MB" in text
    assert remote_names(fresh) == ["a.txt"]  # no temp file left, nothing replaced
    ran = fresh.run("%%aca\nopen('a.txt').read()")
    assert repr(ran.result.result) == "'old a'"


def test_files_table_and_rm(fresh, tmp_path):
    (tmp_path / "one.txt").write_text("1" * 1500)
    (tmp_path / "two.log").write_text("2")
    (tmp_path / "three.log").write_text("3")
    fresh.run(f"%aca_upload {tmp_path}/one.txt {tmp_path}/two.log {tmp_path}/three.log")
    ran = fresh.run("%aca_files")
    assert ran.success
    html = ran.html()
    assert "<table>" in html and "one.txt" in html and "1.5 KiB" in html
    plain = "".join(o.get("text/plain", "") for o in ran.outputs)
    assert plain.splitlines()[0].split() == ["name", "size", "modified", "(UTC)"]
    assert fresh.run("%aca_rm one.txt").success
    assert fresh.run("%aca_rm '*.log'").success
    assert remote_names(fresh) == []
    assert "No files" in fresh.run("%aca_files").stdout


def test_file_errors_are_one_line(fresh, tmp_path):
    assert "no such local file" in one_line_error(fresh.run("%aca_upload /no/such/file.bin"))
    assert "no local file matches" in one_line_error(fresh.run(f"%aca_upload {tmp_path}/*.nothing"))
    assert "is a directory" in one_line_error(fresh.run(f"%aca_upload {tmp_path}"))
    assert "no file" in one_line_error(fresh.run("%aca_rm missing.txt"))
    assert "Invalid remote path" in one_line_error(fresh.run("%aca_download ../etc/passwd"))
    text = one_line_error(fresh.run(f"%aca_download missing.bin {tmp_path}/x.bin"))
    assert "NotFoundError" in text and "404" in text
    assert not (tmp_path / "x.bin").exists()
    assert "Usage" in one_line_error(fresh.run("%aca_download"))
    assert "cannot parse" in one_line_error(fresh.run("%aca_upload 'unclosed"))


def test_large_transfer_shows_a_text_progress_bar(fresh, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024))
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 100)
    try:
        assert fresh.run("%aca_config progress_threshold=1MiB").success
        ran = fresh.run(f"%aca_upload {src}")
        assert ran.success
        assert "upload big.bin" in ran.stderr and "100%" in ran.stderr and "3.00M" in ran.stderr
        ran = fresh.run(f"%aca_download big.bin {tmp_path}/big2.bin")
        assert "download big.bin" in ran.stderr and "100%" in ran.stderr
        ran = fresh.run(f"%aca_upload {small}")
        assert ran.success and ran.stderr == ""  # below the threshold: no bar
    finally:
        fresh.run("%aca_config progress_threshold=8MiB")
    assert (tmp_path / "big2.bin").read_bytes() == src.read_bytes()
