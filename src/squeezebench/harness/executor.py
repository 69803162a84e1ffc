"""Executors: how a job request becomes a result (in this process, or in a worker).

``ProcessExecutor`` (the default) starts one fresh worker per job from a fork server that
has torch already imported, so isolation costs milliseconds rather than an import of torch
per job. It turns a worker that crashes, is killed or outlives its timeout into an
``error`` result with the reason, and kills the worker on Ctrl-C (or SIGTERM, see
:mod:`squeezebench.harness.shutdown`) before re-raising. Workers and the fork server end
themselves when the main process dies (:mod:`squeezebench.harness.lifeline`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from squeezebench.harness.lifeline import fork_server_parent_environment
from squeezebench.harness.worker import JobRequest, measure_request, worker_main
from squeezebench.results.status import ERROR

# Imported once in the fork server so that workers start warm; torch._dynamo is what the
# flop counter imports on first use (about a second).
PRELOAD = [
    "squeezebench.harness.forkserver_guard",  # first: dies with the run (see lifeline.py)
    "torch",
    "torch._dynamo",
    "torch.utils.flop_counter",
    "numpy",
    "sklearn.datasets",
    "squeezebench.harness.workspace",
]


def completed(result: Any) -> Future:
    """A future that is already done with ``result``."""
    future: Future = Future()
    future.set_result(result)
    return future


class SequentialExecutor:
    """An executor that runs one job at a time: ``submit`` runs the job now."""

    slots = 1

    def execute(self, request: JobRequest, timeout: float | None = None) -> Any:
        """Run one request; errors become results."""
        raise NotImplementedError

    def submit(self, request: JobRequest, timeout: float | None = None) -> Future:
        """Run the request now; the future is already done."""
        return completed(self.execute(request, timeout))


class InlineExecutor(SequentialExecutor):
    """Runs every job in this process, sharing one workspace (``--inline``, for debugging)."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self._workspaces: dict[tuple[Any, ...], Any] = {}

    def execute(self, request: JobRequest, timeout: float | None = None) -> Any:
        """Measure in-process; ``timeout`` cannot be enforced here and is ignored."""
        from squeezebench.harness.workspace import workspace_for_request, workspace_key

        key = workspace_key(request)
        if key not in self._workspaces:
            self._workspaces[key] = workspace_for_request(request, self.registry)
        return measure_request(request, self._workspaces[key], self.registry)

    def close(self) -> None:
        """Drop the workspaces."""
        self._workspaces.clear()


@contextlib.contextmanager
def main_module_file_hidden(hide: Callable[[str], bool]) -> Iterator[None]:
    """Hide ``__main__.__file__`` while new processes start, when ``hide(path)`` says so:
    multiprocessing's fork server and spawned workers import the main module's file."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or not hide(path):
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _main_module_without_a_missing_file() -> contextlib.AbstractContextManager[None]:
    """Hide ``__main__.__file__`` when it is no file (``python -``, notebooks): new
    processes would otherwise try to re-run it and die."""
    return main_module_file_hidden(lambda path: not os.path.isfile(path))


def _log_tail(path: str, lines: int = 200) -> str | None:
    """The end of what a dead worker printed (its Python stack, for a segfault), or None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            tail = handle.read().strip().splitlines()[-lines:]
    except OSError:
        return None
    return "\n".join(tail) if tail else None


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "the worker did not exit"
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        hint = " (out of memory?)" if -exitcode == signal.SIGKILL else ""
        return f"the worker process was killed by {name}{hint}"
    return f"the worker process exited with code {exitcode} without a result"


class ProcessExecutor(SequentialExecutor):
    """One fresh worker process per job, with a timeout."""

    def __init__(self) -> None:
        method = "forkserver" if sys.platform.startswith("linux") else "spawn"
        self._context = multiprocessing.get_context(method)
        if method == "forkserver":
            self._context.set_forkserver_preload(PRELOAD)

    def execute(self, request: JobRequest, timeout: float | None = None) -> Any:
        """Run the request in a new worker; errors, crashes and timeouts become results."""
        receiver, sender = self._context.Pipe(duplex=False)
        descriptor, log_path = tempfile.mkstemp(prefix="squeezebench-worker-", suffix=".log")
        os.close(descriptor)
        request = dataclasses.replace(request, log_path=log_path)
        process = self._context.Process(target=worker_main, args=(request, sender))
        with _main_module_without_a_missing_file(), fork_server_parent_environment():
            process.start()
        sender.close()
        try:
            return self._wait(process, receiver, timeout, log_path)
        finally:
            os.unlink(log_path)

    def _wait(self, process: Any, receiver: Any, timeout: float | None, log_path: str) -> Any:
        from squeezebench.harness.workspace import JobResult

        try:
            if not receiver.poll(timeout):
                self._stop(process)
                return JobResult(
                    ERROR, f"timed out after {timeout:g} s (benchmark.timeout_seconds)"
                )
            try:
                result = receiver.recv()
            except (EOFError, OSError):
                process.join(10)
                output = _log_tail(log_path)
                return JobResult(ERROR, _describe_exit(process.exitcode), details=output)
            process.join(10)
            return result
        except BaseException:
            self._stop(process)
            raise
        finally:
            receiver.close()
            if process.is_alive():
                self._stop(process)

    @staticmethod
    def _stop(process: Any) -> None:
        process.kill()
        process.join(10)

    def close(self) -> None:
        """Nothing to release (the fork server exits with this process)."""
