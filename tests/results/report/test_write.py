"""``squeezebench report`` on real results: two seeds, a failing variant, a skipped target."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from squeezebench.cli.app import app
from squeezebench.harness.run import run_spec
from squeezebench.results.report import build_report, short_reason, write_report
from squeezebench.results.runs import select_runs
from squeezebench.spec.load import load_spec

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

SPEC = """
name: report-test
seed: {seed}
model: builtin:digits-mlp
dataset: builtin:digits
variants:
  int8: [quantize.dynamic_int8]
  pruned:
    - prune.magnitude: {{sparsity: 0.5}}
  twice: [quantize.dynamic_int8, quantize.dynamic_int8]   # fails: nothing left to quantize
sweep:
  pruned:
    prune.magnitude.sparsity: [0.5, 0.9]
targets:
  - {{backend: torch, device: cpu, options: {{threads: 1}}}}
  - {{backend: torch, device: cuda, options: {{threads: 1}}}}   # skipped without a GPU
benchmark:
  batch_sizes: [1, 4]
  warmup_seconds: 0.01
  min_repeats: 5
  min_seconds: 0.02
  rounds: 2
  drift_check: false
  contention: {{on_contention: warn}}  # a busy test machine: mark, do not wait and retry
"""


def _run(resolved, registry, output: Path):
    return run_spec(resolved, registry, output, isolate=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory, registry) -> Path:
    """A folder of two runs (seeds 0 and 1); the int8 rows at batch 4 of seed 1 are noisy."""
    folder = tmp_path_factory.mktemp("report")
    runs = []
    for seed in (0, 1):
        spec = folder / f"spec{seed}.yaml"
        spec.write_text(SPEC.format(seed=seed))
        runs.append(_run(load_spec(spec, registry), registry, folder / "results").directory)
    for path in runs[1].glob("*.parquet"):
        table = pq.read_table(path)
        rows = table.to_pylist()
        if rows[0]["variant"] == "int8" and rows[0]["target"] == "torch:cpu":
            for row in rows:
                if row["batch_size"] == 4:
                    row.update(noisy=True, latency_spread=0.42)
            pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    return folder / "results"


@pytest.fixture
def results_copy(results, tmp_path) -> Path:
    """A private copy, so each test writes its report where no other test looks."""
    return Path(shutil.copytree(results, tmp_path / "results"))


def _cells(html: str, variant: str) -> list[str]:
    row = re.search(rf"<tr class=\"[^\"]*\">\s*<td[^>]*>{re.escape(variant)}\b.*?</tr>", html, re.S)
    assert row, variant
    return re.findall(r"<td[^>]*>.*?</td>", row.group(0), re.S)


def test_html_report_is_self_contained_with_pareto_marks_and_flags(results_copy) -> None:
    result = runner.invoke(app, ["report", str(results_copy)])
    assert result.exit_code == 0, result.output
    path = results_copy / "report.html"  # the default output
    html = path.read_text()
    # Self-contained: no stylesheet, script or image fetched from anywhere.
    markup = re.sub(r"<script>.*?</script>", "", html, flags=re.S)  # plotly.js inline
    assert not re.search(r"<link\b|<script\b[^>]*\bsrc=", markup)
    assert not re.search(r"(src|href)=\"(?!data:|#)", markup)
    # Interactive figures (plotly.js inline) in place of the PNGs, which are still written.
    labels = re.findall(r'aria-label="([^":]*)', html)
    assert labels == ["size vs accuracy", "latency vs accuracy"]
    pngs = sorted(results_copy.glob("report-*.png"))  # next to the report
    assert [p.name for p in pngs] == [
        "report-builtin-digits-mlp-digits-torch-cpu-latency-accuracy.png",
        "report-builtin-digits-mlp-digits-torch-cpu-size-accuracy.png",
    ]
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in pngs)
    # The latest run only (seed 1), one section per target.
    assert "report-test" in html and "(n=2)" not in markup
    assert "on torch:cpu</h2>" in html and "on torch:cuda</h2>" in html
    # Pareto: int8 is the one smallest variant and as accurate as the baseline.
    int8, baseline = _cells(html, "int8"), _cells(html, "baseline")
    assert int8[2].startswith('<td class="pareto">') and "★" in int8[2]
    assert "★" not in baseline[2]
    assert "size" in int8[-1]
    # Flags: the failing variant, the skipped target, the noisy row.
    assert '<tr class="error">' in html
    assert "found no torch.nn.Linear layer to quantize" in html
    assert '<tr class="skipped baseline">' in html and "CUDA is not available" in html
    assert 'class="pareto noisy"' in html or 'class="noisy"' in html
    assert "noisy: int8 at batch size 4 (IQR/median 0.420 &gt; 0.1)" in html
    assert str(path) in result.output.replace("\n", "")


def test_markdown_report_with_seeds_aggregated(results_copy, tmp_path) -> None:
    output = tmp_path / "out" / "summary.md"
    result = runner.invoke(
        app, ["report", str(results_copy), "--all-runs", "-f", "md", "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    text = output.read_text()
    assert "| variant | status | size | ratio | top-1 accuracy | Δ acc | fidelity |" in text
    assert "p50 b=1 | p99 b=1 | speedup b=1 | p50 b=4 |" in text
    int8 = next(line for line in text.splitlines() if line.startswith("| int8 (n=2) |"))
    assert "**55.4 KiB ★**" in int8  # identical across seeds: no ±
    assert re.search(r"\d ± \d\.\d+ ms", int8)  # latencies differ between the two runs
    assert "mean ± sample standard deviation" in text
    assert "- error: twice: " in text
    assert (
        "- skipped: baseline, int8, pruned[sparsity=0.5], pruned[sparsity=0.9], twice" not in text
    )
    assert re.search(
        r"- skipped: baseline, int8, pruned\[sparsity=0\.5\], pruned\[sparsity=0\.9\]: "
        r"CUDA is not available",
        text,
    )
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (output.parent / link).read_bytes().startswith(PNG_MAGIC)


def test_report_model(results) -> None:
    selection = select_runs(results, all_runs=True)
    report = build_report(selection.rows(), selection)
    cpu, cuda = report.groups
    assert [v.name for v in cpu.variants][:1] == ["baseline"]
    assert {v.name: v.pareto_size for v in cpu.variants} == {
        "baseline": False,
        "int8": True,
        "pruned[sparsity=0.5]": False,
        "pruned[sparsity=0.9]": False,
        "twice": False,
    }
    for batch in cpu.batch_sizes:
        assert any(v.batches[batch].pareto for v in cpu.variants if v.measured)
    assert {v.status for v in cuda.variants} == {"skipped", "error"}
    baseline = cpu.variants[0]
    assert baseline.measurements == 2 and baseline.seeds == [0, 1]
    assert baseline.batches[1].p50.n == 2 and baseline.batches[1].p50.std is not None
    assert cpu.noise_threshold == 0.1


def test_folder_of_runs_uses_the_latest_unless_told(results) -> None:
    selection = select_runs(results)
    assert len(selection.available) == 2 and selection.names == selection.available[-1:]
    first = selection.available[0]
    assert select_runs(results, runs=[first]).names == [first]
    assert select_runs(results / first).names == [first]  # a run folder itself
    result = runner.invoke(app, ["report", str(results), "--run", "nope"])
    assert result.exit_code == 2
    assert "unknown run" in result.output and first in result.output
    result = runner.invoke(app, ["report", str(results), "--run", first, "--all-runs"])
    assert result.exit_code == 2 and "cannot be combined" in result.output


def test_without_matplotlib_markdown_works_and_html_says_how_to_install(
    results_copy, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if neither were installed
    monkeypatch.setitem(sys.modules, "plotly", None)
    result = runner.invoke(app, ["report", str(results_copy), "-f", "html"])
    assert result.exit_code == 2
    assert "pip install 'squeezebench[report]'" in result.output
    assert "Traceback" not in result.output

    # issue 12, bug 10: the note printed by the command lost "[report]" to rich markup
    result = runner.invoke(app, ["report", str(results_copy)])
    assert result.exit_code == 0, result.output
    assert "note: Plots need matplotlib: pip install " in result.output
    assert "'squeezebench[report]'" in result.output

    outcome = write_report(results_copy)  # no --format: falls back to Markdown
    assert outcome.format == "md" and outcome.images == []
    text = outcome.path.read_text()
    assert "pip install 'squeezebench[report]'" in text and "| int8 |" in text
    assert not list(results_copy.glob("*.png"))

    outcome = write_report(results_copy, fmt="html", plots=False)  # HTML without plots: fine
    assert "<table>" in outcome.path.read_text()


def test_help_does_not_import_plotting_or_statistics() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from squeezebench.cli.app import app\n"
        "for args in (['--help'], ['report', '--help'], ['compare', '--help']):\n"
        "    result = CliRunner().invoke(app, args)\n"
        "    assert result.exit_code == 0, result.output\n"
        "heavy = ('matplotlib', 'plotly', 'scipy', 'pandas', 'torch', 'pyarrow', 'numpy')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_short_reason() -> None:
    reason = "compressing x failed: MethodError: nope\nTraceback (most recent call last):\n ..."
    assert short_reason(reason) == "compressing x failed: MethodError: nope"
    assert short_reason("a" * 500).endswith("…") and len(short_reason("a" * 500)) == 160
