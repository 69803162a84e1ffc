"""Schema migrations: result files of older versions are upgraded step by step when read.

Like asv's result files, every Parquet file carries the version of the schema it was written
with (``squeezebench.schema_version`` in the file metadata, and the ``schema_version``
column). When the schema changes, :data:`squeezebench.results.schema.SCHEMA_VERSION` goes up
by one and a *step* is registered here that turns a table of the previous version into one of
the new version::

    @migration(from_version=1)
    def _add_energy(table: pa.Table) -> pa.Table:   # version 1 -> 2
        return add_columns(table, {"energy_joules": pa.float64()})

Reading a version-1 file with a version-3 squeezebench applies the 1->2 step, then the 2->3
step, then conforms the table to the current schema: columns in schema order, current types,
and any column the file still lacks padded with nulls (so a file missing a nullable column,
whatever its version, reads fine). Steps may only *add* columns; the migration checks that no
step drops one. A file written by a newer squeezebench than this one is refused with a
message saying so, never misread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyarrow as pa

from squeezebench.errors import UserError
from squeezebench.results import schema

Step = Callable[[pa.Table], pa.Table]
"""A migration step: a table of version ``n`` in, a table of version ``n + 1`` out."""

FIRST_VERSION = 1
"""The first schema version; files without any version information are read as this one."""

_STEPS: dict[int, Step] = {}
"""Registered steps, by the version they migrate *from*."""


class MigrationError(Exception):
    """The migration registry is inconsistent (a bug in squeezebench, not in the input)."""


def register_step(from_version: int, step: Step) -> None:
    """Register ``step`` as the migration from ``from_version`` to ``from_version + 1``."""
    if from_version < FIRST_VERSION:
        raise MigrationError(f"schema versions start at {FIRST_VERSION}, got {from_version}")
    if from_version in _STEPS:
        raise MigrationError(f"a migration from schema version {from_version} is registered")
    _STEPS[from_version] = step


def migration(from_version: int) -> Callable[[Step], Step]:
    """Decorator form of :func:`register_step`."""

    def decorate(step: Step) -> Step:
        register_step(from_version, step)
        return step

    return decorate


def registered_steps() -> dict[int, Step]:
    """A copy of the registry (from-version to step)."""
    return dict(_STEPS)


def add_columns(table: pa.Table, columns: Mapping[str, pa.DataType]) -> pa.Table:
    """``table`` with each new column appended, all null (the building block of steps)."""
    for name, kind in columns.items():
        if name not in table.column_names:
            table = table.append_column(
                pa.field(name, kind, nullable=True), pa.nulls(len(table), kind)
            )
    return table


def file_version(table: pa.Table) -> int:
    """The schema version a table was written with.

    The file metadata if present, else the ``schema_version`` column, else
    :data:`FIRST_VERSION` (files from before the version was recorded).
    """
    metadata = table.schema.metadata or {}
    if schema.METADATA_KEY in metadata:
        return int(metadata[schema.METADATA_KEY])
    if "schema_version" in table.column_names:
        values = [v for v in table.column("schema_version").to_pylist() if v is not None]
        if values:
            return int(max(values))
    return FIRST_VERSION


def upgrade(table: pa.Table, version: int | None = None, source: str = "results") -> pa.Table:
    """Migrate ``table`` (of ``version``, read from it when None) to the current schema.

    Raises :class:`UserError` when the table is newer than this squeezebench or cannot be
    read as the current schema, and :class:`MigrationError` when a step is missing or
    removes a column.
    """
    current = schema.SCHEMA_VERSION
    version = file_version(table) if version is None else version
    if version > current:
        raise UserError(
            f"{source} was written by a newer squeezebench (schema version {version}, this "
            f"one reads up to {current}); upgrade squeezebench to read it"
        )
    for step_from in range(max(version, FIRST_VERSION), current):
        step = _STEPS.get(step_from)
        if step is None:
            raise MigrationError(
                f"no migration from schema version {step_from} to {step_from + 1} is registered"
            )
        before = set(table.column_names)
        table = step(table)
        dropped = before - set(table.column_names)
        if dropped:
            raise MigrationError(
                f"the migration from schema version {step_from} dropped columns "
                f"{sorted(dropped)}; migrations may only add nullable columns"
            )
    return conform(table, source)


def conform(table: pa.Table, source: str = "results") -> pa.Table:
    """``table`` in the current schema: its order and types, missing columns all null.

    Columns the current schema does not know are dropped; ``schema_version`` is set to the
    current version (the rows now have its shape).
    """
    target = schema.arrow_schema()
    arrays = []
    for field in target:
        if field.name == "schema_version":
            arrays.append(pa.array([schema.SCHEMA_VERSION] * len(table), field.type))
        elif field.name in table.column_names:
            try:
                arrays.append(table.column(field.name).cast(field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise UserError(
                    f"{source}: column {field.name!r} cannot be read as {field.type}: {error}"
                ) from None
        else:
            arrays.append(pa.nulls(len(table), field.type))
    return pa.Table.from_arrays(arrays, schema=target)


@migration(from_version=1)
def _add_conversion_and_embedding_columns(table: pa.Table) -> pa.Table:
    """Version 1 -> 2: target formats and conversions, preparation time, embedding quality."""
    return add_columns(
        table,
        {
            "embedding_cosine": pa.float64(),
            "retrieval_agreement": pa.float64(),
            "artifact_format": pa.string(),
            "conversions": pa.string(),
            "convert_seconds": pa.float64(),
            "prepare_seconds": pa.float64(),
        },
    )


@migration(from_version=2)
def _add_round_condition_energy_and_host_columns(table: pa.Table) -> pa.Table:
    """Version 2 -> 3: timing rounds, measurement conditions, energy, host provenance,
    search trials."""
    current = {field.name: field.type for field in schema.arrow_schema()}
    added = [
        "rounds",
        "latency_round_p50_ms",
        "latency_round_repeats",
        "latency_p50_low_ms",
        "latency_p50_high_ms",
        "contended",
        "other_cpu_cores",
        "steal_cores",
        "cpu_cores_available",
        "contention_retries",
        "gpu_other_processes",
        "gpu_throttle",
        "drift",
        "drifted",
        "conditions",
        "energy_source",
        "energy_reason",
        "energy_j_per_batch",
        "energy_j_per_sample",
        "runtime_notes",
        "hostname",
        "cpu_model",
        "gpu_name",
        "search_id",
        "trial",
        "trial_params",
        "trial_feasible",
    ]
    return add_columns(table, {name: current[name] for name in added})
