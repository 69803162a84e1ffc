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
