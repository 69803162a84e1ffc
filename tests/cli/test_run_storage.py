"""``squeezebench run`` when its results folder is read-only, fills up, holds a damaged file
or is in use by another process: one clear line, nothing measured lost, and ``--resume``."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers.lock_holder import lock_held_elsewhere
from typer.testing import CliRunner

from squeezebench.cli.app import app
from squeezebench.cli.exit_codes import ExitCode
from squeezebench.results import MANIFEST_NAME, load
from squeezebench.results import storage as storage_module

runner = CliRunner()

SPEC = """
name: storage
model: builtin:digits-mlp
dataset: builtin:digits
variants:
  int8: [quantize.dynamic_int8]
targets: [{backend: torch, device: cpu, options: {threads: 1}}]
benchmark: {batch_sizes: [1], warmup_seconds: 0.01, min_repeats: 3, min_seconds: 0.01}
"""


@pytest.fixture(autouse=True)
def _builtins_only(monkeypatch):
    monkeypatch.setenv("SQUEEZEBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("COLUMNS", "200")
    from squeezebench.plugins import manager

    manager.default_manager.cache_clear()
    manager.default_registry.cache_clear()
    yield
    manager.default_manager.cache_clear()
    manager.default_registry.cache_clear()


def _run(spec: Path, output: Path, *options: str):
    return runner.invoke(app, ["run", str(spec), "-o", str(output), "-q", "--inline", *options])


def _refuse_writes_under(folder: Path, monkeypatch) -> None:
    """Make ``folder`` behave like a read-only file system for this process."""
    real_open, real_mkdir = os.open, os.mkdir
    prefix = str(folder)

    def inside(path: object) -> bool:
        return str(path) == prefix or str(path).startswith(prefix + os.sep)

    def read_only(path: object) -> OSError:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    def open_read_only(path, flags, *args, **kwargs):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise read_only(path)
        return real_open(path, flags, *args, **kwargs)

    def mkdir_read_only(path, *args, **kwargs):
        if inside(path):
            raise read_only(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_read_only)
    monkeypatch.setattr(os, "mkdir", mkdir_read_only)


@pytest.mark.parametrize("where", ["folder", "parent"])
def test_a_read_only_results_folder_is_refused_before_any_work(
    where, write_spec, tmp_path, monkeypatch
) -> None:
    spec = write_spec(SPEC)
    read_only = tmp_path / "ro"
    read_only.mkdir()
    output = read_only if where == "folder" else read_only / "results"
    _refuse_writes_under(read_only, monkeypatch)

    def no_model_loading(*args, **kwargs):
        raise AssertionError("the model was loaded before the folder was checked")

    monkeypatch.setattr("squeezebench.harness.run.Workspace", no_model_loading)
    result = _run(spec, output)
    assert result.exit_code == ExitCode.USAGE_ERROR, result.output
    assert result.output.strip().splitlines() == [
        f"error: cannot write results to {output}: Read-only file system"
        + ("" if where == "folder" else f" (in {read_only})")
    ]


@pytest.mark.parametrize("what_fails", ["the job file", "every file after it"])
def test_a_full_disk_stops_the_run_clearly_and_the_run_resumes(
    what_fails, write_spec, tmp_path, monkeypatch
) -> None:
    spec, output = write_spec(SPEC), tmp_path / "out"
    real_write_table, real_fsync = pq.write_table, os.fsync
    full = []

    def write_until_full(table, where, **kwargs):
        if full or not load_count(output):  # the baseline's file is written; then the disk fills
            return real_write_table(table, where, **kwargs)
        full.append(True)
        where.write(b"PAR1" + bytes(1000))  # a part of the file reached the disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fsync_on_a_full_disk(descriptor: int) -> None:
        if full and what_fails == "every file after it":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(descriptor)

    monkeypatch.setattr(pq, "write_table", write_until_full)
    monkeypatch.setattr(storage_module.os, "fsync", fsync_on_a_full_disk)
    result = _run(spec, output)

    assert result.exit_code == ExitCode.WRITE_FAILED, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (run_directory,) = output.iterdir()
    (message,) = result.output.strip().splitlines()
    assert message.startswith("error: cannot write ") and str(run_directory) in message
    assert "No space left on device, " in message and " free there" in message
    assert message.endswith("finished jobs are saved: make room, then continue with --resume")
    files = sorted(p.name for p in run_directory.iterdir())
    assert len([name for name in files if name.endswith(".parquet")]) == 1  # the baseline
    assert not [name for name in files if name.endswith(".tmp")]  # no part of a file
    manifest = json.loads((run_directory / MANIFEST_NAME).read_text())
    statuses = sorted(job["status"] for job in manifest["jobs"].values())
    if what_fails == "the job file":
        assert manifest["status"] == "failed"
        assert "No space left on device" in manifest["stopped_by"]
        assert statuses == ["interrupted", "ok"]
    else:  # the manifest could not be updated either: it stays whole, as last written
        assert statuses == ["ok", "running"]  # saved when the job started

    full.clear()
    monkeypatch.setattr(pq, "write_table", real_write_table)
    monkeypatch.setattr(storage_module.os, "fsync", real_fsync)
    resumed = _run(spec, output, "--resume")
    assert resumed.exit_code == ExitCode.OK, resumed.output
    assert "resumed: 1 job(s) kept" in resumed.output
    frame = load(run_directory)
    assert sorted(frame["variant"]) == ["baseline", "int8"] and set(frame["status"]) == {"ok"}
    assert json.loads((run_directory / MANIFEST_NAME).read_text())["status"] == "complete"


def _job_file(run_directory: Path, variant: str) -> Path:
    return next(
        path
        for path in run_directory.glob("*.parquet")
        if pq.read_table(path).column("variant")[0].as_py() == variant
    )


def load_count(output: Path) -> int:
    """How many job files the run under ``output`` has written."""
    return len(list(output.glob("*/*.parquet")))


def test_resume_sets_a_damaged_job_file_aside_and_runs_its_job_again(
    write_spec, tmp_path, caplog
) -> None:
    spec, output = write_spec(SPEC), tmp_path / "out"
    assert _run(spec, output).exit_code == ExitCode.OK
    (run_directory,) = output.iterdir()
    int8 = _job_file(run_directory, "int8")
    int8.write_bytes(b"PAR1 this is not what was measured")
    result = _run(spec, output, "--resume")
    assert result.exit_code == ExitCode.OK, result.output
    assert "Traceback" not in result.output
    assert f"{int8} is not a readable result file" in caplog.text
    (aside,) = run_directory.glob(f"{int8.name}.corrupt-*")
    assert aside.read_bytes() == b"PAR1 this is not what was measured"  # kept, not deleted
    assert "resumed: 1 job(s) kept" in result.output
    frame = load(run_directory)
    assert sorted(frame["variant"]) == ["baseline", "int8"] and set(frame["status"]) == {"ok"}


def test_a_run_folder_in_use_by_another_process_is_refused(write_spec, tmp_path) -> None:
    spec, output = write_spec(SPEC), tmp_path / "out"
    assert _run(spec, output).exit_code == ExitCode.OK
    (run_directory,) = output.iterdir()
    _job_file(run_directory, "int8").unlink()  # a job left to run
    manifest = (run_directory / MANIFEST_NAME).read_bytes()
    with lock_held_elsewhere(run_directory) as holder:
        result = _run(spec, output, "--resume")
    assert result.exit_code == ExitCode.USAGE_ERROR, result.output
    (message,) = result.output.strip().splitlines()
    assert message.startswith(f"error: {run_directory} is in use by another squeezebench process")
    assert f"(pid {holder.pid} on " in message
    assert (run_directory / MANIFEST_NAME).read_bytes() == manifest  # nothing was run
    assert len(list(run_directory.glob("*.parquet"))) == 1
