"""SIGTERM and SIGHUP become a Ctrl-C-like StopRequested, once, and only where wanted."""

from __future__ import annotations

import os
import signal
import time

import pytest

from squeezebench.cli.exit_codes import ExitCode
from squeezebench.harness.shutdown import (
    StopRequested,
    interrupted_exit_code,
    stop_on_signals,
    stop_reason,
)


def _deliver(sig: int) -> None:
    """Send ``sig`` to this process and give Python the moment to run its handler."""
    os.kill(os.getpid(), sig)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, ExitCode.TERMINATED), (signal.SIGHUP, ExitCode.HANGUP)]
)
def test_a_stop_signal_raises_a_keyboard_interrupt_that_knows_its_signal(sig, code) -> None:
    before = signal.getsignal(sig)
    with pytest.raises(KeyboardInterrupt) as caught, stop_on_signals():
        _deliver(sig)
    assert isinstance(caught.value, StopRequested)
    assert interrupted_exit_code(caught.value) == code == 128 + sig
    assert stop_reason(caught.value) == signal.Signals(sig).name
    assert signal.getsignal(sig) == before  # restored on the way out


def test_ctrl_c_keeps_its_exit_code() -> None:
    assert interrupted_exit_code(KeyboardInterrupt()) == ExitCode.INTERRUPTED == 130
    assert stop_reason(KeyboardInterrupt()) == "SIGINT"


def test_a_second_signal_does_not_cut_the_clean_up_short() -> None:
    with pytest.raises(StopRequested) as caught, stop_on_signals():
        try:
            _deliver(signal.SIGTERM)
        finally:  # the clean-up after the first signal
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
    assert caught.value.__context__ is None  # the second signal raised nothing


def test_a_hang_up_ignored_on_entry_stays_ignored() -> None:
    """``nohup squeezebench run ...`` must survive the terminal closing."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with stop_on_signals():
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.2)
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_other_errors_are_described_for_the_manifest() -> None:
    assert stop_reason(OSError(28, "No space left on device")) == (
        "OSError: [Errno 28] No space left on device"
    )
