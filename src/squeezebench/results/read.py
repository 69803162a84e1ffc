"""Reading results back: a folder of runs, one run, or one file, as a pandas DataFrame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from squeezebench.errors import UserError
from squeezebench.results.schema import METADATA_KEY, SCHEMA_VERSION, arrow_schema


def read_table(path: str | Path) -> pa.Table:
    """Every result row under ``path`` (a file, a run folder or a folder of runs)."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    files = [f for f in files if not f.name.startswith((".", "_"))]
    if not files:
        raise UserError(f"no result files (*.parquet) under {path}")
    tables = []
    for file in files:
        table = pq.read_table(file)
        version = int((table.schema.metadata or {}).get(METADATA_KEY, b"0"))
        if version > SCHEMA_VERSION:
            raise UserError(
                f"{file} was written by a newer squeezebench (schema version {version}, this "
                f"one reads up to {SCHEMA_VERSION}); upgrade squeezebench to read it"
            )
        tables.append(table.select(arrow_schema().names).cast(arrow_schema()))
    return pa.concat_tables(tables)


def load(path: str | Path) -> Any:
    """Result rows under ``path`` as a pandas DataFrame (needs pandas)."""
    return read_table(path).to_pandas()
