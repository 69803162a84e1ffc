"""One process at a time per run folder; a dead process never keeps a folder locked."""

from __future__ import annotations

import socket

import pytest
from helpers.lock_holder import lock_held_elsewhere

from squeezebench.harness.run_lock import LOCK_NAME, RunFolderLocked, lock_run_folder


def test_a_second_process_is_refused_and_told_who_holds_the_folder(tmp_path) -> None:
    with lock_held_elsewhere(tmp_path) as holder:
        with pytest.raises(RunFolderLocked) as refused:
            lock_run_folder(tmp_path)
        message = str(refused.value)
        assert f"pid {holder.pid} on {socket.gethostname()}, since 20" in message
        assert str(tmp_path) in message
    # the holder was killed (SIGKILL): the kernel dropped its lock
    lock = lock_run_folder(tmp_path)
    lock.release()


def test_a_released_lock_can_be_taken_again_in_the_same_process(tmp_path) -> None:
    # two runs in one process conflict too
    with lock_run_folder(tmp_path), pytest.raises(RunFolderLocked):
        lock_run_folder(tmp_path)
    with lock_run_folder(tmp_path):
        pass
    assert (tmp_path / LOCK_NAME).read_text() == ""  # nobody named as holder any more
