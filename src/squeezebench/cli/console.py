"""The rich consoles of the CLI (stdout for results, stderr for errors), and its warnings."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from typing import Any

from rich.console import Console

from squeezebench.errors import PluginWarning

# Wide enough for the summary table of a few batch sizes; used when stdout is no terminal
# (a CI log, a file) and COLUMNS does not say, instead of rich's 80 columns, which squash it.
PIPED_WIDTH = 220


@functools.cache
def console() -> Console:
    """Console on stdout (220 columns when piped, unless COLUMNS is set)."""
    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(width=PIPED_WIDTH if piped else None)


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
