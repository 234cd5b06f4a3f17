"""``%aca_config``: show the settings (never a secret) or change them, checked before applied."""

from __future__ import annotations

import re
from typing import Any

from remote_kernel.commands.base import CommandsBase
from remote_kernel.commands.output import table, write_line
from remote_kernel.commands.parsing import check_timeout
from remote_kernel.config import KNOWN_API_VERSIONS
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


class SettingsCommands(CommandsBase):
    """The ``%aca_config`` command."""

    def _cmd_config(self, args: list[str], sink: OutputSink) -> None:
        if not args:
            rows = list(self.describe().items())
            sink.display(table(("setting", "value"), rows), {})
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
        info = self.session.settings.describe()
        info["session_id"] = self.sid
        if self.session.is_local:
            info["auth"] = "token (generated for the embedded pool)"
        info["progress_threshold"] = format_size(self.progress_threshold)
        info["max_variable_size"] = format_size(self.max_variable_size)
        info["delete_session_on_shutdown"] = str(
            self.session.settings.delete_session_on_shutdown
        ).lower()
        return info

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

    def _apply_setting(self, key: str, value: Any) -> None:
        settings = self.session.settings
        if key in ("progress_threshold", "max_variable_size"):
            setattr(self, key, value)
        elif key == "session_id":
            self.session.use_session(value)
            self._adopted.add(value)
            settings.session_id = value
        else:
            setattr(settings, key, value)


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
    if key == "pool_endpoint":
        value = raw.rstrip("/")
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ConfigurationError(
                f"%aca_config: pool_endpoint must be an http(s) URL (or empty for the local pool), got {raw!r}."
            )
        return value
    if key == "api_version":
        if raw not in KNOWN_API_VERSIONS:
            raise ConfigurationError(
                f"%aca_config: unknown api_version {raw!r}; known: {', '.join(sorted(KNOWN_API_VERSIONS))}."
            )
        return raw
    if key == "auth":
        if raw.lower() not in ("auto", "azure", "token", "none"):
            raise ConfigurationError(
                f"%aca_config: auth must be auto, azure, token or none, got {raw!r}."
            )
        return raw.lower()
    if key == "session_id":
        return validate_identifier(raw)
    raise ConfigurationError(f"%aca_config: unknown setting {key!r}.")  # pragma: no cover
