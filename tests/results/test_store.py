from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from squeezebench.errors import UserError
from squeezebench.results import SCHEMA_VERSION, RunStore, arrow_schema, load, read_table
from squeezebench.results.schema import METADATA_KEY


def _row(**values):
    return {
        "run_id": "r",
        "job_id": "j",
        "variant": "baseline",
        "batch_size": 1,
        "status": "ok",
        **values,
    }


def test_rows_carry_the_schema_version_in_column_and_metadata(tmp_path) -> None:
    store = RunStore(tmp_path, "run-1")
    path = store.write_job("job-1", [_row(latency_samples_ms=[1.0, 2.0])])
    table = pq.read_table(path)
    assert table.schema.metadata[METADATA_KEY] == str(SCHEMA_VERSION).encode()
    assert table.column("schema_version").to_pylist() == [SCHEMA_VERSION]
    assert table.schema.equals(arrow_schema(), check_metadata=False)
    assert table.column("latency_samples_ms").to_pylist() == [[1.0, 2.0]]


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path) -> None:
    store = RunStore(tmp_path, "run-1")
    store.write_job("job-1", [_row()])
    store.write_job("job-1", [_row(accuracy=0.5)])  # rewriting replaces the file whole
    store.write_manifest({"status": "complete"})
    assert sorted(p.name for p in store.directory.iterdir()) == ["_manifest.json", "job-1.parquet"]
    assert load(store.directory)["accuracy"].tolist() == [0.5]


def test_unknown_column_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="missing from the schema"):
        RunStore(tmp_path, "run").write_job("job", [_row(not_a_column=1)])


def test_reader_gathers_runs_and_refuses_newer_files(tmp_path) -> None:
    RunStore(tmp_path, "run-1").write_job("a", [_row(run_id="run-1")])
    RunStore(tmp_path, "run-2").write_job("b", [_row(run_id="run-2")])
    assert sorted(read_table(tmp_path).column("run_id").to_pylist()) == ["run-1", "run-2"]
    newer = arrow_schema().with_metadata({METADATA_KEY: str(SCHEMA_VERSION + 1).encode()})
    table = read_table(tmp_path / "run-1").cast(newer)
    pq.write_table(table, tmp_path / "run-1" / "future.parquet")
    with pytest.raises(UserError, match="newer squeezebench"):
        read_table(tmp_path)


def test_empty_folder_is_a_user_error(tmp_path) -> None:
    with pytest.raises(UserError, match="no result files"):
        read_table(tmp_path)


def test_readme_queries_work(tmp_path) -> None:
    """The pandas and DuckDB snippets in the README, on a real folder of results."""
    duckdb = pytest.importorskip("duckdb")
    RunStore(tmp_path, "run-1").write_job(
        "a", [_row(variant="int8", latency_p50_ms=2.0, artifact_bytes=10, accuracy=0.9)]
    )
    frame = load(tmp_path)
    assert frame.loc[0, "variant"] == "int8"
    query = f"""
        SELECT variant, target, batch_size, artifact_bytes, accuracy, latency_p50_ms
        FROM read_parquet('{tmp_path}/*/*.parquet')
        WHERE status = 'ok' ORDER BY latency_p50_ms
    """
    assert duckdb.sql(query).fetchall()[0][0] == "int8"


def test_write_log_keeps_a_traceback_beside_the_results(tmp_path) -> None:
    store = RunStore(tmp_path, "run-1")
    where = store.write_log("job-1", "Traceback (most recent call last):\n  ...\nValueError: x")
    assert where == "_logs/job-1.log"
    text = (store.directory / where).read_text(encoding="utf-8")
    assert text.startswith("Traceback") and text.endswith("ValueError: x\n")
    assert store.finished_jobs() == {}  # a log is not a job result


def test_load_without_pandas_names_the_extra(tmp_path, monkeypatch) -> None:
    # issue 12, bug 9: the README's snippet needed pandas, which no extra installed
    import sys

    RunStore(tmp_path, "run-1").write_job("j", [_row()])
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(ImportError, match=r"pip install 'squeezebench\[pandas\]'"):
        load(tmp_path)
    assert read_table(tmp_path).num_rows == 1  # the pyarrow reader still works


def test_the_pandas_extra_is_declared() -> None:
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text("utf-8"))["project"]["optional-dependencies"]
    assert any(requirement.startswith("pandas") for requirement in extras["pandas"])


def _finished_run(tmp_path):
    import numpy as np

    store = RunStore(tmp_path, "run-1")
    store.write_job("a", [_row(job_id="a")])
    store.write_outputs("a", np.zeros((3, 2), dtype=np.float32))
    store.write_job("b", [_row(job_id="b", variant="int8")])
    return store


def test_an_unreadable_job_file_is_set_aside_and_its_job_left_to_run_again(
    tmp_path, caplog
) -> None:
    store = _finished_run(tmp_path)
    damaged = store.directory / "b.parquet"
    damaged.write_bytes(damaged.read_bytes()[:100])  # cut short
    assert set(store.finished_jobs()) == {"a"}
    (aside,) = store.directory.glob("b.parquet.corrupt-*")
    assert len(aside.read_bytes()) == 100  # kept as it was, never deleted
    assert not damaged.exists()
    assert f"{damaged} is not a readable result file" in caplog.text
    assert aside.name in caplog.text and "runs again" in caplog.text
    assert load(store.directory)["job_id"].tolist() == ["a"]  # readers skip the set-aside file


def test_a_job_whose_stored_outputs_are_unreadable_runs_again(tmp_path, caplog) -> None:
    store = _finished_run(tmp_path)
    outputs = store.directory / "_outputs" / "a.npy"
    outputs.write_bytes(outputs.read_bytes()[:-4])
    assert set(store.finished_jobs()) == {"b"}
    assert len(list(store.directory.glob("a.parquet.corrupt-*"))) == 1
    assert len(list((store.directory / "_outputs").glob("a.npy.corrupt-*"))) == 1
    assert store.read_outputs("a") is None


def test_a_set_aside_name_already_taken_gets_a_number(tmp_path) -> None:
    store = _finished_run(tmp_path)
    for _ in range(2):
        (store.directory / "b.parquet").write_bytes(b"not parquet")
        assert set(store.finished_jobs()) == {"a"}
    assert len(list(store.directory.glob("b.parquet.corrupt-*"))) == 2
