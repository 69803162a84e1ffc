"""How a conformance check fails or steps aside."""

from __future__ import annotations

from typing import NoReturn


class ConformanceFailure(AssertionError):
    """A plugin breaks its contract; the message says which rule and how."""


def fail(plugin: str, message: str) -> NoReturn:
    """Raise :class:`ConformanceFailure` for ``plugin``."""
    raise ConformanceFailure(f"{plugin}: {message}")


def skip(reason: str) -> NoReturn:
    """Skip the running check (pytest's skip, imported only when a check runs)."""
    import pytest

    pytest.skip(reason)
