"""%aca_session, %aca_restart, %aca_packages and %aca_config against the real local pool."""

from __future__ import annotations

from remote_kernel.config import DEFAULT_API_VERSION

from .conftest import one_line_error


def pool_sessions(shell):
    return {s.identifier for s in shell.magics.remote.client.list_sessions()}


def test_session_show_new_use_list_delete(shell):
    rs = shell.magics.remote
    first = rs.session_id
    assert shell.run("%%aca\nmark = 'first'").success
    ran = shell.run("%aca_session")
    assert ran.success and first in ran.stdout and "running" in ran.stdout

    ran = shell.run("%aca_session new")
    second = rs.session_id
    assert ran.success and second != first and second in ran.stdout
    assert "not started yet" in shell.run("%aca_session show").stdout
    assert repr(shell.run("%aca 'mark' in globals()").result.result) == "False"

    ran = shell.run("%aca_session list")
    table = "".join(o.get("text/plain", "") for o in ran.outputs)
    assert f"* {second}" in table and first in table

    assert shell.run(f"%aca_session use {first}").success
    assert shell.run("%aca mark").result.result == "first"

    ran = shell.run(f"%aca_session delete {second}")
    assert ran.success and second not in pool_sessions(shell)
    assert rs.session_id == first

    ran = shell.run("%aca_session delete")  # the current one: then a fresh one
    assert ran.success and first not in pool_sessions(shell)
    assert rs.session_id not in (first, second) and rs.session_id in ran.stdout


def test_list_marks_a_new_session_not_started_yet_as_current(shell):
    assert shell.run("%aca_session new").success
    current = shell.magics.remote.session_id
    ran = shell.run("%aca_session list")
    table = "".join(o.get("text/plain", "") for o in ran.outputs)
    (row,) = [line for line in table.splitlines() if current in line]
    assert row.startswith(f"* {current}") and "not started yet" in row


def test_session_errors_are_one_line(shell):
    assert "Invalid session identifier" in one_line_error(shell.run("%aca_session use bad_id"))
    assert "unknown action" in one_line_error(shell.run("%aca_session frobnicate"))
    assert "wrong number" in one_line_error(shell.run("%aca_session use"))
    assert "no session" in one_line_error(shell.run("%aca_session delete never-existed-1234"))


def test_restart_gives_a_fresh_session_and_deletes_the_old(shell):
    rs = shell.magics.remote
    assert shell.run("%%aca\nkept = 1").success
    old = rs.session_id
    ran = shell.run("%aca_restart")
    assert ran.success and "deleted" in ran.stdout
    assert rs.session_id != old and old not in pool_sessions(shell)
    assert repr(shell.run("%aca 'kept' in globals()").result.result) == "False"


def test_restart_leaves_a_session_the_user_chose(shell):
    rs = shell.magics.remote
    shell.run("%aca_session use shared-session-42")
    assert shell.run("%%aca\nx = 1").success
    ran = shell.run("%aca_restart")
    assert "left running" in ran.stdout and "shared-session-42" in pool_sessions(shell)
    assert rs.session_id != "shared-session-42"
    rs.client.delete_session("shared-session-42")


def test_packages(shell):
    ran = shell.run("%aca_packages")
    names = "".join(o.get("text/plain", "") for o in ran.outputs)
    assert ran.success and "ipykernel" in names and "packages in session" in ran.stdout
    ran = shell.run("%aca_packages IPYK*")
    rows = "".join(o.get("text/plain", "") for o in ran.outputs).splitlines()[2:]
    assert [r.split()[0] for r in rows] == ["ipykernel"]
    assert "No installed package" in shell.run("%aca_packages zz-no-such-package").stdout


def test_config_shows_settings_but_never_the_token(shell, local_pool):
    ran = shell.run("%aca_config")
    assert ran.success
    shown = ran.text + "".join(v for o in ran.outputs for v in o.values())
    assert local_pool.url in shown and DEFAULT_API_VERSION in shown
    assert shell.magics.remote.session_id in shown and "token" in shown
    assert "set (hidden)" in shown
    assert local_pool.token not in shown


def test_config_sets_values_and_validates(shell, local_pool):
    rs = shell.magics.remote
    old_client = rs.client
    ran = shell.run("%aca_config api_version=2025-02-02-preview execution_timeout=100")
    assert ran.success and "api_version = 2025-02-02-preview" in ran.stdout
    assert rs.settings.api_version == "2025-02-02-preview" and rs.settings.execution_timeout == 100
    assert rs.client is not old_client  # rebuilt for the new api-version
    assert rs.client.protocol.api_version == "2025-02-02-preview"
    assert shell.run("%aca 6 * 7").result.result == 42
    assert shell.run("%aca_config execution_timeout=1").success
    ran = shell.run("%%aca\nimport time\ntime.sleep(20)")
    assert ran.error.ename in ("TimeoutError", "KeyboardInterrupt"), ran.text
    assert shell.run("%aca_config execution_timeout=220").success
    assert shell.run(f"%aca_config api_version={rs.settings.api_version}").success

    assert shell.run("%aca_config max_variable_size=5MiB").success
    assert shell.magics.commands.max_variable_size == 5 * 1024 * 1024
    assert shell.magics.max_variable_size == 5 * 1024 * 1024
    shell.run("%aca_config max_variable_size=100MiB")

    assert shell.run("%aca_config session_id=configured-0001").success
    assert rs.session_id == "configured-0001"
    shell.run("%aca_session new")

    assert "unknown setting" in one_line_error(shell.run("%aca_config colour=blue"))
    assert "unknown api_version" in one_line_error(shell.run("%aca_config api_version=1999-01-01"))
    assert "must be a number" in one_line_error(shell.run("%aca_config execution_timeout=soon"))
    assert "between 0 and 220" in one_line_error(shell.run("%aca_config execution_timeout=999"))
    assert "http(s) URL" in one_line_error(shell.run("%aca_config pool_endpoint=ftp://x"))
    assert "auth must be" in one_line_error(shell.run("%aca_config auth=magic"))
    assert "Invalid size" in one_line_error(shell.run("%aca_config progress_threshold=lots"))
    assert "KEY=VALUE" in one_line_error(shell.run("%aca_config api_version"))
    text = one_line_error(shell.run("%aca_config token=abcdefgh123"))
    assert "cannot be set from a cell" in text and "abcdefgh123" not in text
    # A bad value among good ones changes nothing.
    before = rs.settings.execution_timeout
    one_line_error(shell.run("%aca_config execution_timeout=50 api_version=nope"))
    assert rs.settings.execution_timeout == before


def test_config_endpoint_change_rebuilds_the_client(shell, local_pool):
    rs = shell.magics.remote
    assert shell.run("%aca_config pool_endpoint=http://127.0.0.1:9").success
    ran = shell.run("%aca 1")
    assert not ran.success and "Connection" in type(ran.error).__name__ + str(ran.error)
    assert "remote_kernel/" not in ran.text and len(ran.text.strip().splitlines()) == 1
    assert shell.run(f"%aca_config endpoint={local_pool.url}/").success
    assert rs.endpoint == local_pool.url
    assert shell.run("%aca 1").result.result == 1


def test_traitlets_config_changes_apply(shell, local_pool, tmp_path):
    """`%config AcaMagics.x = ...` works like %aca_config for the settings it shares."""
    (tmp_path / "f.bin").write_bytes(b"y" * 5000)
    try:
        assert shell.run("%config AcaMagics.progress_threshold = 1000").success
        assert shell.magics.commands.progress_threshold == 1000
        assert "100%" in shell.run(f"%aca_upload {tmp_path}/f.bin").stderr
        assert shell.run("%config AcaMagics.pool_endpoint = 'http://127.0.0.1:9'").success
        assert not shell.run("%aca 1").success
    finally:
        shell.run(f"%config AcaMagics.pool_endpoint = '{local_pool.url}'")
        shell.run("%config AcaMagics.progress_threshold = 8388608")
    assert shell.run("%aca 1").result.result == 1


def test_reload_extension_deletes_its_session_and_starts_clean(shell):
    assert shell.run("%%aca\nbefore_reload = 1").success
    old = shell.magics
    old_session = old.remote.session_id
    assert shell.run("%reload_ext remote_kernel").success
    assert shell.magics is not old and shell.magics.remote.session_id != old_session
    assert old_session not in pool_sessions(shell)  # created and used here: deleted on unload
    assert shell.run("%aca 'before_reload' in globals()").result.result is False
    assert shell.run("%unload_ext remote_kernel").success
    assert "aca" not in shell.ip.magics_manager.magics["cell"]
    assert not shell.run("%aca_files").success  # gone
    assert shell.run("%load_ext remote_kernel").success
    assert shell.run("%aca 2").result.result == 2
