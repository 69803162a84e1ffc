"""Joining a Ray cluster, or starting a private local instance, for one run.

``ray`` is imported here only when a run asks for it (``squeezebench[ray]``); without the
extra the user gets one line with the install hint. A run's own local instance declares the
timing slot (one timed job at a time on this machine) and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from squeezebench.errors import UserError
from squeezebench.spec.models import TIMING_RESOURCE

INSTALL_HINT = "--executor ray needs Ray: pip install 'squeezebench[ray]'"
LOOPBACK_VARIABLE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Set to 0, Ray binds a local instance to 127.0.0.1 (no port open to the network)."""


KEEP_WORKERS = {"idle_worker_killing_time_threshold_ms": 600_000}
"""Ray ends a worker process idle for a second; each of ours keeps a fork server with torch
loaded (seconds to start again), so a run's own instance keeps idle workers ten minutes."""


def import_ray() -> Any:
    """The ``ray`` module, or a one-line :class:`UserError` with the install hint."""
    try:
        import ray
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return ray


def connect(ray: Any, address: str | None, local_cpus: int | None = None) -> None:
    """``ray.init`` for a run: join ``address``, or start a local instance (None)."""
    if ray.is_initialized():
        raise UserError("Ray is already initialised in this process; run squeezebench alone")
    options: dict[str, Any] = {
        "log_to_driver": False,  # jobs log to files; the terminal keeps the progress bar
        "include_dashboard": False,
        "logging_level": logging.ERROR,
    }
    try:
        if address is None:  # a private instance for this run
            with _loopback_only(ray):
                ray.init(
                    num_cpus=local_cpus,
                    resources={TIMING_RESOURCE: 1.0},
                    _system_config=KEEP_WORKERS,
                    **options,
                )
        else:
            ray.init(address=address, **options)
    except (ConnectionError, ValueError, RuntimeError) as error:
        where = address or "a local Ray instance"
        raise UserError(f"cannot start or join {where}: {error}") from None


@contextlib.contextmanager
def _loopback_only(ray: Any) -> Iterator[None]:
    """While a local instance starts, make it listen on 127.0.0.1 only (Ray's default is the
    machine's address): the variable for the processes Ray starts, the constant for this one,
    which read it when ``ray`` was imported. Both are restored after (a later run may join a
    real cluster). A Ray without the constant keeps its default."""
    before = os.environ.get(LOOPBACK_VARIABLE)
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    patch = constants is not None and hasattr(constants, "ENABLE_RAY_CLUSTER")
    enabled = constants.ENABLE_RAY_CLUSTER if patch else None
    os.environ[LOOPBACK_VARIABLE] = before if before is not None else "0"
    if patch:
        constants.ENABLE_RAY_CLUSTER = os.environ[LOOPBACK_VARIABLE] not in ("0", "false")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(LOOPBACK_VARIABLE, None)
        if patch:
            constants.ENABLE_RAY_CLUSTER = enabled
