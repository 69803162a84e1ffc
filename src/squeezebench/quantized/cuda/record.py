"""The per-process record of dispatch choices, so that results stay explainable.

Every CUDA forward of a packed layer records which path its key took (a dict store, cheap
enough per call). ``drain_notes()`` returns one line per key used since the previous call
(what the torch backend's ``Runner.notes()`` hands to the harness, stored per batch size in
the ``runtime_notes`` result column); ``choices()`` returns every key used in this process
(for benchmarks). No torch import: the backend asks only if this module was imported.
"""

from __future__ import annotations

_pending: dict[str, str] = {}
_seen: dict[str, str] = {}


def record_use(key_text: str, note: str) -> None:
    """Note that the key ``key_text`` ran the path described by ``note``."""
    _pending[key_text] = note
    _seen[key_text] = note


def drain_notes() -> list[str]:
    """The notes of the keys used since the last call, in first-use order; then forget them."""
    notes = list(_pending.values())
    _pending.clear()
    return notes


def choices() -> dict[str, str]:
    """Every key used in this process and its latest note."""
    return dict(_seen)


def clear() -> None:
    """Forget everything (tests)."""
    _pending.clear()
    _seen.clear()
