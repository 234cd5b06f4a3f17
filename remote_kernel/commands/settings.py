"""``%aca_config``: show the settings (never a secret) or change them, checked before applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from remote_kernel.commands.base import CommandsBase
from remote_kernel.commands.output import table, write_line
from remote_kernel.commands.parsing import check_timeout
from remote_kernel.config import check_api_version, check_auth, check_endpoint
from remote_kernel.errors import ConfigurationError
from remote_kernel.identifiers import validate_identifier
from remote_kernel.render import OutputSink
from remote_kernel.transfer_progress import format_size, parse_size

#: Settings %aca_config can change, with aliases.
CONFIG_KEYS = (
    "pool_endpoint",
    "api_version",
    "auth",
    "session_id",
    "execution_timeout",
    "connect_timeout",
    "delete_session_on_shutdown",
    "progress_threshold",
    "max_variable_size",
)
_CONFIG_ALIASES = {
    "endpoint": "pool_endpoint",
    "session": "session_id",
    "timeout": "execution_timeout",
}
_REBUILD_KEYS = {"pool_endpoint", "api_version", "auth", "connect_timeout", "execution_timeout"}
#: Settings whose rule lives with the setting (remote_kernel.config).
_SETTING_CHECKS: dict[str, Callable[[str], str]] = {
    "pool_endpoint": check_endpoint,
    "api_version": check_api_version,
    "auth": check_auth,
}
SET_HERE = "set by %aca_config"


class SettingsCommands(CommandsBase):
    """The ``%aca_config`` command."""

    def _cmd_config(self, args: list[str], sink: OutputSink) -> None:
        if not args:
            sink.display(table(("setting", "value", "from"), self.describe_rows()), {})
            return
        changes = [self._parse_setting(arg) for arg in args]
        rebuild = False
        for key, value in changes:
            self._apply_setting(key, value)
            rebuild = rebuild or key in _REBUILD_KEYS
            shown = value if key != "pool_endpoint" or value else "(embedded local pool)"
            write_line(sink, f"{key} = {shown}")
        if rebuild:
            self.session.reconfigure()

    def describe(self) -> dict[str, str]:
        """Everything %aca_config shows: never the token."""
        return {name: value for name, value, _ in self.describe_rows()}

    def describe_rows(self) -> list[tuple[str, str, str]]:
        """(setting, value, where it came from) for every setting; never the token."""
        settings = self.session.settings
        info = settings.describe()
        info["session_id"] = self.sid
        local = self.session.is_local
        if local:
            info["auth"] = "token (generated for the embedded pool)"
        info["progress_threshold"] = format_size(self.progress_threshold)
        info["max_variable_size"] = format_size(self.max_variable_size)
        info["delete_session_on_shutdown"] = str(settings.delete_session_on_shutdown).lower()
        return [(name, value, self._source(name, local)) for name, value in info.items()]

    def _source(self, name: str, local: bool) -> str:
        """Where ``name``'s value came from (the settings' own provenance where it applies)."""
        settings = self.session.settings
        if name == "auth" and local:
            return "the embedded pool"
        if name == "session_id" and self.sid != settings.session_id:
            return "%aca_session" if settings.session_id else "new per start or %aca_session"
        if name in self._set_here:
            return SET_HERE
        if settings.has_trait(name):
            return settings.provenance(name).source
        return "default"

    def _parse_setting(self, arg: str) -> tuple[str, Any]:
        key, eq, raw = arg.partition("=")
        key = _CONFIG_ALIASES.get(key.strip().lower(), key.strip().lower())
        if not eq:
            raise ConfigurationError(f"%aca_config: expected KEY=VALUE, got {arg!r}.")
        if key == "token":
            raise ConfigurationError(
                "%aca_config: the token cannot be set from a cell (it would be saved in the "
                "notebook); set ACA_POOL_TOKEN or c.AcaMagics.token."
            )
        if key not in CONFIG_KEYS:
            raise ConfigurationError(
                f"%aca_config: unknown setting {key!r}. Settings: {', '.join(CONFIG_KEYS)}."
            )
        return key, _convert_setting(key, raw.strip())

    @property
    def _set_here(self) -> set[str]:
        """The command-level settings (sizes) %aca_config changed."""
        if not hasattr(self, "_set_here_names"):
            self._set_here_names: set[str] = set()
        return self._set_here_names

    def _apply_setting(self, key: str, value: Any) -> None:
        settings = self.session.settings
        if key in ("progress_threshold", "max_variable_size"):
            setattr(self, key, value)
            self._set_here.add(key)
            return
        if key == "session_id":
            self.session.use_session(value)
            self._adopted.add(value)
        settings.assign(key, value, SET_HERE)


def _convert_setting(key: str, raw: str) -> Any:
    if key in ("progress_threshold", "max_variable_size"):
        return parse_size(raw)
    if key in ("execution_timeout", "connect_timeout"):
        try:
            value = float(raw)
        except ValueError:
            raise ConfigurationError(
                f"%aca_config: {key} must be a number of seconds, got {raw!r}."
            ) from None
        if key == "execution_timeout":
            return check_timeout(value)
        if not value > 0:
            raise ConfigurationError(f"%aca_config: {key} must be positive, got {raw!r}.")
        return value
    if key == "delete_session_on_shutdown":
        lowered = raw.lower()
        if lowered not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            raise ConfigurationError(f"%aca_config: {key} must be true or false, got {raw!r}.")
        return lowered in ("true", "yes", "1", "on")
    if key in _SETTING_CHECKS:
        try:
            return _SETTING_CHECKS[key](raw)
        except ConfigurationError as exc:
            raise ConfigurationError(f"%aca_config: {exc.message}", fix=exc.fix) from None
    if key == "session_id":
        return validate_identifier(raw)
    raise ConfigurationError(f"%aca_config: unknown setting {key!r}.")  # pragma: no cover
