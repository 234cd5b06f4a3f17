"""The ``remote-kernel`` command: one sub-command per module in this package.

Each sub-command module exposes ``register(subparsers)``, which adds its parser
and sets ``func`` (``args -> exit code``) as the parser default.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from remote_kernel import __version__
from remote_kernel.errors import RemoteKernelError

#: Sub-command modules, in the order ``--help`` lists them.
SUBCOMMANDS = ("serve", "install", "run", "doctor")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="remote-kernel",
        description="Run notebook cells in Azure Container Apps dynamic sessions "
        "(or the embedded local session pool).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"remote_kernel.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"remote_kernel.cli.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except RemoteKernelError as exc:
        print(f"remote-kernel {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
