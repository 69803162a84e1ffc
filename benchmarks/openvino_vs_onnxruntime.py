"""OpenVINO's latency against ONNX Runtime's on the same exported model, through squeezebench.

Not a test: a script that prints figures. It exports one model once with the
``torch-to-onnx`` converter (the built-in ``digits-cnn`` by default, or ``--model mlp`` for a
4-layer 1024-wide MLP; fp32, and with ``--int8`` also ``ort.quantize_static``'s QDQ model),
prepares that same ONNX model on the ``openvino`` and ``onnxruntime`` backends with the same
thread count, checks that their outputs agree, and times ``run`` on each, interleaved round
by round so that machine noise hits both alike. It prints the median latency of each, the
ratio openvino / onnxruntime, and the shipped artifact sizes (OpenVINO's IR, the ONNX file).

    python benchmarks/openvino_vs_onnxruntime.py [--threads N] [--batch B] [--rounds R]
        [--model cnn|mlp] [--int8] [--hint LATENCY|THROUGHPUT]

Needs ``pip install 'squeezebench[onnx,openvino]'``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np
import torch

from squeezebench.plugins import MethodContext
from squeezebench.plugins.builtin.backends.onnxruntime_backend import OnnxRuntimeBackend
from squeezebench.plugins.builtin.backends.openvino_backend import OpenVinoBackend
from squeezebench.plugins.builtin.converters.torch_to_onnx import TorchToOnnx
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.methods.ort_quantize import OrtStaticQuantization
from squeezebench.plugins.builtin.models.digits_models import trained_model
from squeezebench.testing import target_for


def load_model(name: str, batch: int) -> tuple[str, torch.nn.Module, np.ndarray, Any]:
    """(description, module, a batch of inputs, calibration data or None)."""
    if name == "cnn":
        data = digits_splits()
        inputs = np.resize(data.test.inputs, (batch, *data.test.inputs.shape[1:]))
        return "digits-cnn (trained)", trained_model("digits-cnn"), inputs, data
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    for _ in range(4):
        layers += [torch.nn.Linear(1024, 1024), torch.nn.ReLU()]
    inputs = np.random.default_rng(0).standard_normal((batch, 1024)).astype(np.float32)
    return "MLP 4 x Linear(1024, 1024)", torch.nn.Sequential(*layers).eval(), inputs, None


def interleaved_medians(runners: dict[str, Any], inputs: np.ndarray, rounds: int, calls: int):
    """Median milliseconds of ``run`` per runner, timed round by round in turn."""
    placed = {name: runner.place(inputs) for name, runner in runners.items()}
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for name, runner in runners.items():  # warm-up
        for _ in range(5):
            runner.run(placed[name])
    for _ in range(rounds):
        for name, runner in runners.items():
            for _ in range(calls):
                begin = time.perf_counter_ns()
                runner.run(placed[name])
                runner.synchronize()
                samples[name].append((time.perf_counter_ns() - begin) / 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def compare(label: str, payload: bytes, inputs: np.ndarray, args: argparse.Namespace) -> None:
    """Prepare ``payload`` on both backends, check their outputs agree, print the timings."""
    options = {"threads": args.threads}
    runners = {
        "openvino": OpenVinoBackend().prepare(
            payload,
            target_for(OpenVinoBackend, "cpu", {**options, "performance_hint": args.hint}),
        ),
        "onnxruntime": OnnxRuntimeBackend().prepare(
            payload, target_for(OnnxRuntimeBackend, "cpu", options)
        ),
    }
    outputs = {n: r.fetch(r.run(r.place(inputs))) for n, r in runners.items()}
    difference = float(np.abs(outputs["openvino"] - outputs["onnxruntime"]).max())
    medians = interleaved_medians(runners, inputs, args.rounds, args.calls)
    sizes = {name: len(runner.artifact_bytes()) for name, runner in runners.items()}
    for runner in runners.values():
        runner.close()
    print(f"\n{label}: max |openvino - onnxruntime| = {difference:.2e}")
    print(
        f"  openvino    ({args.hint}): {medians['openvino']:.4f} ms median, "
        f"IR {sizes['openvino']:,} bytes"
    )
    print(
        f"  onnxruntime:          {medians['onnxruntime']:.4f} ms median, "
        f"ONNX {sizes['onnxruntime']:,} bytes"
    )
    print(f"  ratio openvino / onnxruntime: {medians['openvino'] / medians['onnxruntime']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=20, help="timed calls per round and side")
    parser.add_argument("--model", choices=("cnn", "mlp"), default="cnn")
    parser.add_argument("--int8", action="store_true", help="also ort.quantize_static's QDQ")
    parser.add_argument("--hint", choices=("LATENCY", "THROUGHPUT"), default="LATENCY")
    args = parser.parse_args()

    description, model, inputs, data = load_model(args.model, args.batch)
    exported = TorchToOnnx().convert(model, torch.from_numpy(inputs[:1]))
    print(
        f"model: {description}; batch {args.batch}, {args.threads} threads, "
        f"{args.rounds} x {args.calls} calls per backend"
    )
    compare("fp32", exported, inputs, args)
    if args.int8:
        if data is None:
            parser.error("--int8 needs calibration data: use --model cnn")
        method = OrtStaticQuantization()
        quantized = method.apply(exported, method.Params(), MethodContext(seed=0, data=data))
        compare("int8 QDQ (ort.quantize_static)", quantized, inputs, args)


if __name__ == "__main__":
    main()
