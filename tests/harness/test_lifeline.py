"""Workers and the fork server die with the main process, even when it is killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from helpers.hung_run import FAULT_PLUGIN, start_hung_run
from helpers.processes import (
    descendants,
    kill_leftovers,
    needs_proc,
    process,
    wait_until_gone,
)

from squeezebench.harness.lifeline import FORK_SERVER_PARENT_ENV, guard_fork_server
from squeezebench.harness.run import run_spec
from squeezebench.plugins.manager import PLUGINS_ENV, build_plugin_manager, build_registry
from squeezebench.results import load
from squeezebench.spec.load import load_spec


@pytest.fixture
def fault_registry(monkeypatch):
    monkeypatch.setenv(PLUGINS_ENV, str(FAULT_PLUGIN))
    return build_registry(build_plugin_manager(autoload=False))


@needs_proc
def test_sigkill_of_the_main_process_ends_its_hung_worker_and_frees_the_run(
    write_spec, fault_registry, tmp_path
):
    """``kill -9`` of the main pid alone (the OOM killer, a lost session): the worker, stuck
    in C code that holds the GIL so that no Python thread of it can run, goes too, and so do
    the fork server and the resource tracker. The dead run's lock does not block a resume."""
    run = start_hung_run(write_spec, tmp_path, hold_gil=True)
    family = descendants(run.process.pid)
    try:
        assert run.worker_pid in {p.pid for p in family}
        os.kill(run.process.pid, signal.SIGKILL)
        run.process.wait(timeout=60)
        survivors = wait_until_gone(family, timeout=20)
        assert not survivors, survivors
    finally:
        kill_leftovers(family)
        run.process.communicate()

    run.flag.unlink()  # the job no longer hangs
    resumed = run_spec(load_spec(run.spec, fault_registry), fault_registry, run.output, resume=True)
    assert resumed.status == "complete" and resumed.resumed_jobs == 1
    frame = load(run.output)
    assert sorted(frame["variant"]) == ["baseline", "hangs"] and set(frame["status"]) == {"ok"}


PARENT = """
import multiprocessing
import os
import sys
import time

from squeezebench.harness.lifeline import watch_parent


def child(path):
    watch_parent()
    with open(path, "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(600)


if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    context.Process(target=child, args=(sys.argv[1],)).start()
    time.sleep(600)
"""


@needs_proc
def test_the_portable_watch_ends_a_child_whose_starting_process_died(tmp_path):
    """Without PR_SET_PDEATHSIG (not Linux): the watch thread alone ends the orphan."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(PARENT))
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, str(script), str(pid_file)])
    family = []
    try:
        deadline = time.monotonic() + 120
        while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
            assert parent.poll() is None
            time.sleep(0.05)
        child = process(int(pid_file.read_text()))
        assert child is not None
        family = descendants(parent.pid)
        parent.kill()
        parent.wait(timeout=60)
        assert not wait_until_gone([child, *family], timeout=20)
    finally:
        if parent.poll() is None:
            parent.kill()
        kill_leftovers(family)


def test_the_fork_server_guard_acts_only_in_a_process_started_by_the_named_parent(monkeypatch):
    monkeypatch.setenv(FORK_SERVER_PARENT_ENV, str(os.getpid()))  # we are not our own child
    before = signal.getsignal(signal.SIGTERM)
    guard_fork_server()
    assert signal.getsignal(signal.SIGTERM) == before  # nothing was changed here
    assert FORK_SERVER_PARENT_ENV not in os.environ  # and workers do not inherit the pid
