"""%aca_push / %aca_pull: local variables to and from the session, through its file area."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from remote_kernel.client.models import FileInfo

from .conftest import one_line_error


def remote_files(shell):
    rs = shell.magics.remote
    return [f.name for f in rs.client.list_files(session=rs.session_id)]


def test_push_and_pull_a_dict(shell):
    shell.ns["config"] = {"name": "run-1", "sizes": [1, 2, 3], "nested": {"ok": True, 7: None}}
    ran = shell.run("%aca_push config")
    assert ran.success and "Pushed config" in ran.stdout
    assert shell.run(
        "%%aca\nconfig['sizes'].append(4)\nresult = dict(config, extra=b'\\x00\\xff')"
    ).success
    ran = shell.run("%aca_pull result")
    assert ran.success, ran.text
    assert shell.ns["result"] == {
        "name": "run-1",
        "sizes": [1, 2, 3, 4],
        "nested": {"ok": True, 7: None},
        "extra": b"\x00\xff",
    }
    assert not any(n.startswith(".aca-") for n in remote_files(shell))  # temp files removed


def test_push_and_pull_sets_tuples_and_a_dataclass(shell):
    info = FileInfo("a.csv", size=12, last_modified=datetime(2024, 5, 1, tzinfo=timezone.utc))
    shell.ns.update(tags={"x", "y"}, pair=(1, "two"), info=info)
    assert shell.run("%aca_push tags pair info").success
    ran = shell.run("%%aca\n(type(info).__name__, info.size, sorted(tags), pair[1])")
    assert repr(ran.result.result) == "('FileInfo', 12, ['x', 'y'], 'two')"
    assert shell.run("%%aca\ninfo2 = info.__class__(info.name, size=99)\ntags.add('z')").success
    for name in ("tags", "pair", "info"):
        del shell.ns[name]
    assert shell.run("%aca_pull tags pair info2").success
    assert shell.ns["tags"] == {"x", "y", "z"} and shell.ns["pair"] == (1, "two")
    assert shell.ns["info2"] == FileInfo("a.csv", size=99)


def test_unpicklable_local_variable_is_a_one_line_error(shell):
    shell.ns["lock"] = threading.Lock()
    text = one_line_error(shell.run("%aca_push lock"))
    assert "'lock'" in text and "_thread.lock" in text and "cannot be pickled" in text
    shell.ns["gen"] = (i for i in range(3))
    text = one_line_error(shell.run("%aca_push gen"))
    assert "'gen'" in text and "generator" in text


def test_unpicklable_remote_variable_is_a_one_line_error(shell):
    assert shell.run("%%aca\nimport threading\nrlock = threading.Lock()\nfine = 1").success
    text = one_line_error(shell.run("%aca_pull fine rlock"))
    assert "'rlock'" in text and "_thread.lock" in text and "cannot be pickled" in text
    assert "fine" not in shell.ns  # all or nothing


def test_class_defined_in_the_notebook_cannot_be_rebuilt_remotely(shell):
    assert shell.run("class Local:\n    pass\nobj = Local()").success
    text = one_line_error(shell.run("%aca_push obj"))
    assert "'obj'" in text and "importable there" in text
    assert repr(shell.run("%aca 'obj' in globals()").result.result) == "False"


def test_unknown_and_invalid_names(shell):
    assert "no local variable named 'nope_xyz'" in one_line_error(shell.run("%aca_push nope_xyz"))
    text = one_line_error(shell.run("%aca_pull nope_xyz"))
    assert "no variable named 'nope_xyz' in the session" in text
    assert "not a valid Python variable name" in one_line_error(shell.run("%aca_push a.b"))
    assert "not a valid Python variable name" in one_line_error(shell.run("%aca_pull class"))
    assert "name at least one" in one_line_error(shell.run("%aca_push"))


def test_size_limit_is_stated_never_a_silent_cap(shell):
    try:
        assert shell.run("%aca_config max_variable_size=10KiB").success
        shell.ns["blob"] = b"x" * 20_000
        text = one_line_error(shell.run("%aca_push blob"))
        assert "'blob'" in text and "10.0 KiB limit" in text and "max_variable_size" in text
        assert shell.run("%%aca\nbig = list(range(10_000))").success
        text = one_line_error(shell.run("%aca_pull big"))
        assert "'big'" in text and "10.0 KiB limit" in text
        assert "big" not in shell.ns
    finally:
        shell.run("%aca_config max_variable_size=100MiB")
    assert shell.run("%aca_pull big").success and shell.ns["big"] == list(range(10_000))
