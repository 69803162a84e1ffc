"""Writing results: one atomic Parquet file per job, plus the run's manifest."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from squeezebench.results.schema import SCHEMA_VERSION, arrow_schema, column_names

MANIFEST_NAME = "_manifest.json"  # leading underscore: Parquet readers skip it


class RunStore:
    """The folder of one run: ``<output>/<run_id>/<job_id>.parquet`` and ``_manifest.json``."""

    def __init__(self, output_dir: Path, run_id: str) -> None:
        self.directory = Path(output_dir) / run_id
        self.directory.mkdir(parents=True, exist_ok=True)

    def write_job(self, job_id: str, rows: Sequence[dict[str, Any]]) -> Path:
        """Write a job's rows atomically (temporary file, then rename)."""
        names = column_names()
        unknown = set().union(*(row.keys() for row in rows)) - set(names) if rows else set()
        if unknown:
            raise ValueError(f"result rows have columns missing from the schema: {unknown}")
        table = pa.Table.from_pylist(
            [
                {name: row.get(name) for name in names} | {"schema_version": SCHEMA_VERSION}
                for row in rows
            ],
            schema=arrow_schema(),
        )
        path = self.directory / f"{job_id}.parquet"
        _atomic(path, lambda temporary: pq.write_table(table, temporary))
        return path

    def write_manifest(self, manifest: dict[str, Any]) -> Path:
        """Write (or rewrite) the run manifest atomically."""
        path = self.directory / MANIFEST_NAME
        text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
        _atomic(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))
        return path


def _atomic(path: Path, write: Any) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(str(temporary))
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
