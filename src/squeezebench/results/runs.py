"""Choosing runs: a results path may be one file, one run folder or a folder of runs.

``select_runs(path)`` resolves what ``squeezebench report`` and ``squeezebench compare`` read:

- a Parquet file: that file;
- a run folder (it holds ``*.parquet`` files or ``_manifest.json`` itself): that run;
- a folder of runs (sub-folders holding result files): the latest run, by the manifest's
  ``started_at`` (run ids sort by time too), unless runs are named (``runs=``) or every run
  is asked for (``all_runs=True``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from squeezebench.errors import UserError
from squeezebench.results.read import read_table, result_files
from squeezebench.results.store import MANIFEST_NAME
from squeezebench.suggest import unknown_name_message


@dataclass
class RunSelection:
    """The result paths chosen under ``root``, and their manifests (when they have one)."""

    root: Path
    paths: list[Path]
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    available: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The run ids (folder names) chosen."""
        return [p.stem if p.is_file() else p.name for p in self.paths]

    def read(self) -> pa.Table:
        """Every row of the chosen runs, in the current schema."""
        return pa.concat_tables([read_table(path) for path in self.paths])

    def rows(self) -> list[dict[str, Any]]:
        """Every row of the chosen runs as dictionaries."""
        return self.read().to_pylist()


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The run's ``_manifest.json``, or ``{}`` when it has none or it cannot be parsed."""
    path = run_dir / MANIFEST_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _is_run_folder(path: Path) -> bool:
    if (path / MANIFEST_NAME).is_file():
        return True
    return any(
        child.suffix == ".parquet" and not child.name.startswith((".", "_"))
        for child in path.iterdir()
    )


def select_runs(path: str | Path, runs: Sequence[str] = (), all_runs: bool = False) -> RunSelection:
    """Resolve ``path`` to the run folders (or file) to read; see the module docstring."""
    root = Path(path)
    if not root.exists():
        raise UserError(f"results not found: {root}")
    if root.is_file():
        if root.suffix != ".parquet":
            raise UserError(f"{root} is not a result file (*.parquet) nor a results folder")
        return RunSelection(root, [root], {}, [root.stem])
    if _is_run_folder(root):
        if runs and list(runs) != [root.name]:
            raise UserError(
                f"{root} is a single run ({root.name}); --run picks a run in a folder of runs"
            )
        return RunSelection(root, [root], {root.name: read_manifest(root)}, [root.name])
    candidates = sorted(
        child
        for child in root.iterdir()
        if child.is_dir() and not child.name.startswith((".", "_")) and result_files(child)
    )
    if not candidates:
        raise UserError(f"no result files (*.parquet) under {root}")
    manifests = {child.name: read_manifest(child) for child in candidates}
    by_name = {child.name: child for child in candidates}
    available = sorted(by_name, key=lambda name: (manifests[name].get("started_at") or "", name))
    if runs:
        unknown = [name for name in runs if name not in by_name]
        if unknown:
            raise UserError(unknown_name_message(f"run in {root}:", unknown[0], available))
        chosen = list(dict.fromkeys(runs))
    elif all_runs:
        chosen = available
    else:
        chosen = available[-1:]
    return RunSelection(
        root, [by_name[name] for name in chosen], {n: manifests[n] for n in chosen}, available
    )
