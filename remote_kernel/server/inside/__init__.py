"""Code that runs *inside* a session's interpreter, never in the pool's process.

Each file here is loaded by path (or sent as source) into another interpreter,
so it imports nothing from remote_kernel and keeps to what that interpreter has:

- ``quick_flush.py``: run at every IPython session kernel's start, and imported by the
  wrapper kernel; a stream flush with nothing to send skips its IOPub round trip.
- ``session_streams.py``: run at every IPython session kernel's start
  (``exec_lines``); caps each stream of an execution where the output is made.
- ``mnt_ns.py``: the launcher of every IPython session kernel on Linux; enters a
  private mount namespace where the session's files are ``/mnt/data``.
- ``pyodide_shim.py``: imported inside Pyodide by the sandbox's worker; IPython-like
  cell semantics, outputs sent to the host as events.

The pool's own modules name them by path (``runtimes/ipython.py``, ``mnt_data.py``,
``sandbox/environment.py``); the wheel ships them as package data.
"""
