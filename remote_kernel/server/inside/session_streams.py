"""Run inside every local-pool session kernel at start, in a namespace of its own.

The pool keeps at most ``max_output_chars`` characters per stream of one
execution; the rest is dropped. Dropping it in the pool is too late: ipykernel
gathers what a cell writes for 0.2 s into *one* IOPub message, so
``print('y' * 10**8)`` reached the pool as a 100 MB message that it had to
receive and decode whole (about three times that in memory) before cutting it,
and one session's cell could exhaust the memory every session shares.

So the limit is applied here, where the output is made: the pool puts it in
the ``execute_request`` metadata (:data:`LIMIT_KEY`); the streams publish at
most that many characters per stream for that request and count the rest;
after the cell, the count goes to the pool as one ``display_data`` of type
:data:`DROPPED_MIME`, which the pool turns into its usual truncation notice.

Loaded by path (``exec_lines``), not imported, so it works in any session
interpreter that has ipykernel (6 or 7), with or without remote_kernel
installed; it defines no name in the user's namespace.
"""

import sys
import threading

LIMIT_KEY = "remote_kernel_max_output_chars"
DROPPED_MIME = "application/vnd.remote-kernel.dropped+json"
#: Requests whose counts are kept (output of background threads can come late).
_KEPT = 32


class _Budgets:
    """Characters still allowed, and dropped, per (request msg_id, stream name)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.limits = {}  # msg_id -> limit
        self.sent = {}  # (msg_id, name) -> characters published
        self.dropped = {}  # (msg_id, name) -> characters dropped

    def start(self, msg_id, limit) -> None:
        with self.lock:
            self.limits[msg_id] = limit
            for old in list(self.limits)[:-_KEPT]:
                del self.limits[old]
                for table in (self.sent, self.dropped):
                    for key in [k for k in table if k[0] == old]:
                        del table[key]

    def cut(self, msg_id, name, data):
        """The part of ``data`` still within the request's limit."""
        with self.lock:
            limit = self.limits.get(msg_id)
            if limit is None:
                return data
            sent = self.sent.get((msg_id, name), 0)
            keep = data[: max(0, limit - sent)]
            self.sent[(msg_id, name)] = sent + len(keep)
            if len(keep) < len(data):
                key = (msg_id, name)
                self.dropped[key] = self.dropped.get(key, 0) + len(data) - len(keep)
            return keep

    def take_dropped(self, msg_id):
        with self.lock:
            found = {k[1]: v for k, v in self.dropped.items() if k[0] == msg_id}
            for name in found:
                del self.dropped[(msg_id, name)]
            return found


def _install() -> None:
    ip = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    stream_type = type(sys.stdout)
    flush_buffers = getattr(stream_type, "_flush_buffers", None)
    kernel = getattr(ip, "kernel", None)
    if ip is None or kernel is None or flush_buffers is None:
        return
    if stream_type.__module__ != "ipykernel.iostream" or getattr(stream_type, "_rk_budgets", 0):
        return
    budgets = _Budgets()

    def limited_flush_buffers(self):  # type: ignore[no-untyped-def]
        # IPython re-binds each stream's ``write`` around every cell, so the cut
        # happens where ipykernel turns its buffer into messages.
        for parent, data in flush_buffers(self):
            yield parent, budgets.cut(parent.get("msg_id"), self.name, data)

    def request():  # type: ignore[no-untyped-def]
        parent = kernel.get_parent() or {}
        return parent.get("header", {}).get("msg_id"), parent.get("metadata") or {}

    def pre_execute() -> None:
        msg_id, metadata = request()
        limit = metadata.get(LIMIT_KEY)
        if msg_id and isinstance(limit, int) and limit >= 0:
            budgets.start(msg_id, limit)

    def post_execute() -> None:
        msg_id, _ = request()
        if not msg_id:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        dropped = budgets.take_dropped(msg_id)
        if dropped:
            ip.display_pub.publish(data={DROPPED_MIME: dropped}, metadata={})

    stream_type._flush_buffers = limited_flush_buffers
    stream_type._rk_budgets = budgets
    ip.events.register("pre_execute", pre_execute)
    ip.events.register("post_execute", post_execute)


def _unbounded_iopub() -> None:
    """ipykernel's IOPub PUB socket keeps the default send limit of 1000 messages per
    subscriber and *drops* what passes it: a cell printing fast while the pool is busy
    with other sessions lost lines. With no limit and no dropping, messages wait instead
    (back-pressure on the cell's output). Set on the IOPub thread, which owns the socket."""
    ip = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    thread = getattr(getattr(ip, "kernel", None), "iopub_thread", None)
    socket = getattr(thread, "socket", None)
    if thread is None or socket is None:
        return
    import zmq

    done = threading.Event()

    def lift() -> None:
        socket.setsockopt(zmq.SNDHWM, 0)
        # And should a queue still be full, wait for room instead of dropping the message.
        socket.setsockopt(zmq.XPUB_NODROP, 1)
        done.set()

    thread.schedule(lift)
    done.wait(5)


_install()
_unbounded_iopub()
