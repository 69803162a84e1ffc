"""The command line, through typer's runner and (for start-up cost) a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from squeezebench import __version__
from squeezebench.cli.app import app
from squeezebench.cli.exit_codes import ExitCode
from squeezebench.results import load

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def _builtins_only(monkeypatch):
    monkeypatch.setenv("SQUEEZEBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("COLUMNS", "200")
    from squeezebench.plugins import manager

    manager.default_manager.cache_clear()
    manager.default_registry.cache_clear()
    yield
    manager.default_manager.cache_clear()
    manager.default_registry.cache_clear()


def test_help_and_import_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from squeezebench.cli.app import app\n"
        "from typer.testing import CliRunner\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = ('torch', 'pyarrow', 'sklearn', 'numpy', 'optuna')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"squeezebench {__version__}"


def test_validate_good_spec() -> None:
    result = runner.invoke(app, ["validate", str(ROOT / "examples" / "quickstart.yaml")])
    assert result.exit_code == ExitCode.OK, result.output
    assert "ok (7 variants x 3 targets = 21 jobs)" in result.output


BROKEN = {
    "bad yaml": ("name: [unclosed\n", r":2:1: invalid YAML"),
    "unknown key": (
        "name: x\nmodel: builtin:digits-mlp\nvarients: {}\n",
        r":3:1: varients: unknown key 'varients'; did you mean 'variants'\?",
    ),
    "unknown method": (
        "name: x\nmodel: builtin:digits-mlp\nvariants:\n  a: [quantize.dynamic_int9]\n",
        r":4:7: variants.a\[0\]: unknown method 'quantize.dynamic_int9'; did you mean "
        r"'quantize.dynamic_int8'\?",
    ),
    "param out of range": (
        "name: x\nmodel: builtin:digits-mlp\nvariants:\n"
        "  a:\n    - prune.magnitude: {sparsity: 1.5}\n",
        r":5:35: variants.a\[0\] prune.magnitude.sparsity: Input should be less than 1 "
        r"\(got 1.5\)",
    ),
    "wrong type": (
        "name: x\nmodel: builtin:digits-mlp\nseed: many\n",
        r":3:7: seed: .*seed must be an integer or a non-empty list of integers, got 'many'",
    ),
    "missing model file": (
        "name: x\nmodel: file:missing.pt2\n",
        r":2:8: model: model file not found: .*missing.pt2",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_validate_broken_spec_prints_located_errors_without_traceback(case, tmp_path) -> None:
    text, pattern = BROKEN[case]
    spec = tmp_path / "broken.yaml"
    spec.write_text(text)
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "Traceback" not in result.output
    import re

    assert re.search(re.escape(str(spec)) + pattern, result.output), result.output


def test_validate_real_subprocess_has_no_traceback(tmp_path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("name: x\nmodel: builtin:digits-mlp\nvariants:\n  a: [nope]\n")
    done = subprocess.run(
        [sys.executable, "-m", "squeezebench", "validate", str(spec)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == ExitCode.USAGE_ERROR
    assert "unknown method 'nope'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_missing_spec_file_is_a_usage_error(tmp_path) -> None:
    result = runner.invoke(app, ["run", str(tmp_path / "nope.yaml")])
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "spec file not found" in result.output


def test_schema_to_stdout_matches_the_committed_file(tmp_path) -> None:
    committed = (ROOT / "schema" / "squeezebench.schema.json").read_text()
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert result.output == committed
    assert runner.invoke(app, ["schema", "-o", str(tmp_path / "s.json")]).exit_code == 0
    assert json.loads((tmp_path / "s.json").read_text()) == json.loads(committed)


def test_plugins_lists_every_builtin_with_its_distribution() -> None:
    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 0
    for name in ("prune.magnitude", "quantize.dynamic_int8", "torch", "builtin", "digits"):
        assert name in result.output
    assert f"squeezebench {__version__}" in result.output
    assert "third-party plugins are disabled" in result.output


def test_run_prints_the_table_and_writes_parquet(
    write_spec, fast_benchmark, tmp_path, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # the local executor never needs Ray
    spec = write_spec(
        """
        name: cli-run
        model: builtin:digits-mlp
        dataset: builtin:digits
        variants:
          int8: [quantize.dynamic_int8]
        targets: [{backend: torch, device: cpu, options: {threads: 1}}]
        """,
        fast_benchmark,
    )
    result = runner.invoke(app, ["run", str(spec), "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == ExitCode.OK, result.output
    for header in ("variant", "size", "ratio", "accuracy", "Δ acc", "p50 b=1", "speedup b=4"):
        assert header in result.output
    assert "int8" in result.output and "baseline" in result.output
    frame = load(tmp_path / "out")
    assert len(frame) == 4 and set(frame["status"]) == {"ok"}


def test_run_with_a_failing_job_exits_with_job_errors(write_spec, fast_benchmark, tmp_path):
    spec = write_spec(
        """
        name: cli-fail
        model: builtin:digits-mlp
        variants:
          twice: [quantize.dynamic_int8, quantize.dynamic_int8]
        targets: [{backend: torch, device: cpu, options: {threads: 1}}]
        """,
        fast_benchmark,
    )
    result = runner.invoke(app, ["run", str(spec), "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == ExitCode.JOB_ERRORS
    assert "1 job(s) failed" in result.output


RAISING_PLUGIN = """
from squeezebench import hookimpl
from squeezebench.plugins import Method


class Explode(Method):
    \"\"\"Raises at run time.\"\"\"

    name = "test.explode"

    def apply(self, artifact, params, ctx):
        return helper()


def helper():
    raise RuntimeError("exploded on purpose\\nsecond line of the message")


@hookimpl
def squeezebench_register(registry):
    registry.add_method(Explode)
"""


def test_failing_jobs_print_one_line_each_and_keep_the_traceback(
    write_spec, fast_benchmark, tmp_path, monkeypatch
):
    # issue 12, bug 8: 14 failed jobs printed 325 lines of tracebacks
    plugin = tmp_path / "raising_plugin.py"
    plugin.write_text(RAISING_PLUGIN, encoding="utf-8")
    monkeypatch.setenv("SQUEEZEBENCH_PLUGINS", str(plugin))
    spec = write_spec(
        """
        name: cli-explode
        model: builtin:digits-mlp
        variants:
          first: [test.explode]
          second: [quantize.dynamic_int8, test.explode]
        targets: [{backend: torch, device: cpu, options: {threads: 1}}]
        """,
        fast_benchmark,
    )
    result = runner.invoke(app, ["run", str(spec), "-o", str(tmp_path / "out")])
    assert result.exit_code == ExitCode.JOB_ERRORS, result.output
    assert "Traceback" not in result.output and "second line" not in result.output
    lines = [line for line in result.output.splitlines() if "exploded on purpose" in line]
    assert len(lines) == 4, result.output  # one live line per job, one note per reason
    assert sum(line.startswith("error first @ torch:cpu: ") for line in lines) == 1
    assert sum(line.startswith("error second @ torch:cpu: ") for line in lines) == 1
    frame = load(tmp_path / "out")
    for _, row in frame[frame["status"] == "error"].iterrows():
        log = f"_logs/{row['job_id']}.log"
        assert row["reason"] == (
            f"compressing {row['variant']} failed: RuntimeError: exploded on purpose (see {log})"
        )
        (run_folder,) = (tmp_path / "out").iterdir()
        text = (run_folder / log).read_text(encoding="utf-8")
        assert "Traceback" in text and "in helper" in text and "second line" in text


def test_repeat_check_reruns_and_confirms_reproducibility(write_spec, fast_benchmark, tmp_path):
    spec = write_spec(
        """
        name: cli-repeat
        model: builtin:digits-mlp
        dataset: builtin:digits
        variants:
          pruned: [{prune.magnitude: {sparsity: 0.5}}]
        targets: [{backend: torch, device: cpu, options: {threads: 1}}]
        """,
        fast_benchmark,
    )
    result = runner.invoke(
        app, ["run", str(spec), "-o", str(tmp_path / "out"), "-q", "--inline", "--repeat-check"]
    )
    assert result.exit_code == ExitCode.OK, result.output
    assert "reproducible: status, params" in result.output
    assert "latency p50 drift" in result.output
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_too_many_jobs_need_an_explicit_limit(write_spec, tmp_path) -> None:
    spec = write_spec(
        """
        name: big
        model: builtin:digits-mlp
        variants:
          pruned: [{prune.magnitude: {sparsity: 0.5}}]
        sweep:
          pruned:
            prune.magnitude.sparsity: [0.1, 0.2, 0.3, 0.4, 0.5]
        """
    )
    result = runner.invoke(app, ["run", str(spec), "-o", str(tmp_path / "out"), "--max-jobs", "4"])
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "expands to 6 jobs" in result.output and "--max-jobs" in result.output


def test_summary_table_gives_jobs_failing_alike_one_note() -> None:
    from rich.console import Console

    from squeezebench.cli.reporting import summary_table

    rows = [
        {
            "variant": variant,
            "target": "torch:cpu",
            "batch_size": 1,
            "status": "error",
            "reason": f"backend torch rejected the artifact: ValueError: bad (see _logs/{job}.log)",
        }
        for variant, job in (("a", "j1"), ("b", "j2"))
    ]
    console = Console(width=200, record=True)
    console.print(summary_table(rows, "t"))
    text = console.export_text()
    assert "[1] backend torch rejected the artifact: ValueError: bad (2 jobs; tracebacks in" in text
    assert "[2]" not in text
    console = Console(width=200, record=True)
    console.print(summary_table(rows[:1], "t"))
    assert "ValueError: bad (see _logs/j1.log)" in console.export_text()


def test_summary_table_shows_encoded_sizes_only_when_there_are_some() -> None:
    from rich.console import Console

    from squeezebench.cli.reporting import summary_table

    row = {
        "variant": "v",
        "target": "t",
        "batch_size": 1,
        "status": "ok",
        "artifact_bytes": 4096,
        "compression_ratio": 1.0,
    }

    def render(rows):
        console = Console(width=200, record=True)
        console.print(summary_table(rows, "t"))
        return console.export_text()

    assert "encoded" not in render([row])
    text = render([row | {"encoded_bytes": 1024}])
    assert "encoded" in text and "1.0 KiB" in text


def test_summary_table_shows_the_cosine_for_embeddings_instead_of_fidelity() -> None:
    from rich.console import Console

    from squeezebench.cli.reporting import summary_table

    row = {"variant": "v", "target": "t", "batch_size": 1, "status": "ok", "fidelity": 0.5}

    def render(rows):
        console = Console(width=200, record=True)
        console.print(summary_table(rows, "t"))
        return console.export_text()

    text = render([row])
    assert "fidelity" in text and "50.00%" in text and "cosine" not in text
    embedding = row | {"fidelity": None, "embedding_cosine": 0.99287}
    text = render([embedding])
    assert "cosine" in text and "0.9929" in text and "fidelity" not in text


def test_repeat_check_exits_3_when_the_runs_differ(
    write_spec, fast_benchmark, tmp_path, monkeypatch
):
    from squeezebench.harness import reproducibility

    def always_different(first, second):
        report = reproducibility.ReproducibilityReport()
        report.mismatches.append("v @ t b=1: accuracy 0.9 != 0.91")
        return report

    monkeypatch.setattr(reproducibility, "compare_runs", always_different)
    spec = write_spec("name: r\nmodel: builtin:digits-mlp\n", fast_benchmark)
    result = runner.invoke(
        app, ["run", str(spec), "-o", str(tmp_path / "out"), "-q", "--inline", "--repeat-check"]
    )
    assert result.exit_code == ExitCode.NOT_REPRODUCIBLE
    assert "NOT reproducible" in result.output


def test_validate_deep_imports_python_models_and_loads_model_files(tmp_path) -> None:
    (tmp_path / "deep_cli_models.py").write_text(
        "raise ImportError('needs a GPU')\ndef build(): ...\n"
    )
    python_spec = tmp_path / "python.yaml"
    python_spec.write_text("name: x\nmodel: python:deep_cli_models:build\n")
    shallow = runner.invoke(app, ["validate", str(python_spec)])
    assert shallow.exit_code == ExitCode.OK, shallow.output  # nothing imported
    deep = runner.invoke(app, ["validate", "--deep", str(python_spec)])
    assert deep.exit_code == ExitCode.USAGE_ERROR
    assert "2:8: model: importing deep_cli_models failed: ImportError: needs a GPU" in deep.output
    assert "Traceback" not in deep.output


def test_executor_ray_without_ray_is_one_line_with_the_install_hint(
    write_spec, monkeypatch, tmp_path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    path = write_spec("name: r\nmodel: builtin:digits-mlp\n")
    output = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "--executor", "ray", "-o", str(output)])
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert result.output == "error: --executor ray needs Ray: pip install 'squeezebench[ray]'\n"
    assert not output.exists()  # nothing ran


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--executor", "dask"], "--executor must be local or ray, got 'dask'"),
        (["--executor", "local", "--address", "auto"], "--address names a Ray cluster"),
        (["--executor", "ray", "--inline"], "--inline runs every job in this process"),
    ],
)
def test_bad_executor_flags_are_usage_errors(write_spec, tmp_path, arguments, message) -> None:
    path = write_spec("name: r\nmodel: builtin:digits-mlp\n")
    result = runner.invoke(app, ["run", str(path), *arguments, "-o", str(tmp_path)])
    assert result.exit_code == ExitCode.USAGE_ERROR and message in result.output
