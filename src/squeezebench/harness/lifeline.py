"""Worker processes and the fork server die with the run that started them.

A job's timeout is enforced by the main process, so once the main process is gone (``kill
-9``, the out-of-memory killer, a lost SSH session) nothing would ever stop a hung worker.
Who watches whom:

- The **fork server** is a child of the main process (started by the thread that first
  starts a worker). On Linux it asks the kernel for ``SIGKILL`` when that parent goes
  (``PR_SET_PDEATHSIG``), as soon as it starts: :func:`guard_fork_server`.
- A **worker** is a child of the fork server (of the main process with the ``spawn``
  method). It asks the kernel for ``SIGKILL`` when *its* parent goes, so the main process's
  death reaches it through the fork server, even while it is stuck in C code holding the
  GIL. On every platform it also runs a thread that waits on the pipe the main process keeps
  open for it (:func:`multiprocessing.parent_process`) and ends the worker once that pipe
  reports end-of-file, i.e. once the main process is gone: :func:`watch_parent`.

Once every worker is gone, the stdlib's fork server and resource tracker exit by themselves
(the pipes they wait on are closed), so nothing outlives the run.

``PR_SET_PDEATHSIG`` fires when the *thread* that forked the child exits, not the process:
the fork server is only tied to its parent when it was started from the main thread, which
outlives every job (:func:`fork_server_parent_environment`).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
FORK_SERVER_PARENT_ENV = "SQUEEZEBENCH_FORK_SERVER_PARENT"
"""The pid whose death must end the fork server; set only while the fork server starts."""

# Signals that stop a run reach the whole process group (a terminal's Ctrl-C or hang-up,
# systemd's SIGTERM to the control group): the main process decides what happens to the
# job in flight and kills the worker itself, so workers and the fork server ignore them.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent thread exits.

    Returns whether the kernel accepted it (always False elsewhere than on Linux).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):  # no prctl in this libc: the watchdog thread remains
        return False


def ignore_stop_signals() -> None:
    """Leave SIGINT, SIGTERM and SIGHUP to the main process (see :data:`STOP_SIGNALS`)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def watch_parent() -> threading.Thread | None:
    """End this process (``os._exit``) once the process that started it is gone.

    Works wherever :mod:`multiprocessing` does: the child of a ``forkserver`` or ``spawn``
    start waits on a pipe whose other end only the starting process holds. Returns the
    daemon thread, or None outside a multiprocessing child.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return None

    def wait_then_exit() -> None:
        parent.join()  # returns once the parent's end of the pipe is closed
        os._exit(1)  # no clean-up: the job's result has nowhere to go

    thread = threading.Thread(target=wait_then_exit, name="squeezebench-parent-watch")
    thread.daemon = True
    thread.start()
    return thread


def guard_fork_server() -> None:
    """Tie this fork server to the main process that started it (called at its start).

    Does nothing unless :data:`FORK_SERVER_PARENT_ENV` names our parent, so importing the
    module anywhere else is harmless.
    """
    expected = os.environ.pop(FORK_SERVER_PARENT_ENV, "")  # workers need not inherit it
    if not expected.isdigit() or int(expected) != os.getppid():
        return
    die_with_parent()
    if os.getppid() != int(expected):  # the parent died before the kernel was asked
        os._exit(0)
    ignore_stop_signals()  # the stdlib ignores only SIGINT here


@contextlib.contextmanager
def fork_server_parent_environment() -> Iterator[None]:
    """While a worker starts (and with it, the first time, the fork server), tell the fork
    server which process it must not outlive; only from the main thread (see above)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    os.environ[FORK_SERVER_PARENT_ENV] = str(os.getpid())
    try:
        yield
    finally:
        os.environ.pop(FORK_SERVER_PARENT_ENV, None)
