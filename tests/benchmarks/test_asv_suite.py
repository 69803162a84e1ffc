"""The asv suite in benchmarks/: every spec becomes benchmarks, and asv really runs them."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from squeezebench.spec.load import load_spec

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def suite():
    """benchmarks/compression.py, imported the way asv's discovery imports it."""
    spec = importlib.util.spec_from_file_location(
        "asv_suite_compression", BENCHMARKS / "compression.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_spec_becomes_latency_and_artifact_benchmarks(suite, registry) -> None:
    specs = sorted(BENCHMARKS.glob("specs/*.yaml"))
    assert [p.name for p in specs] == ["tiny-mlp.yaml"]
    resolved = load_spec(specs[0], registry)
    latency, artifact = suite.TinyMlpLatency, suite.TinyMlpArtifact
    variants = [v.name for v in resolved.variants]
    assert variants == ["baseline", "int8"]
    assert latency.params == [variants, ["torch:cpu"], [1, 8]]
    assert latency.param_names == ["variant", "target", "batch_size"]
    assert artifact.params == [variants, ["torch:cpu"]]
    assert latency.version == artifact.version == resolved.spec_hash
    units = {
        name: getattr(cls, name).unit
        for cls in (latency, artifact)
        for name in dir(cls)
        if name.startswith("track_")
    }
    assert units == {  # a larger number is always worse
        "track_latency_p50_ms": "ms",
        "track_latency_p99_ms": "ms",
        "track_peak_memory_bytes": "bytes",
        "track_artifact_bytes": "bytes",
        "track_accuracy_drop_points": "points",
    }
    # One setup_cache function for every class: asv caches by function, so runs it once.
    assert latency.setup_cache is artifact.setup_cache
    assert suite.class_prefix("tiny-mlp") == "TinyMlp" and suite.class_prefix("8bit") == "Spec8bit"


def test_summary_turns_rows_into_numbers_and_skips_failures(suite) -> None:
    rows = [
        {
            "variant": "baseline",
            "target": "t",
            "batch_size": 1,
            "status": "ok",
            "latency_p50_ms": 1.0,
            "latency_p99_ms": 2.0,
            "peak_memory_bytes": None,
            "artifact_bytes": 100,
            "accuracy_delta": 0.0,
        },
        {
            "variant": "int8",
            "target": "t",
            "batch_size": 1,
            "status": "ok",
            "latency_p50_ms": 0.5,
            "latency_p99_ms": 1.0,
            "peak_memory_bytes": 10,
            "artifact_bytes": 30,
            "accuracy_delta": -0.0125,
        },
        {"variant": "bad", "target": "t", "batch_size": 1, "status": "error", "reason": "boom"},
    ]
    cache = {"s": suite.summarize(rows)}
    artifact = type("A", (suite._ArtifactBenchmark,), {"spec_stem": "s"})()
    latency = type("L", (suite._LatencyBenchmark,), {"spec_stem": "s"})()
    assert artifact.track_accuracy_drop_points(cache, "int8", "t") == pytest.approx(1.25)
    assert str(artifact.track_accuracy_drop_points(cache, "baseline", "t")) == "0.0"
    assert artifact.track_artifact_bytes(cache, "int8", "t") == 30
    assert latency.track_latency_p50_ms(cache, "int8", "t", 1) == 0.5
    assert math.isnan(latency.track_peak_memory_bytes(cache, "baseline", "t", 1))
    with pytest.raises(NotImplementedError, match="error: boom"):
        latency.setup(cache, "bad", "t", 1)
    with pytest.raises(NotImplementedError, match="not in the results"):
        artifact.setup(cache, "missing", "t")


def _asv(*args: str, config: Path, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(home))  # asv keeps its machine file in ~
    done = subprocess.run(
        [sys.executable, "-m", "asv", *args, "--config", str(config)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.mark.asv
def test_asv_runs_the_tiny_spec_and_publishes(tmp_path) -> None:
    """``asv run --python=same --quick`` with results saved under HEAD, then ``asv publish``."""
    util = pytest.importorskip("asv.util")
    config = util.load_json(ROOT / "asv.conf.json", js_comments=True)
    assert config["environment_type"] == "existing"
    config.update(
        repo=str(ROOT),
        benchmark_dir=str(BENCHMARKS),
        results_dir=str(tmp_path / "results"),
        html_dir=str(tmp_path / "html"),
        env_dir=str(tmp_path / "env"),
    )
    path = tmp_path / "asv.conf.json"
    path.write_text(json.dumps(config))
    home = tmp_path / "home"
    home.mkdir()
    _asv("machine", "--yes", "--machine", "ci", config=path, home=home)
    done = _asv(
        "run",
        "--python=same",
        "--quick",
        "--show-stderr",
        "--set-commit-hash=HEAD",
        "--machine",
        "ci",
        config=path,
        home=home,
    )
    assert "compression.TinyMlpLatency.track_latency_p50_ms" in done.stdout
    (saved,) = (tmp_path / "results" / "ci").glob("*-existing-*.json")
    results = json.loads(saved.read_text())["results"]
    assert set(results) == {
        "compression.TinyMlpArtifact.track_accuracy_drop_points",
        "compression.TinyMlpArtifact.track_artifact_bytes",
        "compression.TinyMlpLatency.track_latency_p50_ms",
        "compression.TinyMlpLatency.track_latency_p99_ms",
        "compression.TinyMlpLatency.track_peak_memory_bytes",
    }
    baseline_bytes, int8_bytes = results["compression.TinyMlpArtifact.track_artifact_bytes"][0]
    assert 3 * int8_bytes < baseline_bytes
    assert results["compression.TinyMlpArtifact.track_accuracy_drop_points"][0][0] == 0.0
    latencies = results["compression.TinyMlpLatency.track_latency_p50_ms"][0]
    assert len(latencies) == 4 and all(value > 0 for value in latencies)

    _asv("publish", config=path, home=home)
    index = tmp_path / "html" / "index.html"
    assert index.is_file()
    graphs = list((tmp_path / "html" / "graphs").rglob("*track_latency_p50_ms.json"))
    assert graphs
