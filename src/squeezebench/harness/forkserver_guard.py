"""Imported by the fork server first (``executor.PRELOAD``): it must not outlive the run.

See :mod:`squeezebench.harness.lifeline`; importing this module in any other process does
nothing, because only the fork server is started with its parent's pid in the environment.
"""

from __future__ import annotations

import contextlib

from squeezebench.harness.lifeline import guard_fork_server

with contextlib.suppress(Exception):  # an error here would stop the fork server starting
    guard_fork_server()
