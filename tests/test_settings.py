"""Settings own their rules: one endpoint rule, one auth list and ``auto`` rule, one
provenance helper, applied the same by the traits, the client, ``doctor``,
``install``/``run`` and ``%aca_config`` (pure: nothing is sent)."""

from __future__ import annotations

import pytest
from traitlets import TraitError
from traitlets.config import Config

from remote_kernel.cli.doctor import check_configuration, effective_settings, resolved_auth
from remote_kernel.client import SessionPoolClient
from remote_kernel.commands import AcaCommands
from remote_kernel.config import AUTH_MODES, PoolSettings, Provenance, resolve_auth
from remote_kernel.errors import ConfigurationError
from remote_kernel.kernel.spec import validate_endpoint
from remote_kernel.session import RemoteSession

BAD_ENDPOINTS = ["ftp://x", "dynamicsessions.io/pool", "https://", "http://host name/pool"]


class ListSink:
    def __init__(self) -> None:
        self.text = ""
        self.tables: list[str] = []

    def stream(self, name: str, text: str) -> None:
        self.text += text

    def display(self, data: dict, metadata: dict, *, execute_result: bool = False) -> None:
        self.tables.append(data["text/plain"])

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        raise AssertionError("no error expected")


def commands(**settings: object) -> AcaCommands:
    return AcaCommands(RemoteSession(PoolSettings(**settings)))


@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS)
def test_one_endpoint_rule_everywhere(endpoint: str) -> None:
    with pytest.raises(ConfigurationError, match="Invalid endpoint"):
        PoolSettings(pool_endpoint=endpoint)
    with pytest.raises(ConfigurationError, match="Invalid endpoint"):
        SessionPoolClient(endpoint, auth="none")
    with pytest.raises(ConfigurationError, match="Invalid endpoint"):
        validate_endpoint(endpoint)
    with pytest.raises(ConfigurationError, match="%aca_config: Invalid endpoint"):
        commands(pool_endpoint="http://127.0.0.1:9").run_line(
            f"%aca_config 'pool_endpoint={endpoint}'", ListSink()
        )
    check = check_configuration(effective_settings(endpoint, {}))
    assert not check.ok and "Invalid endpoint" in check.summary and "az containerapp" in check.fix


def test_a_good_endpoint_is_normalised_the_same_everywhere() -> None:
    given, expected = "https://pool.example/sessionPools/p/", "https://pool.example/sessionPools/p"
    assert PoolSettings(pool_endpoint=given).pool_endpoint == expected
    assert SessionPoolClient(given, auth="none").endpoint == expected
    assert validate_endpoint(given) == expected
    assert PoolSettings(pool_endpoint="").pool_endpoint == ""  # the embedded pool


def test_a_bad_config_file_value_is_a_trait_error_jupyter_reports_in_one_line() -> None:
    """jupyter's catch_config_error turns a TraitError at start into one fatal log line."""
    config = Config()
    config.RemoteKernel.pool_endpoint = "ftp://x"
    config.PoolSettings.pool_endpoint = "ftp://x"
    with pytest.raises(TraitError, match="Invalid endpoint 'ftp://x'") as info:
        PoolSettings(config=config)
    assert isinstance(info.value, ConfigurationError)


def test_auth_modes_are_validated_by_the_setting() -> None:
    assert AUTH_MODES == ("auto", "azure", "token", "none")
    assert PoolSettings(auth="TOKEN").auth == "token"
    with pytest.raises(ConfigurationError, match="auth must be auto, azure, token or none"):
        PoolSettings(auth="kerberos")
    config = Config()
    config.PoolSettings.auth = "kerberos"
    with pytest.raises(ConfigurationError, match="unknown auth mode 'kerberos'"):
        PoolSettings(config=config)
    with pytest.raises(ConfigurationError, match="unknown auth mode"):
        SessionPoolClient("https://pool.example", auth="kerberos")


def test_pool_types_are_validated_by_the_same_word_rule_as_auth() -> None:
    assert PoolSettings(pool_type=" Shell ").pool_type == "shell"
    with pytest.raises(ConfigurationError, match="unknown pool_type 'cobol'") as info:
        PoolSettings(pool_type="cobol")
    assert "pool_type must be python, javascript or shell" in str(info.value)
    assert "Set ACA_POOL_TYPE (or c.PoolSettings.pool_type)" in str(info.value.fix)


@pytest.mark.parametrize(
    ("endpoint", "token", "expected"),
    [
        ("", "", "none"),  # the embedded pool
        ("http://127.0.0.1:8000", "", "none"),
        ("http://localhost:8000", "t0ken-value", "token"),
        ("https://pool.example", "t0ken-value", "token"),
        ("https://pool.example", "", "azure"),
    ],
)
def test_one_auto_rule_for_settings_doctor_and_client(
    endpoint: str, token: str, expected: str
) -> None:
    assert resolve_auth("auto", token=token, endpoint=endpoint) == expected
    assert PoolSettings(pool_endpoint=endpoint, token=token).resolved_auth() == expected
    values = {"auth": "auto", "token": token, "endpoint": endpoint}
    assert resolved_auth(values) == expected
    if endpoint:
        client = SessionPoolClient(endpoint, auth="auto", token=token or None)
        assert client.auth_mode == expected
    assert resolve_auth("token", token="", endpoint=endpoint) == "token"  # only auto is resolved


def test_provenance_of_a_live_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACA_API_VERSION", "2025-02-02-preview")
    config = Config()
    config.PoolSettings.pool_endpoint = "https://pool.example/"
    settings = PoolSettings(config=config)
    assert settings.provenance("pool_endpoint") == Provenance(
        "https://pool.example", "c.PoolSettings.pool_endpoint in a config file"
    )
    assert settings.provenance("api_version") == Provenance(
        "2025-02-02-preview", "ACA_API_VERSION from the environment"
    )
    assert settings.provenance("auth") == Provenance("auto", "default")
    settings.assign("auth", "none", "set by %aca_config")
    assert settings.provenance("auth") == Provenance("none", "set by %aca_config")


def test_doctor_and_aca_config_name_the_same_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACA_POOL_ENDPOINT", "https://pool.example")
    monkeypatch.setenv("ACA_POOL_TOKEN", "s3cr3t-token-value")
    for name in ("ACA_API_VERSION", "ACA_AUTH", "ACA_SESSION_ID"):
        monkeypatch.delenv(name, raising=False)
    eff = effective_settings("", {})
    assert eff.sources["endpoint"] == "ACA_POOL_ENDPOINT from the environment"
    cmds = commands()
    rows = {name: (value, source) for name, value, source in cmds.describe_rows()}
    assert rows["pool_endpoint"] == ("https://pool.example", eff.sources["endpoint"])
    assert rows["token"] == ("set (hidden)", "ACA_POOL_TOKEN from the environment")
    assert rows["api_version"][1] == eff.sources["api_version"] == "default"


def test_aca_config_shows_where_each_value_came_from_and_never_the_token() -> None:
    cmds = commands(pool_endpoint="https://pool.example", token="s3cr3t-token-value")
    sink = ListSink()
    cmds.run_line("%aca_config execution_timeout=3 max_variable_size=5MiB auth=azure", sink)
    cmds.run_line("%aca_config", sink)
    rows = {line.split()[0]: line for line in sink.tables[0].splitlines()[2:]}
    assert sink.tables[0].splitlines()[0].split() == ["setting", "value", "from"]
    assert rows["execution_timeout"].endswith("set by %aca_config")
    assert rows["max_variable_size"].endswith("set by %aca_config")
    assert rows["auth"].split()[1:] == ["azure", "set", "by", "%aca_config"]
    assert rows["progress_threshold"].endswith("default")
    assert "s3cr3t-token-value" not in sink.text + "".join(sink.tables)
    with pytest.raises(ConfigurationError, match="%aca_config: unknown api_version"):
        cmds.run_line("%aca_config api_version=1999-01-01", sink)
