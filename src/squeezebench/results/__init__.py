"""Results: the versioned Parquet schema, the per-job store, readers and the summary table.

The names below are imported on first use, so that a job worker importing a light module
of this package (``columns``, ``status``) does not pay for pyarrow.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from squeezebench.results.read import load, read_table
    from squeezebench.results.schema import SCHEMA_VERSION, arrow_schema
    from squeezebench.results.store import MANIFEST_NAME, RunStore

_WHERE = {
    "MANIFEST_NAME": "squeezebench.results.store",
    "RunStore": "squeezebench.results.store",
    "SCHEMA_VERSION": "squeezebench.results.schema",
    "arrow_schema": "squeezebench.results.schema",
    "load": "squeezebench.results.read",
    "read_table": "squeezebench.results.read",
}

__all__ = ["MANIFEST_NAME", "SCHEMA_VERSION", "RunStore", "arrow_schema", "load", "read_table"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
