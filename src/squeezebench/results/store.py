"""Writing results: one atomic Parquet file per job, plus the run's manifest.

Every file is written whole or not at all (:func:`~squeezebench.results.storage.atomic_write`).
A job file that cannot be read back when a run resumes (damaged on disk, or not Parquet) is
never deleted: it is renamed ``<job_id>.parquet.corrupt-<time>``, which no reader picks up,
a warning names it, and its job runs again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from squeezebench.errors import first_line
from squeezebench.results.schema import SCHEMA_VERSION, arrow_schema, column_names
from squeezebench.results.storage import atomic_write

logger = logging.getLogger(__name__)

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
        atomic_write(path, lambda handle: pq.write_table(table, handle))
        return path

    def finished_jobs(self) -> dict[str, list[dict[str, Any]]]:
        """Rows already on disk, by job id (a job file exists only once a job finished).

        An unreadable job file, or stored outputs that cannot be opened, are set aside
        (renamed, with a warning) and their job is left out, so that it runs again.
        """
        finished: dict[str, list[dict[str, Any]]] = {}
        for path in sorted(self.directory.glob("*.parquet")):
            if path.name.startswith((".", "_")):
                continue
            try:
                rows = pq.read_table(path).to_pylist()
                job_id = rows[0]["job_id"] if rows else None
            except (OSError, pa.ArrowException, ValueError, KeyError) as error:
                self._set_aside(path, f"is not a readable result file ({_brief(error, path)})")
                continue
            outputs = self.directory / OUTPUTS_DIR / f"{job_id}.npy"
            problem = _unreadable_outputs(outputs) if job_id else None
            if problem:
                self._set_aside(outputs, f"cannot be read ({problem})")
                self._set_aside(path, "belongs to a job whose stored outputs are unreadable")
                continue
            if rows:
                finished[job_id] = rows
        return finished

    def _set_aside(self, path: Path, problem: str) -> Path:
        """Rename a damaged file out of the readers' way (measured data is never deleted)."""
        stamp = f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}"
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        number = 1
        while aside.exists():
            number += 1
            aside = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
        path.rename(aside)
        logger.warning(
            "warning: %s %s; moved it to %s, and its job runs again", path, problem, aside.name
        )
        return aside

    def write_outputs(self, job_id: str, outputs: Any) -> Path:
        """Keep a job's test-split outputs (numpy, ``.npy``), written atomically."""
        import numpy as np

        folder = self.directory / OUTPUTS_DIR
        path = folder / f"{job_id}.npy"

        atomic_write(path, lambda handle: np.save(handle, outputs, allow_pickle=False))
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
        path = folder / f"{job_id}.log"
        data = (text + "\n").encode("utf-8")
        atomic_write(path, lambda handle: handle.write(data))
        return f"{LOGS_DIR}/{path.name}"

    def read_manifest(self) -> dict[str, Any]:
        """The run's manifest, or an empty mapping."""
        path = self.directory / MANIFEST_NAME
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def write_manifest(self, manifest: dict[str, Any]) -> Path:
        """Write (or rewrite) the run manifest atomically."""
        path = self.directory / MANIFEST_NAME
        data = json.dumps(manifest, indent=2, sort_keys=True, default=str).encode("utf-8")
        atomic_write(path, lambda handle: handle.write(data))
        return path


def _brief(error: BaseException, path: Path | None = None) -> str:
    """``Type: message`` on one line, without a repetition of the file's own path."""
    message = first_line(str(error))
    if path is not None:  # pyarrow: "Could not open Parquet input source '<path>': <why>"
        message = message.rpartition(f"'{path}': ")[2]
    return f"{type(error).__name__}: {message}"


def _unreadable_outputs(path: Path) -> str | None:
    """Why a job's stored outputs cannot be opened, or None (also when there are none).

    Memory-mapping reads only the header and checks the file's length: cheap, and it
    catches a truncated or overwritten file.
    """
    import numpy as np

    if not path.is_file():
        return None
    try:
        np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        return _brief(error)
    return None


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
