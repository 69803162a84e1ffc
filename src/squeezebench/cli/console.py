"""The rich consoles of the CLI (stdout for results, stderr for errors), and its warnings."""

from __future__ import annotations

import functools
import warnings
from typing import Any

from rich.console import Console

from squeezebench.errors import PluginWarning


@functools.cache
def console() -> Console:
    """Console on stdout."""
    return Console()


@functools.cache
def error_console() -> Console:
    """Console on stderr."""
    return Console(stderr=True)


def show_plugin_warnings_plainly() -> None:
    """Print :class:`PluginWarning` as ``warning: <message>`` on stderr (no source line)."""
    original = warnings.showwarning

    def show(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        if issubclass(category, PluginWarning):
            error_console().print(
                f"warning: {message}", style="yellow", highlight=False, markup=False, soft_wrap=True
            )
        else:
            original(message, category, *args, **kwargs)

    warnings.showwarning = show
