"""``remote-kernel install`` / ``remote-kernel uninstall``: the Jupyter kernelspec.

Without a location flag the kernelspec goes to the user's Jupyter data
directory: it needs no root and every Jupyter front-end of that user (JupyterLab,
VS Code, nbclient) finds it whatever environment it runs in.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from remote_kernel.errors import ConfigurationError

#: Exit code for bad input (argparse uses the same).
USAGE_ERROR = 2


def _add_location(parser: argparse.ArgumentParser, verb: str) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--user", action="store_true", help=f"{verb} the user's Jupyter directory (default)."
    )
    where.add_argument(
        "--sys-prefix",
        action="store_true",
        help=f"{verb} this Python environment ({sys.prefix}).",
    )
    where.add_argument("--prefix", metavar="P", help=f"{verb} P/share/jupyter/kernels.")


def _location(args: argparse.Namespace, *, default_user: bool) -> tuple[bool, str | None]:
    if args.prefix:
        return False, args.prefix
    if args.sys_prefix:
        return False, sys.prefix
    return (args.user or default_user), None


def register(subparsers: argparse._SubParsersAction) -> None:
    from remote_kernel.kernel.spec import DEFAULT_DISPLAY_NAME, DEFAULT_NAME

    install = subparsers.add_parser(
        "install",
        help="Install the Jupyter kernelspec (JupyterLab / VS Code list it).",
        description="Install a kernelspec: 'Python (remote session)', or with --language "
        "'Bash (remote session)' or 'JavaScript (remote session)'.",
    )
    _add_location(install, "Install into")
    install.add_argument(
        "--language",
        choices=("python", "bash", "javascript"),
        default="python",
        help="The kernel's language, hence the session type it needs: python (remote-python), "
        "bash (remote-bash, a Shell pool) or javascript (remote-javascript, a NodeLTS pool).",
    )
    install.add_argument(
        "--name", default="", help=f"Kernel name (default {DEFAULT_NAME}, remote-bash...)."
    )
    install.add_argument(
        "--display-name",
        default="",
        help=f'Name shown in front-ends (default "{DEFAULT_DISPLAY_NAME}", '
        '"Bash (remote session)"...).',
    )
    install.add_argument(
        "--endpoint",
        default="",
        metavar="URL",
        help="Pool management endpoint (stored as ACA_POOL_ENDPOINT). "
        "Omit to use the embedded local pool.",
    )
    install.add_argument(
        "--session",
        default="",
        metavar="ID",
        help="Fixed session identifier (stored as ACA_SESSION_ID). Omit for a fresh "
        "session per kernel start.",
    )
    install.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="Extra environment variable for the kernel (repeatable).",
    )
    install.add_argument(
        "--interrupt-mode",
        choices=("signal", "message"),
        default="signal",
        help="How front-ends interrupt the kernel (default signal).",
    )
    install.set_defaults(func=run_install)

    uninstall = subparsers.add_parser(
        "uninstall",
        help="Remove the Jupyter kernelspec.",
        description="Remove a kernelspec installed by `remote-kernel install`.",
    )
    _add_location(uninstall, "Remove from")
    uninstall.add_argument(
        "--name", default=DEFAULT_NAME, help=f"Kernel name (default {DEFAULT_NAME})."
    )
    uninstall.set_defaults(func=run_uninstall)


def _fail(command: str, exc: ConfigurationError) -> int:
    print(f"remote-kernel {command}: error: {exc}", file=sys.stderr)
    return USAGE_ERROR


def run_install(args: argparse.Namespace) -> int:
    from remote_kernel.kernel.spec import SpecOptions, install, parse_env

    try:
        options = SpecOptions.for_language(
            args.language,
            name=args.name,
            display_name=args.display_name,
            endpoint=args.endpoint,
            session=args.session,
            env=parse_env(args.env),
            interrupt_mode=args.interrupt_mode,
        )
        user, prefix = _location(args, default_user=True)
        path = install(options, user=user, prefix=prefix)
    except ConfigurationError as exc:
        return _fail("install", exc)
    target = options.endpoint or "the embedded local pool"
    print(f"Installed kernelspec {options.name.lower()!r} in {path} (runs cells on {target}).")
    warning = search_path_warning(path)
    if warning:
        print(warning, file=sys.stderr)
    return 0


def search_path_warning(spec_dir: Path) -> str | None:
    """A warning when Jupyter will not look where the kernelspec went (a bare --prefix),
    as ``jupyter kernelspec install`` gives; None when front-ends will find it."""
    from jupyter_client.kernelspec import KernelSpecManager

    kernels = spec_dir.parent.resolve()
    if any(Path(d).resolve() == kernels for d in KernelSpecManager().kernel_dirs):
        return None
    data_dir = kernels.parent
    return (
        f"Warning: {kernels} is not on Jupyter's kernel search path, so Jupyter front-ends "
        f"will not find this kernel. Set JUPYTER_PATH={data_dir} where Jupyter runs, or "
        "install with --user or --sys-prefix."
    )


def run_uninstall(args: argparse.Namespace) -> int:
    from remote_kernel.kernel.spec import uninstall

    try:
        user, prefix = _location(args, default_user=False)
        path = uninstall(args.name, user=user, prefix=prefix)
    except ConfigurationError as exc:
        return _fail("uninstall", exc)
    print(f"Removed kernelspec {args.name.lower()!r} from {path}.")
    return 0
