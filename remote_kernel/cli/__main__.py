"""``python -m remote_kernel.cli``: the same as the ``remote-kernel`` command."""

import sys

from remote_kernel.cli import main

sys.exit(main())
