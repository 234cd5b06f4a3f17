"""Build, install and remove the "Python (remote session)" kernelspec.

The template and logos live in the repository's ``kernelspec/`` directory
(shipped inside the wheel as ``remote_kernel/kernelspec``). Installing fills in
the absolute interpreter path, so the kernel starts with the Python that has
remote_kernel installed, whatever environment Jupyter itself runs in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remote_kernel.errors import ConfigurationError
from remote_kernel.identifiers import validate_identifier

DEFAULT_NAME = "remote-python"
DEFAULT_DISPLAY_NAME = "Python (remote session)"
#: ``--language``: (kernelspec name, display name, kernelspec ``language``).
LANGUAGES = {
    "python": (DEFAULT_NAME, DEFAULT_DISPLAY_NAME, "python"),
    "bash": ("remote-bash", "Bash (remote session)", "bash"),
    "javascript": ("remote-javascript", "JavaScript (remote session)", "javascript"),
}
#: Set in a non-Python kernelspec's env: which kernel class starts (kernel/languages.py).
LANGUAGE_ENV = "REMOTE_KERNEL_LANGUAGE"

_KERNEL_NAME_RE = re.compile(r"^[a-z0-9._\-]+$", re.IGNORECASE)
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MARKER = "remote_kernel"


def template_dir() -> Path:
    """The kernelspec template directory (wheel layout first, then the source tree)."""
    package_root = Path(__file__).resolve().parent.parent
    for candidate in (package_root / "kernelspec", package_root.parent / "kernelspec"):
        if (candidate / "kernel.json").is_file():
            return candidate
    raise ConfigurationError(
        "The kernelspec template (kernel.json) is missing from this installation.",
        fix="Reinstall aca-remote-kernel.",
    )


def parse_env(pairs: list[str]) -> dict[str, str]:
    """``["K=V", ...]`` to a dict, with a one-line error for a malformed pair."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not _ENV_NAME_RE.fullmatch(key):
            raise ConfigurationError(
                f"Invalid --env {pair.split('=')[0]!r}: expected NAME=VALUE with NAME made of "
                "letters, digits and '_' (not starting with a digit)."
            )
        env[key] = value
    return env


def validate_kernel_name(name: str) -> str:
    if not _KERNEL_NAME_RE.fullmatch(name):
        raise ConfigurationError(
            f"Invalid kernel name {name!r}: use letters, digits, '.', '_' and '-' only."
        )
    return name.lower()


def validate_endpoint(endpoint: str) -> str:
    """An endpoint given on the command line: required here, and checked by the one rule."""
    from remote_kernel.config import ENDPOINT_HELP, check_endpoint

    checked = check_endpoint(endpoint)
    if not checked:
        raise ConfigurationError(f"Invalid endpoint {endpoint!r}: it is empty.", fix=ENDPOINT_HELP)
    return checked


@dataclass
class SpecOptions:
    """What ``remote-kernel install`` was asked for."""

    name: str = DEFAULT_NAME
    display_name: str = DEFAULT_DISPLAY_NAME
    endpoint: str = ""
    session: str = ""
    env: dict[str, str] = field(default_factory=dict)
    python: str = sys.executable
    interrupt_mode: str = "signal"
    language: str = "python"

    @classmethod
    def for_language(cls, language: str, **kwargs: Any) -> SpecOptions:
        """Options whose name and display name default to ``language``'s."""
        if language not in LANGUAGES:
            raise ConfigurationError(
                f"Unknown kernel language {language!r}.",
                fix=f"Choose one of: {', '.join(LANGUAGES)}.",
            )
        name, display, _ = LANGUAGES[language]
        kwargs = {k: v for k, v in kwargs.items() if v}
        return cls(**{"name": name, "display_name": display, **kwargs, "language": language})


def build_spec(options: SpecOptions) -> dict:
    """The kernel.json contents for ``options`` (validated; raises ConfigurationError)."""
    spec = json.loads((template_dir() / "kernel.json").read_text(encoding="utf-8"))
    spec["argv"] = [options.python if a == "{python}" else a for a in spec["argv"]]
    spec["display_name"] = options.display_name or DEFAULT_DISPLAY_NAME
    if options.interrupt_mode not in ("signal", "message"):
        raise ConfigurationError(f"Invalid interrupt mode {options.interrupt_mode!r}.")
    spec["interrupt_mode"] = options.interrupt_mode
    if options.language not in LANGUAGES:
        raise ConfigurationError(f"Unknown kernel language {options.language!r}.")
    spec["language"] = LANGUAGES[options.language][2]
    env = dict(spec.get("env") or {})
    if options.language != "python":
        env[LANGUAGE_ENV] = options.language
    env.update(options.env)
    if options.endpoint:
        env["ACA_POOL_ENDPOINT"] = validate_endpoint(options.endpoint)
    if options.session:
        env["ACA_SESSION_ID"] = validate_identifier(options.session)
    spec["env"] = env
    return spec


def destination(name: str, *, user: bool, prefix: str | None) -> Path:
    """Where a kernelspec called ``name`` goes for the given location flags."""
    from jupyter_client.kernelspec import KernelSpecManager

    return Path(KernelSpecManager()._get_destination_dir(name, user=user, prefix=prefix))


def install(options: SpecOptions, *, user: bool = False, prefix: str | None = None) -> Path:
    """Write the kernelspec and return the directory it was installed into."""
    from jupyter_client.kernelspec import KernelSpecManager

    name = validate_kernel_name(options.name)
    spec = build_spec(options)
    with tempfile.TemporaryDirectory(prefix="remote-kernel-spec-") as tmp:
        staging = Path(tmp) / name
        shutil.copytree(template_dir(), staging)
        (staging / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
        try:
            target = KernelSpecManager().install_kernel_spec(
                str(staging), name, user=user, prefix=prefix
            )
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot write the kernelspec: {exc.strerror or exc}.",
                fix="Use --user, --sys-prefix or --prefix DIR for a location you can write to.",
            ) from None
    return Path(target)


def is_ours(spec_dir: Path) -> bool:
    """True when ``spec_dir`` holds a kernelspec that launches remote_kernel."""
    try:
        spec = json.loads((spec_dir / "kernel.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return _MARKER in (spec.get("argv") or [])


def find_installed(name: str, *, user: bool, prefix: str | None) -> Path | None:
    """The directory of kernelspec ``name``: at the given location, or anywhere Jupyter looks."""
    if user or prefix:
        path = destination(name, user=user, prefix=prefix)
        return path if path.is_dir() else None
    from jupyter_client.kernelspec import KernelSpecManager

    found = KernelSpecManager().find_kernel_specs().get(name)
    return Path(found) if found else None


def uninstall(name: str, *, user: bool = False, prefix: str | None = None) -> Path:
    """Remove kernelspec ``name`` (only if it is a remote_kernel one); return its old path."""
    name = validate_kernel_name(name)
    path = find_installed(name, user=user, prefix=prefix)
    if path is None:
        where = f" in {prefix}" if prefix else (" for this user" if user else "")
        raise ConfigurationError(f"No kernelspec named {name!r} is installed{where}.")
    if not is_ours(path):
        raise ConfigurationError(
            f"Kernelspec {name!r} at {path} does not launch remote_kernel; not removing it.",
            fix="Use `jupyter kernelspec remove` for other kernels.",
        )
    try:
        shutil.rmtree(path) if not os.path.islink(path) else os.remove(path)
    except OSError as exc:
        raise ConfigurationError(f"Cannot remove {path}: {exc.strerror or exc}.") from None
    return path
