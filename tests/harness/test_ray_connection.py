"""Starting or joining Ray for a run, against a stand-in for the ``ray`` module."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from squeezebench.errors import UserError
from squeezebench.harness.ray_connection import (
    KEEP_WORKERS,
    LOOPBACK_VARIABLE,
    connect,
)
from squeezebench.spec.models import TIMING_RESOURCE


class FakeRay:
    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[dict] = []
        self.fail = fail
        self.initialized = False
        self._private = SimpleNamespace(ray_constants=SimpleNamespace(ENABLE_RAY_CLUSTER=True))

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, **options) -> None:
        seen = self._private.ray_constants.ENABLE_RAY_CLUSTER, os.environ.get(LOOPBACK_VARIABLE)
        self.calls.append(options | {"while": seen})
        if self.fail:
            raise self.fail
        self.initialized = True


def test_a_runs_own_instance_times_here_keeps_its_workers_and_listens_on_loopback(
    monkeypatch,
) -> None:
    monkeypatch.delenv(LOOPBACK_VARIABLE, raising=False)
    ray = FakeRay()
    connect(ray, None)
    (call,) = ray.calls
    assert call["resources"] == {TIMING_RESOURCE: 1.0}
    assert call["_system_config"] == KEEP_WORKERS and call["log_to_driver"] is False
    assert call["while"] == (False, "0")  # loopback while Ray starts ...
    assert ray._private.ray_constants.ENABLE_RAY_CLUSTER is True  # ... and not after
    assert LOOPBACK_VARIABLE not in os.environ


def test_joining_a_cluster_passes_its_address_and_errors_are_one_line() -> None:
    ray = FakeRay()
    connect(ray, "ray://head:10001")
    assert ray.calls[0]["address"] == "ray://head:10001" and "resources" not in ray.calls[0]
    with pytest.raises(UserError, match="already initialised"):
        connect(ray, "auto")
    refused = FakeRay(fail=ConnectionError("Could not find any running Ray instance."))
    with pytest.raises(UserError) as caught:
        connect(refused, "auto")
    assert (
        str(caught.value) == "cannot start or join auto: Could not find any running Ray instance."
    )
