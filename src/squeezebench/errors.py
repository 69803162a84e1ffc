"""The exceptions squeezebench raises on purpose.

``UserError`` and its subclasses describe a mistake the user can fix (a bad spec, a missing
file, an unknown plugin name). The CLI prints them without a traceback; anything else that
escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class SqueezebenchError(Exception):
    """Base class of every exception squeezebench raises on purpose."""


class UserError(SqueezebenchError):
    """A mistake in the user's input, reported as a plain message (no traceback)."""


class PluginError(UserError):
    """A plugin is broken or conflicts with another one (for example a duplicate name)."""


class MethodError(SqueezebenchError):
    """A compression method cannot be applied to this artifact; the job is recorded as an error."""


class BackendUnavailable(SqueezebenchError):
    """A backend cannot run a target on this machine; the job is recorded as skipped."""


class ConversionError(SqueezebenchError):
    """An artifact cannot be converted to the format a target runs (the job is skipped)."""


class PluginWarning(UserWarning):
    """A plugin looks wrong but squeezebench can go on (a hook function without @hookimpl)."""


def first_line(text: str, limit: int | None = None) -> str:
    """The first non-empty line of ``text``, stripped; cut with ``…`` past ``limit`` characters.

    Tables, reasons and one-line messages never show a traceback or a multi-line message.
    """
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    if limit is None or len(line) <= limit:
        return line
    return line[: limit - 1].rstrip() + "…"


def error_line(error: BaseException, limit: int | None = None) -> str:
    """``Type: first line of the message`` (only the type when the message is empty)."""
    message = first_line(str(error), limit)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
