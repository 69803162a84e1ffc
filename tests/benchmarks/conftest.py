"""Markers of the asv suite's tests (registered here, where they are used)."""

from __future__ import annotations


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "asv: runs the asv benchmark suite end to end through asv (about 30 s); "
        "deselect with -m 'not asv'",
    )
