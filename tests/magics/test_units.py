"""The pure parts of the commands: parsing, planning, rewriting, formatting (no pool needed)."""

from __future__ import annotations

import ast

import pytest

from remote_kernel.client.models import ExecutionResult, ExecutionStatus
from remote_kernel.client.synthesis import synthesise_outputs
from remote_kernel.commands import (
    COMMANDS,
    AcaCommands,
    RemoteValue,
    line_value,
    parse_line,
    split_remote,
    table,
)
from remote_kernel.commands.files import _upload_plan
from remote_kernel.commands.hints import local_file_hint, missing_path
from remote_kernel.config import PoolSettings
from remote_kernel.errors import ConfigurationError
from remote_kernel.session import RemoteSession
from remote_kernel.transfer_progress import format_size, parse_size
from remote_kernel.variables import LAST_VALUE_NAME, last_expression_code


class ListSink:
    def __init__(self):
        self.streams: list[tuple[str, str]] = []
        self.displays: list[dict] = []

    def stream(self, name, text):
        self.streams.append((name, text))

    def display(self, data, metadata, *, execute_result=False):
        self.displays.append(data)

    def error(self, ename, evalue, traceback):
        raise AssertionError("no error expected")


@pytest.fixture
def kernel_cmds():
    """AcaCommands as the wrapper kernel builds them: no local namespace, nothing started."""
    return AcaCommands(RemoteSession(PoolSettings(pool_endpoint="http://127.0.0.1:9")))


def test_is_command_and_parse_line(kernel_cmds):
    assert kernel_cmds.is_command("%aca_upload a.csv")
    assert kernel_cmds.is_command("  %aca_files")
    assert kernel_cmds.is_command("%aca_upload?")
    assert not kernel_cmds.is_command("%aca_nonsense x")
    assert not kernel_cmds.is_command("%acaupload")
    assert not kernel_cmds.is_command("print('%aca_files')")
    assert parse_line("%aca_upload 'my file.csv' dir/") == (
        "aca_upload",
        False,
        ["my file.csv", "dir/"],
    )
    assert parse_line("%aca_rm -h")[1] and parse_line("%aca_rm?")[1]
    with pytest.raises(ConfigurationError, match="Unknown command %aca_nope"):
        parse_line("%aca_nope")


def test_every_command_has_a_handler_and_help(kernel_cmds):
    for name, spec in COMMANDS.items():
        assert callable(getattr(kernel_cmds, "_cmd_" + name[4:]))
        assert spec.usage.startswith(f"%{name}") and spec.usage in spec.help
        sink = ListSink()
        kernel_cmds.run_line(f"%{name} --help", sink)  # never touches the pool
        assert sink.streams[0][1].startswith(spec.summary)


def test_push_pull_in_the_kernel_context_explain_themselves(kernel_cmds):
    for line in ("%aca_push x", "%aca_pull x"):
        with pytest.raises(ConfigurationError, match="every variable already lives in the session"):
            kernel_cmds.run_line(line, ListSink())


def test_bad_input_is_rejected_before_anything_is_sent(kernel_cmds):
    # The endpoint is unreachable: each of these must fail on validation alone.
    bad = {
        "%aca_upload /no/such/file": "no such local file",
        "%aca_session use bad_identifier": "Invalid session identifier",
        "%aca_config nope=1": "unknown setting",
        "%aca_push 1x": "not a valid Python variable name",
        "%aca_rm dir/": "names a directory",
        "%aca_download": "Usage",
        "%aca_restart now": "unrecognized arguments",
    }
    for line, message in bad.items():
        with pytest.raises(ConfigurationError, match=message):
            kernel_cmds.run_line(line, ListSink())


def test_config_describe_never_holds_the_token():
    rs = RemoteSession(PoolSettings(pool_endpoint="https://x.example", token="s3cr3t-token-value"))
    sink = ListSink()
    AcaCommands(rs).run_line("%aca_config", sink)
    shown = str(sink.displays) + str(sink.streams)
    assert "s3cr3t-token-value" not in shown and "set (hidden)" in shown


def test_split_remote():
    assert split_remote("a.csv") == ("", "a.csv")
    assert split_remote("/mnt/data/out/x/a.png") == ("out/x", "a.png")
    assert split_remote("inputs/") == ("inputs", "")
    assert split_remote("/mnt/data") == ("", "")
    for bad in ("../a", "x/../../a", "x/.."):
        with pytest.raises(ConfigurationError):
            split_remote(bad)


def test_upload_plan(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.csv", "b.csv", "c.txt"):
        (tmp_path / name).write_text(name)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.csv").write_text("other")

    def plan(*args):
        return [(str(p), s, n) for p, s, n in _upload_plan(list(args))]

    assert plan("a.csv") == [("a.csv", "", "a.csv")]
    assert plan("a.csv", "new.csv") == [("a.csv", "", "new.csv")]  # not a local file: REMOTE
    assert plan("a.csv", "b.csv") == [("a.csv", "", "a.csv"), ("b.csv", "", "b.csv")]
    assert plan("a.csv", "in/") == [("a.csv", "in", "a.csv")]
    assert plan("a.csv", "in/x.csv") == [("a.csv", "in", "x.csv")]
    assert plan("*.csv", "dest") == [("a.csv", "dest", "a.csv"), ("b.csv", "dest", "b.csv")]
    assert plan("*.csv", "a.csv") == [("a.csv", "", "a.csv"), ("b.csv", "", "b.csv")]
    with pytest.raises(ConfigurationError, match="would both become"):
        plan("a.csv", "sub/a.csv")
    with pytest.raises(ConfigurationError, match="no local file matches"):
        plan("*.parquet")


def test_sizes():
    assert parse_size("8MiB") == 8 * 1024**2
    assert parse_size("8 MB") == 8_000_000
    assert parse_size("1.5k") == 1536
    assert parse_size("100") == 100
    for bad in ("", "lots", "-1", "3 parsecs"):
        with pytest.raises(ConfigurationError, match="Invalid size"):
            parse_size(bad)
    assert format_size(0) == "0 B" and format_size(1536) == "1.5 KiB"
    assert format_size(100 * 1024**2) == "100.0 MiB" and format_size(None) == "?"


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("1 + 1", 2),
        ("x = 3\nx * 2", 6),
        ("x = 4; x + 1", 5),
        ("[\n  1,\n  2,\n]", [1, 2]),
        ("s = 'é✓'\ns + '✓'  # comment", "é✓✓"),
        ("y = 7\ny;", 7),
    ],
)
def test_last_expression_code_binds_the_value_and_keeps_line_numbers(code, value):
    new = last_expression_code(code)
    ns: dict = {}
    exec(compile(new, "<cell>", "exec"), ns)
    assert ns[LAST_VALUE_NAME] == value
    first = ast.parse(code).body[-1].lineno - 1  # lines before the last statement are untouched
    assert new.splitlines()[:first] == code.splitlines()[:first]
    assert ast.parse(new).body[-2 if not code.rstrip().endswith(";") else -1].lineno == first + 1
    tree = ast.parse(new)
    shown = isinstance(tree.body[-1], ast.Expr)
    assert shown == (not code.rstrip().endswith(";"))


def test_last_expression_code_refuses_what_it_cannot_bind():
    with pytest.raises(ConfigurationError, match="ends with an expression"):
        last_expression_code("x = 1")
    with pytest.raises(ConfigurationError, match="plain Python code"):
        last_expression_code("%time 1\n2")


def test_table_escapes_html():
    bundle = table(("name", "size"), [("<b>.txt", "1 B"), ("a", "22 B")])
    assert "&lt;b&gt;.txt" in bundle["text/html"]
    lines = bundle["text/plain"].splitlines()
    assert lines[0] == "name     size" and lines[2] == "<b>.txt  1 B"


def azure_result(value):
    """A result as the client builds it for Azure: outputs synthesised from the JSON value."""
    return ExecutionResult(
        status=ExecutionStatus.SUCCEEDED,
        value=value,
        outputs=synthesise_outputs("", "", value, None),
    )


def test_line_value_from_azure_shaped_results():
    assert line_value(azure_result(5)) == 5
    assert line_value(azure_result([1, "a"])) == [1, "a"]
    assert line_value(azure_result("{1, 2}")) == {1, 2}  # Azure sends a repr for non-JSON
    assert line_value(azure_result("plain words")) == "plain words"
    assert line_value(azure_result(None)) is None
    image = {"type": "image", "format": "png", "base64_data": "iVBORw0KGgo="}
    result = azure_result(image)
    assert result.outputs[0]["output_type"] == "display_data"  # shown by the sink already
    assert line_value(result) is None
    local = ExecutionResult(
        status=ExecutionStatus.SUCCEEDED,
        value="<object at 0x1>",
        outputs=[{"output_type": "execute_result", "data": {"text/plain": "<object at 0x1>"}}],
        full_outputs=True,
    )
    assert isinstance(line_value(local), RemoteValue)  # the local pool's repr, not a str


@pytest.mark.parametrize(
    "evalue, path",
    [
        ("[Errno 2] No such file or directory: 'data.csv'", "data.csv"),
        ('[Errno 2] No such file or directory: "it\'s.csv"', "it's.csv"),
        ("File `'script.py'` not found.", "script.py"),
        ("File `script.py` not found.", "script.py"),
        ("[Errno 2] No such file or directory: '/abs/data.csv'", None),
        ("division by zero", None),
    ],
)
def test_missing_path_is_read_from_the_error(evalue, path):
    assert missing_path(evalue, []) == path


def test_hint_only_for_a_file_that_exists_here(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.csv").write_text("x")
    error = "[Errno 2] No such file or directory: 'sub/data.csv'"
    assert local_file_hint(error, [], tmp_path) == (
        "sub/data.csv is on this machine, not in the session: %aca_upload sub/data.csv"
    )
    assert local_file_hint(error.replace("data", "other"), [], tmp_path) is None
    assert local_file_hint("No such file or directory: 'sub'", [], tmp_path) is None  # a folder
