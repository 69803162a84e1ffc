"""Where squeezebench keeps files that outlive a run (the model cache)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR_ENV = "SQUEEZEBENCH_CACHE_DIR"


def cache_dir() -> Path:
    """``$SQUEEZEBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/squeezebench``, else ``~/.cache/...``."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "squeezebench"
