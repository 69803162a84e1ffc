"""Compressed artifacts that travel between nodes through Ray's object store.

A task that compresses or converts a variant returns the artifact-cache files it added as a
second object (see :func:`~squeezebench.harness.ray_node.run_on_node`). Its reference is
kept here, per variant and seed, and handed to every later task of that variant: Ray starts
such a task only once those objects exist and copies them to its node, so a variant is
compressed once for the whole cluster, by the first of its tasks. The driver never holds the
bytes.
"""

from __future__ import annotations

import threading
from typing import Any

VariantKey = tuple[str, int]  # (variant name, seed)


class ArtifactBundles:
    """Object references of artifact bundles, per variant and seed."""

    def __init__(self, ray: Any) -> None:
        self._ray = ray
        self._refs: dict[VariantKey, list[Any]] = {}
        self._lock = threading.Lock()

    def of(self, key: VariantKey) -> list[Any]:
        """The bundles a new task of ``key`` gets (some may still be being produced)."""
        with self._lock:
            return list(self._refs.get(key, []))

    def add(self, key: VariantKey, ref: Any) -> None:
        """A task of ``key`` that may add artifacts was started; later tasks wait for it."""
        with self._lock:
            self._refs.setdefault(key, []).append(ref)

    def forget(self, key: VariantKey, ref: Any) -> None:
        """Its task failed or added nothing: later tasks need not wait for it."""
        with self._lock:
            refs = self._refs.get(key, [])
            if ref in refs:
                refs.remove(ref)

    def drop_lost(self, live_nodes: set[str]) -> int:
        """Forget finished bundles no live node holds any more (their node died); returns
        how many. A task given one would fail; without it, it compresses again."""
        with self._lock:
            refs = [ref for refs in self._refs.values() for ref in refs]
        if not refs:
            return 0
        ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
        if not ready:
            return 0
        try:
            locations = self._ray.experimental.get_object_locations(ready)
        except Exception:  # cannot tell: forget them all, recompressing is only slower
            locations = {}
        lost = [
            ref
            for ref in ready
            if not set((locations.get(ref) or {}).get("node_ids") or []) & live_nodes
        ]
        with self._lock:
            for refs in self._refs.values():
                refs[:] = [ref for ref in refs if ref not in lost]
        return len(lost)
