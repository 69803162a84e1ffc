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
OUTPUTS_DIR = "_outputs"  # test-split outputs per job, for fidelity after a resume
LOGS_DIR = "_logs"  # the traceback (or a dead worker's output) of each failed job


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

    def finished_jobs(self) -> dict[str, list[dict[str, Any]]]:
        """Rows already on disk, by job id (a job file exists only once a job finished)."""
        finished: dict[str, list[dict[str, Any]]] = {}
        for path in sorted(self.directory.glob("*.parquet")):
            if path.name.startswith((".", "_")):
                continue
            rows = pq.read_table(path).to_pylist()
            if rows:
                finished[rows[0]["job_id"]] = rows
        return finished

    def write_outputs(self, job_id: str, outputs: Any) -> Path:
        """Keep a job's test-split outputs (numpy, ``.npy``), written atomically."""
        import numpy as np

        folder = self.directory / OUTPUTS_DIR
        folder.mkdir(exist_ok=True)
        path = folder / f"{job_id}.npy"

        def save(temporary: str) -> None:
            with open(temporary, "wb") as handle:
                np.save(handle, outputs, allow_pickle=False)

        _atomic(path, save)
        return path

    def read_outputs(self, job_id: str) -> Any:
        """A job's stored test outputs, or None."""
        import numpy as np

        path = self.directory / OUTPUTS_DIR / f"{job_id}.npy"
        return np.load(path, allow_pickle=False) if path.is_file() else None

    def write_log(self, job_id: str, text: str) -> str:
        """Keep a failed job's traceback in ``_logs/<job_id>.log``; its path in the run folder.

        The result row's reason stays one line and says where this file is, so tables and
        terminals never show a traceback, and nothing of it is lost.
        """
        folder = self.directory / LOGS_DIR
        folder.mkdir(exist_ok=True)
        path = folder / f"{job_id}.log"
        _atomic(path, lambda temporary: Path(temporary).write_text(text + "\n", "utf-8"))
        return f"{LOGS_DIR}/{path.name}"

    def read_manifest(self) -> dict[str, Any]:
        """The run's manifest, or an empty mapping."""
        path = self.directory / MANIFEST_NAME
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

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


def find_resumable_run(output_dir: Path, spec_hash: str) -> Path | None:
    """The latest run folder under ``output_dir`` whose manifest has ``spec_hash``."""
    candidates = []
    for manifest_path in Path(output_dir).glob(f"*/{MANIFEST_NAME}"):
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if manifest.get("spec_hash") == spec_hash:
            candidates.append(manifest_path.parent)
    return max(candidates, key=lambda p: p.name) if candidates else None
