"""Stopping a run on a supervisor's signal the way Ctrl-C stops it.

``timeout``, systemd, CI runners and Kubernetes stop a process with SIGTERM; a closed
terminal or SSH session sends SIGHUP. Inside :func:`stop_on_signals` both raise
:class:`StopRequested` in the main thread, a :class:`KeyboardInterrupt`, so every place that
already cleans up after Ctrl-C does the same for them: the executor kills the worker in
flight, the run marks that job and itself ``interrupted`` in the manifest, and the command
exits with ``128 + the signal's number`` (143 for SIGTERM, 129 for SIGHUP; 130 for Ctrl-C),
the shell's convention for a process ended by a signal.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class StopRequested(KeyboardInterrupt):
    """A stop signal arrived (SIGTERM or SIGHUP); handled like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def signal_name(self) -> str:
        """``SIGTERM`` or ``SIGHUP``."""
        return signal.Signals(self.signum).name


def stop_signal_name(interrupt: KeyboardInterrupt) -> str:
    """The signal behind an interruption: ``SIGTERM``, ``SIGHUP``, or ``SIGINT`` (Ctrl-C)."""
    return interrupt.signal_name if isinstance(interrupt, StopRequested) else "SIGINT"


def stop_reason(error: BaseException) -> str:
    """What stopped a run, for its manifest: the signal (``SIGINT`` for Ctrl-C), or the error."""
    if isinstance(error, KeyboardInterrupt):
        return stop_signal_name(error)
    return f"{type(error).__name__}: {error}"


def interrupted_exit_code(interrupt: KeyboardInterrupt) -> int:
    """``128 + signal number``: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + (interrupt.signum if isinstance(interrupt, StopRequested) else signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(signals: tuple[int, ...] = STOP_SIGNALS) -> Iterator[None]:
    """Turn ``signals`` into :class:`StopRequested` in the main thread while the block runs.

    The first signal raises; later ones are ignored, so that a second SIGTERM cannot cut
    short the clean-up (killing the worker, writing the manifest). A signal that was
    ignored on entry stays ignored (``nohup squeezebench run ...`` keeps running after a
    hang-up). Outside the main thread, where Python cannot handle signals, this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        for sig in installed:
            signal.signal(sig, signal.SIG_IGN)
        raise StopRequested(signum)

    previous = {sig: signal.getsignal(sig) for sig in signals}
    installed = [sig for sig, handler in previous.items() if handler != signal.SIG_IGN]
    for sig in installed:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig in installed:  # None: a handler set outside Python, which we cannot restore
            signal.signal(sig, signal.SIG_DFL if previous[sig] is None else previous[sig])
