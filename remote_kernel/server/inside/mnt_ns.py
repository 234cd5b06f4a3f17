"""Run a session's kernel with its file area mounted at ``/mnt/data`` (Linux only).

    PYTHON mnt_ns.py --module DIR MODULE [ARG ...]   # in-process: what the pool uses
    python -I -S mnt_ns.py DIR -- COMMAND [ARG ...]  # then exec any command
    python -I -S mnt_ns.py --check DIR

A standalone script (standard library only, no import of remote_kernel, so any
session interpreter can run it) that the local pool puts in front of every
session's kernel:

1. ``unshare(CLONE_NEWUSER | CLONE_NEWNS)``: a private mount namespace, owned by
   a new user namespace so no privilege is needed. The user's own uid and gid
   are mapped to themselves, so the session sees the same ids as outside.
2. Mounts stay private; a small tmpfs goes over ``/mnt`` with every entry the
   real ``/mnt`` had bound back in (``/mnt/c`` on WSL, a resource disk on a VM),
   then ``/mnt/data`` is created and the session's directory bind-mounted there.
3. ``chdir('/mnt/data')``, then either run ``MODULE`` as ``__main__`` in this very
   interpreter (``--module``: no second interpreter start, ``python -m MODULE``
   semantics for ``sys.path`` and ``sys.argv``) or ``execvp(COMMAND)``. Either
   way the kernel keeps this process's PID (what jupyter_client signals and waits
   on). A non-root user's namespace capabilities are dropped first, so session
   code cannot undo the mounts.

``--check`` does steps 1-2 and verifies ``/mnt/data`` is ``DIR``; the pool runs it
once to decide whether sessions get ``/mnt/data`` or fall back to a plain working
directory. Any failure prints one ``mnt-data: ...`` line on stderr and exits 121
without running the command.
"""

from __future__ import annotations

import ctypes
import os
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
FAILED = 121
MOUNT_POINT = "/mnt"
DATA = "/mnt/data"


class SetupError(Exception):
    """One line saying which step failed and why."""


def _libc() -> ctypes.CDLL:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError as exc:
        raise SetupError(f"cannot load the C library ({exc})") from None


def _call(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise SetupError(f"{what} failed: {os.strerror(errno)} (errno {errno})")


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _enter_namespaces(libc: ctypes.CDLL) -> None:
    """New user + mount namespace; the caller's ids mapped onto themselves."""
    uid, gid = os.getuid(), os.getgid()
    _call(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(user+mount namespace)")
    try:
        _write("/proc/self/setgroups", "deny")
    except FileNotFoundError:  # kernels before 3.19
        pass
    _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
    _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
    _call(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "making mounts private")


def _placeholder(source: str, target: str) -> bool:
    """An empty file, folder or symlink at ``target`` to bind ``source`` onto."""
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
        return False
    if os.path.isdir(source):
        os.mkdir(target)
    else:
        open(target, "w").close()
    return True


def _mount_data(libc: ctypes.CDLL, directory: str) -> None:
    """tmpfs over /mnt, the old entries bound back, ``directory`` at /mnt/data."""
    os.chdir(directory)  # "." stays the session's folder even if it lives under /mnt
    if not os.path.isdir(MOUNT_POINT):
        raise SetupError(f"{MOUNT_POINT} does not exist (it cannot be created without root)")
    old = os.open(MOUNT_POINT, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _call(
            libc.mount(b"tmpfs", MOUNT_POINT.encode(), b"tmpfs", 0, b"mode=755,size=1m"),
            f"mounting a tmpfs on {MOUNT_POINT}",
        )
        for name in os.listdir(f"/proc/self/fd/{old}"):
            if name == "data":
                continue
            source, target = f"/proc/self/fd/{old}/{name}", f"{MOUNT_POINT}/{name}"
            if _placeholder(source, target):
                _call(
                    libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None),
                    f"binding {target} back",
                )
    finally:
        os.close(old)
    os.mkdir(DATA)
    _call(libc.mount(b".", DATA.encode(), None, MS_BIND | MS_REC, None), f"binding {DATA}")
    os.chdir(DATA)


def setup(directory: str) -> None:
    """Steps 1-2; raises :class:`SetupError` with a one-line reason."""
    if not sys.platform.startswith("linux"):
        raise SetupError(f"mount namespaces need Linux (this is {sys.platform})")
    libc = _libc()
    try:
        _enter_namespaces(libc)
        _mount_data(libc, directory)
    except OSError as exc:
        raise SetupError(f"{exc.strerror or exc} ({exc.filename or 'setup'})") from None


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """A non-root user keeps no capability in the namespace (as an exec would do)."""
    if os.getuid() == 0:
        return
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    _call(_libc().capset(ctypes.byref(header), (_CapData * 2)()), "dropping capabilities")


def run_module(module: str, args: list[str]) -> None:
    """Run ``module`` like ``python -m module args`` would, from the current folder."""
    import runpy

    sys.argv = [module, *args]
    sys.path[0] = os.getcwd()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def check(directory: str) -> None:
    """Set up in this process and verify /mnt/data is ``directory`` (same inode)."""
    before = os.stat(directory)
    setup(directory)
    after = os.stat(DATA)
    if (before.st_dev, before.st_ino) != (after.st_dev, after.st_ino):
        raise SetupError(f"{DATA} is not {directory} after the bind mount")


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 2 and argv[0] == "--check":
            check(argv[1])
            print("ok")
            return 0
        if len(argv) >= 3 and argv[0] == "--module":
            setup(argv[1])
            drop_capabilities()
        elif len(argv) >= 3 and argv[1] == "--":
            setup(argv[0])
        else:
            raise SetupError(
                "usage: mnt_ns.py --module DIR MODULE [ARG ...] | DIR -- COMMAND [ARG ...] "
                "| --check DIR"
            )
    except SetupError as exc:
        print(f"mnt-data: {exc}", file=sys.stderr, flush=True)
        return FAILED
    if argv[0] == "--module":
        run_module(argv[2], argv[3:])
        return 0
    try:
        os.execvp(argv[2], argv[2:])
    except OSError as exc:
        print(f"mnt-data: cannot run {argv[2]}: {exc.strerror}", file=sys.stderr, flush=True)
    return FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
