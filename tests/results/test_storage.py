"""Results folders: checked before a run, written whole or not at all, clear when full."""

from __future__ import annotations

import errno
import os

import pytest

from squeezebench.results import storage
from squeezebench.results.storage import (
    ResultsNotWritable,
    ResultsWriteError,
    atomic_write,
    check_writable,
)


def _refuse(error_number: int):
    def fail(*args, **kwargs):
        raise OSError(error_number, os.strerror(error_number))

    return fail


def test_a_missing_folder_in_a_writable_parent_is_fine_and_nothing_is_created(tmp_path) -> None:
    check_writable(tmp_path / "new" / "results")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_below_a_file_is_refused(tmp_path) -> None:
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(ResultsNotWritable, match=r"taken is a file, not a folder"):
        check_writable(tmp_path / "taken" / "results")


def test_a_read_only_file_system_is_one_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(storage.tempfile, "TemporaryFile", _refuse(errno.EROFS))
    with pytest.raises(ResultsNotWritable) as refused:
        check_writable(tmp_path / "results")
    assert str(refused.value) == (
        f"cannot write results to {tmp_path / 'results'}: Read-only file system (in {tmp_path})"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_folder_without_write_permission_is_refused(tmp_path) -> None:
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(ResultsNotWritable, match="Permission denied"):
            check_writable(tmp_path)
    finally:
        tmp_path.chmod(0o755)


def test_a_full_disk_keeps_the_old_file_and_leaves_no_part_of_the_new_one(tmp_path) -> None:
    path = tmp_path / "job.parquet"
    path.write_bytes(b"complete old content")

    def half_then_full(handle) -> None:
        handle.write(b"half of the new")
        handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(ResultsWriteError) as failed:
        atomic_write(path, half_then_full)
    message = str(failed.value)
    assert message.startswith(f"cannot write job.parquet to {tmp_path}: No space left on device, ")
    assert message.endswith("free there")
    assert path.read_bytes() == b"complete old content"
    assert [p.name for p in tmp_path.iterdir()] == ["job.parquet"]


def test_a_write_reaches_the_disk_before_it_replaces_the_file(tmp_path, monkeypatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def record(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to name the synced files")
    monkeypatch.setattr(storage.os, "fsync", record)
    path = tmp_path / "job.parquet"
    atomic_write(path, lambda handle: handle.write(b"rows"))
    assert path.read_bytes() == b"rows"
    assert synced == [str(tmp_path / f".job.parquet.{os.getpid()}.tmp"), str(tmp_path)]
