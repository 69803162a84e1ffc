"""The rich consoles of the CLI (stdout for results, stderr for errors)."""

from __future__ import annotations

import functools

from rich.console import Console


@functools.cache
def console() -> Console:
    """Console on stdout."""
    return Console()


@functools.cache
def error_console() -> Console:
    """Console on stderr."""
    return Console(stderr=True)
