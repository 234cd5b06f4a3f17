"""``python -m remote_kernel -f CONNECTION_FILE`` starts the kernel (what kernel.json runs).

``python -m remote_kernel install ...`` (any ``remote-kernel`` sub-command) runs the CLI.
"""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args and not args[0].startswith("-"):
        from remote_kernel.cli import main as cli_main

        sys.exit(cli_main(args))
    from remote_kernel.kernel.kernel import launch

    launch()


if __name__ == "__main__":
    main()
