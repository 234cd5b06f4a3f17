"""The README documents what exists: every setting, env var, sub-command and
``serve`` flag; and nothing it lists as a trait is missing from the code."""

from __future__ import annotations

import re
from pathlib import Path

from remote_kernel import config
from remote_kernel.cli import build_parser
from remote_kernel.commands.hints import local_file_hint
from remote_kernel.config import PoolSettings
from remote_kernel.in_session import IN_SESSION_ENV
from remote_kernel.magics import AcaMagics

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def reference_section() -> str:
    start = README.index("## Configuration reference")
    return README[start : README.index("\n## ", start + 1)]


def test_every_trait_is_documented_and_every_documented_trait_exists() -> None:
    section = reference_section()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M))
    assert documented == set(PoolSettings.class_traits(config=True))
    for name in AcaMagics.class_own_traits(config=True):
        assert f"`{name}`" in section, name


def test_every_env_var_is_documented() -> None:
    names = [env for envs, _ in config.ENV_FALLBACKS.values() for env in envs]
    assert "ACA_MAX_CONNECTIONS" in names and "ACA_POOL_TYPE" in names
    for name in names:
        assert f"`{name}`" in reference_section(), name
    for version in config.KNOWN_API_VERSIONS:
        assert version in README, version


def subparsers() -> dict:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def test_every_sub_command_and_serve_flag_is_documented() -> None:
    commands = subparsers()
    assert {"run", "doctor", "install", "uninstall", "serve"} <= set(commands)
    for name in commands:
        assert f"remote-kernel {name}" in README or f"`{name}`" in README, name
    serve = README[README.index("## The local pool: `remote-kernel serve`") :]
    for action in commands["serve"]._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert f"`{flag}" in serve, flag
    run = README[README.index("## `remote-kernel run`") :]
    for action in commands["run"]._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert flag in run, flag


def test_linked_docs_exist() -> None:
    for target in re.findall(r"\]\(((?:docs|examples)/[^)#]+)\)", README):
        assert (REPO / target).exists(), target
    for name in re.findall(r"`(examples/[a-z_]+\.ipynb)`", README):
        assert (REPO / name).exists(), name


def test_readme_says_how_the_remote_kernel_differs_from_a_local_one(tmp_path: Path) -> None:
    """Right after what you get, before any command's details (claims checked in the
    kernel suite: tests/kernel/test_commands.py, tests/kernel/test_live_output.py)."""
    start = README.index("## How the remote kernel differs from a local one")
    assert README.index("## What you get") < start < README.index("## `remote-kernel run`")
    section = README[start : README.index("\n## ", start + 1)]
    assert "**Output is live on the local pool, and arrives at the end on Azure.**" in section
    assert "**`input()` and `getpass()` work on a streaming pool**" in section
    assert "**Local files are not in the session.**" in section
    assert f"`{IN_SESSION_ENV}=1`" in section
    (tmp_path / "data.csv").write_text("a\n1\n")
    hint = local_file_hint("[Errno 2] No such file or directory: 'data.csv'", [], tmp_path)
    assert hint is not None and f"`{hint}`" in section  # the line the kernel really adds
