"""Results: the versioned Parquet schema, the per-job store, readers and the summary table."""

from squeezebench.results.read import load, read_table
from squeezebench.results.schema import SCHEMA_VERSION, arrow_schema
from squeezebench.results.store import MANIFEST_NAME, RunStore

__all__ = ["MANIFEST_NAME", "SCHEMA_VERSION", "RunStore", "arrow_schema", "load", "read_table"]
