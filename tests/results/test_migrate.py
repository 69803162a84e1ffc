"""Schema migrations: older files upgraded step by step on read, missing columns padded."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from squeezebench.errors import UserError
from squeezebench.results import RunStore, load, migrate, read_table, schema
from squeezebench.results.migrate import (
    FIRST_VERSION,
    MigrationError,
    add_columns,
    file_version,
    register_step,
    upgrade,
)


def _row(**values):
    return {
        "run_id": "r",
        "job_id": "j",
        "variant": "int8",
        "batch_size": 1,
        "status": "ok",
    } | values


@pytest.fixture
def future_schema(monkeypatch):
    """This squeezebench pretends to be two schema versions ahead, with a step per version.

    Version V+1 adds ``energy_joules``, V+2 adds ``accelerator`` (V is the real current
    version); each step records that it ran and checks that it sees the previous shape.
    """
    calls: list[int] = []
    current = schema.SCHEMA_VERSION

    def to_v2(table: pa.Table) -> pa.Table:
        assert "energy_joules" not in table.column_names  # a version-1 table
        calls.append(1)
        return add_columns(table, {"energy_joules": pa.float64()})

    def to_v3(table: pa.Table) -> pa.Table:
        assert "energy_joules" in table.column_names  # the 1 -> 2 step ran first (or v2 file)
        calls.append(2)
        return add_columns(table, {"accelerator": pa.string()})

    columns = [
        *schema._COLUMNS,
        ("energy_joules", pa.float64(), "energy of one batch, J"),
        ("accelerator", pa.string(), "accelerator model"),
    ]
    monkeypatch.setattr(schema, "_COLUMNS", columns)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 2)
    monkeypatch.setattr(migrate, "_STEPS", migrate.registered_steps())
    register_step(current, to_v2)
    register_step(current + 1, to_v3)
    return calls


def _write_version_1(tmp_path):
    """A file as squeezebench writes it today (before the fixture moves two versions on)."""
    return RunStore(tmp_path, "old-run").write_job(
        "job", [_row(accuracy=0.9, batch_size=b) for b in (1, 4)]
    )


def test_version_1_file_goes_through_every_step(tmp_path, request) -> None:
    path = _write_version_1(tmp_path)
    calls = request.getfixturevalue("future_schema")
    table = read_table(path)
    assert calls == [1, 2]  # 1 -> 2, then 2 -> 3, in order
    assert table.schema.equals(schema.arrow_schema(), check_metadata=False)
    assert table.column_names[-2:] == ["energy_joules", "accelerator"]
    assert table.column("energy_joules").to_pylist() == [None, None]
    assert table.column("accelerator").to_pylist() == [None, None]
    assert table.column("accuracy").to_pylist() == [0.9, 0.9]  # old values kept
    assert table.column("schema_version").to_pylist() == [schema.SCHEMA_VERSION] * 2


def test_real_version_1_file_gains_the_version_2_columns(tmp_path) -> None:
    v1_names = [n for n in schema.column_names() if n not in ("artifact_format", "conversions")]
    v1 = pa.schema([schema.arrow_schema().field(n) for n in v1_names[:20]])
    v1 = v1.with_metadata({schema.METADATA_KEY: b"1"})
    rows = [{**_row(), "schema_version": 1}]
    pq.write_table(pa.Table.from_pylist(rows, schema=v1), tmp_path / "v1.parquet")
    row = read_table(tmp_path / "v1.parquet").to_pylist()[0]
    assert row["artifact_format"] is None and row["prepare_seconds"] is None
    assert row["variant"] == "int8" and row["schema_version"] == schema.SCHEMA_VERSION


def test_version_2_file_only_takes_the_last_step(tmp_path, future_schema) -> None:
    version_2 = schema.arrow_schema().remove(schema.arrow_schema().get_field_index("accelerator"))
    next_version = schema.SCHEMA_VERSION - 1
    version_2 = version_2.with_metadata({schema.METADATA_KEY: str(next_version).encode()})
    rows = [{**_row(), "schema_version": next_version, "energy_joules": 1.5}]
    pq.write_table(pa.Table.from_pylist(rows, schema=version_2), tmp_path / "v2.parquet")
    table = read_table(tmp_path / "v2.parquet")
    assert future_schema == [2]  # only the last step
    assert table.column("energy_joules").to_pylist() == [1.5]
    assert table.column("accelerator").to_pylist() == [None]


def test_a_folder_mixing_versions_reads_as_one_table(tmp_path, request) -> None:
    _write_version_1(tmp_path)
    request.getfixturevalue("future_schema")
    RunStore(tmp_path, "new-run").write_job("job", [_row(run_id="new", energy_joules=2.0)])
    frame = load(tmp_path)
    assert sorted(frame["run_id"]) == ["new", "r", "r"]
    assert set(frame["schema_version"]) == {schema.SCHEMA_VERSION}
    assert frame.set_index("run_id").loc["new", "energy_joules"] == 2.0


def test_file_newer_than_the_code_is_refused(tmp_path) -> None:
    newer = schema.arrow_schema().with_metadata({schema.METADATA_KEY: b"7"})
    pq.write_table(pa.Table.from_pylist([_row()], schema=newer), tmp_path / "new.parquet")
    with pytest.raises(
        UserError, match=r"newer squeezebench \(schema version 7, this one reads up to 3\)"
    ):
        read_table(tmp_path)


def test_older_file_missing_columns_reads_with_nulls(tmp_path) -> None:
    """A file with only some columns (and no version metadata) pads the others with nulls."""
    table = pa.table(
        {
            "run_id": ["r"],
            "job_id": ["j"],
            "variant": ["int8"],
            "batch_size": pa.array([1], pa.int64()),  # another integer width: cast on read
            "status": ["ok"],
            "latency_p50_ms": [0.5],
            "not_a_column_any_more": ["dropped"],
        }
    )
    pq.write_table(table, tmp_path / "old.parquet")
    read = read_table(tmp_path)
    assert read.schema.equals(schema.arrow_schema(), check_metadata=False)
    row = read.to_pylist()[0]
    assert row["latency_p50_ms"] == 0.5 and row["batch_size"] == 1
    assert row["encoded_bytes"] is None and row["latency_samples_ms"] is None
    assert row["schema_version"] == schema.SCHEMA_VERSION
    assert "not_a_column_any_more" not in read.column_names


def test_version_comes_from_metadata_then_column_then_first(tmp_path) -> None:
    plain = pa.table({"run_id": ["r"]})
    assert file_version(plain) == FIRST_VERSION
    assert file_version(pa.table({"schema_version": pa.array([1, 2], pa.int32())})) == 2
    tagged = plain.replace_schema_metadata({schema.METADATA_KEY: b"1"})
    assert file_version(tagged) == 1


def test_a_missing_or_column_dropping_step_is_a_bug(monkeypatch) -> None:
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(migrate, "_STEPS", {})
    table = pa.table({"run_id": ["r"], "variant": ["v"]})
    with pytest.raises(MigrationError, match="no migration from schema version 1 to 2"):
        upgrade(table, 1)
    register_step(1, lambda t: t.drop_columns(["variant"]))
    with pytest.raises(MigrationError, match=r"dropped columns \['variant'\]"):
        upgrade(table, 1)
    with pytest.raises(MigrationError, match="is registered"):
        register_step(1, lambda t: t)


def test_unreadable_column_type_is_a_user_error(tmp_path) -> None:
    pq.write_table(pa.table({"batch_size": ["one"]}), tmp_path / "bad.parquet")
    with pytest.raises(UserError, match="column 'batch_size' cannot be read as int32"):
        read_table(tmp_path)


def test_the_current_version_has_no_pending_step() -> None:
    steps = migrate.registered_steps()
    assert all(FIRST_VERSION <= v < schema.SCHEMA_VERSION for v in steps)
    assert sorted(steps) == list(range(FIRST_VERSION, schema.SCHEMA_VERSION))


def test_real_version_2_file_gains_the_round_condition_and_energy_columns(tmp_path) -> None:
    added = {"rounds", "contended", "drifted", "energy_source", "hostname", "runtime_notes"}
    v2 = pa.schema([f for f in schema.arrow_schema() if f.name not in added])
    v2 = v2.with_metadata({schema.METADATA_KEY: b"2"})
    rows = [{**_row(), "schema_version": 2}]
    pq.write_table(pa.Table.from_pylist(rows, schema=v2), tmp_path / "v2.parquet")
    row = read_table(tmp_path / "v2.parquet").to_pylist()[0]
    assert row["rounds"] is None and row["contended"] is None and row["hostname"] is None
    assert row["variant"] == "int8" and row["schema_version"] == schema.SCHEMA_VERSION
