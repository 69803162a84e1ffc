"""The OpenVINO vs ONNX Runtime benchmark script still runs (its figures are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "openvino_vs_onnxruntime.py"


def test_the_script_prints_both_latencies_and_sizes() -> None:
    pytest.importorskip("openvino", reason="needs squeezebench[openvino]")
    pytest.importorskip("onnxruntime", reason="needs squeezebench[onnx]")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--threads", "1", "--rounds", "1", "--calls", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "max |openvino - onnxruntime| = " in done.stdout
    assert "openvino    (LATENCY):" in done.stdout and "IR " in done.stdout
    assert "onnxruntime:" in done.stdout and "ratio openvino / onnxruntime:" in done.stdout
