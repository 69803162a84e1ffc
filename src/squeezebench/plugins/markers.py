"""The marker pair of squeezebench's hooks: ``hookspec`` for the host, ``hookimpl`` for plugins."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "squeezebench"
"""The pluggy project name; it is also the entry-point group third-party plugins use."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
