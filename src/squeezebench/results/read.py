"""Reading results back: a folder of runs, one run, or one file, as a pandas DataFrame.

Every file is upgraded to the current schema as it is read (:mod:`squeezebench.results.migrate`):
older versions go through the registered migration steps, missing nullable columns are padded
with nulls, and a file written by a newer squeezebench is refused with a message saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from squeezebench.errors import UserError
from squeezebench.results.migrate import file_version, upgrade


def result_files(path: str | Path) -> list[Path]:
    """The result files under ``path`` (itself if a file), sorted; skips ``.`` and ``_`` files."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"results not found: {path}")
    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    return [f for f in files if not f.name.startswith((".", "_"))]


def read_table(path: str | Path) -> pa.Table:
    """Every result row under ``path`` (a file, a run folder or a folder of runs)."""
    files = result_files(path)
    if not files:
        raise UserError(f"no result files (*.parquet) under {path}")
    tables = []
    for file in files:
        try:
            table = pq.read_table(file)
        except (OSError, pa.ArrowInvalid) as error:
            raise UserError(f"{file} is not a readable Parquet file: {error}") from None
        tables.append(upgrade(table, file_version(table), source=str(file)))
    return pa.concat_tables(tables)


PANDAS_HINT = "pip install 'squeezebench[pandas]'"


def load(path: str | Path) -> Any:
    """Result rows under ``path`` as a pandas DataFrame (needs the ``pandas`` extra).

    Without pandas, :func:`read_table` gives the same rows as a ``pyarrow.Table``.
    """
    try:
        import pandas  # noqa: F401  (pyarrow's to_pandas needs it)
    except ImportError:
        raise ImportError(
            "squeezebench.results.load returns a pandas DataFrame, and pandas is not "
            f"installed: {PANDAS_HINT} (or use squeezebench.results.read_table for a "
            "pyarrow.Table)"
        ) from None
    return read_table(path).to_pandas()
