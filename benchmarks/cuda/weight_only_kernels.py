"""Weight-only kernels against fp16 cuBLAS, and against the memory bandwidth (needs a GPU).

For each weight shape (in_features x out_features) and batch, it times every path of our
packed layer (the fused kernel on the tiled layout, ``rows``: the same on the row layout of
format version 1, the wide kernel, dequantize + cuBLAS, cuBLAS on a dense copy), the layer
as dispatched (``QuantizedLinear`` on CUDA after its calibration: ``ours``, with the path it
chose) and ``F.linear`` on the float16 weight (cuBLAS), and prints the ratio and the
bandwidth the chosen path achieves, counting the bytes it must read and write (packed
weights, scales, zero points, activations, output) against a device-to-device copy measured
in the same run (bytes read + written).

Timing: each measurement is a CUDA graph of calls over several copies of the weights
(rotated, so that together they are several times the L2 cache), replayed under
``triton.testing.do_bench`` (CUDA events, L2 flushed between replays, median). The eager
column times the same calls without a graph: the Python and launch overhead a caller pays.

    python benchmarks/cuda/weight_only_kernels.py [--sweep] [--quick] [--out DIR]

``--sweep`` also times every launch shape of ``SWEEP_CONFIGS`` at batches 1, 16, 32 and
prints the fastest per case (how ``DEFAULT_CONFIGS`` is chosen). Results go to
``DIR/weight_only_kernels.json`` as well.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from squeezebench.quantized.cuda import launch, paths, record, source
from squeezebench.quantized.layers import QuantizedLinear
from squeezebench.quantized.layout import preferred_layout
from squeezebench.quantized.packing import PackedWeight, pack_codes, plan_format

SHAPES = [(4096, 4096), (4096, 11008), (8192, 8192), (8192, 28672)]
BATCHES = [1, 16, 64]
PATH_COLUMNS = ("fused", "rows", "wide", "dequantize", "dense")
FORMATS = {"int4-g128": (4, "symmetric", 128), "int8-channel": (8, "symmetric", None)}


def bench_ms(fn: Callable[[], object]) -> float:
    """Median milliseconds of ``fn`` (CUDA events, L2 flushed before each run)."""
    from triton.testing import do_bench

    return float(do_bench(fn, warmup=25, rep=150, return_mode="median"))


def graph_ms(calls: list[Callable[[], object]]) -> float:
    """Median milliseconds per call of ``calls`` captured in one CUDA graph."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            for call in calls:
                call()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for call in calls:
            call()
    return bench_ms(graph.replay) / len(calls)


def eager_ms(calls: list[Callable[[], object]]) -> float:
    def run() -> None:
        for call in calls:
            call()

    return bench_ms(run) / len(calls)


def copy_bandwidth() -> float:
    """Bytes per second of a 2 GiB device-to-device copy (read + write counted)."""
    size = 1 << 31
    src = torch.randint(0, 256, (size,), dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    return 2 * size / (bench_ms(lambda: dst.copy_(src)) * 1e-3)


def random_layer(in_f: int, out_f: int, bits: int, scheme: str, group: int | None, layout=None):
    """A layer of random codes, in the layout ``QuantizedLinear.from_float`` would pick (or
    ``layout``)."""
    fmt = plan_format(out_f, in_f, bits, scheme, group, torch.float16)
    codes = torch.randint(0, 1 << bits, (out_f, fmt.padded_in_features), device="cuda")
    packed = pack_codes(codes.to(torch.uint8), bits)
    scales = (torch.rand(fmt.scale_shape, device="cuda") * 0.01 + 0.001).half()
    target = dataclasses.replace(fmt, layout=layout or preferred_layout(fmt))
    layer = QuantizedLinear(target, bias=False).cuda()
    return layer.load_packed(PackedWeight(fmt, packed, scales), None)


def path_call(path: str, layer: QuantizedLinear, x: torch.Tensor) -> Callable[[], object] | None:
    """One call of ``path`` on ``layer`` (None where it cannot run): ``rows`` is the fused
    kernel on a row-layout copy of the layer."""
    if path == "rows":
        rows = QuantizedLinear(dataclasses.replace(layer.format, layout="rows"), bias=False)
        rows = rows.cuda().load_packed(layer.packed(), None)
        layer, path = rows, "fused"
    if path not in paths.available_paths(layer, x.dtype, x.shape[0]):
        return None
    if path == "dense":
        run = paths.dense_runner(layer, x.dtype, ("benchmark",))
    else:
        run = {"fused": paths.fused_runner, "wide": paths.wide_runner}.get(
            path, lambda layer, dtype, batch: paths.dequantize_runner(layer, dtype)
        )(layer, x.dtype, x.shape[0])
    return None if run is None else functools.partial(run, x)


def layer_bytes(layer: QuantizedLinear) -> int:
    total = layer.packed_weight.numel() + layer.scales.numel() * layer.scales.element_size()
    return total + (0 if layer.zero_points is None else layer.zero_points.numel())


def copies_for(nbytes: int, l2: int) -> int:
    """Copies to rotate through so that together they are at least 4 L2 caches."""
    return max(2, min(48, math.ceil(4 * l2 / nbytes)))


def check(layer: QuantizedLinear, x: torch.Tensor) -> float:
    ref = x.float() @ layer.dequantized_matrix().T
    return float((layer(x).float() - ref).norm() / ref.norm())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="tune the launch shapes first")
    parser.add_argument("--quick", action="store_true", help="the two 8192-input shapes only")
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON results")
    args = parser.parse_args()

    props = torch.cuda.get_device_properties(0)
    l2 = props.L2_cache_size
    bandwidth = copy_bandwidth()
    print(f"device: {props.name}, {props.multi_processor_count} SMs, L2 {l2 / 2**20:.0f} MiB")
    print(f"device-to-device copy: {bandwidth / 1e9:.0f} GB/s (read + write)")
    results: dict = {"device": props.name, "copy_GBps": bandwidth / 1e9, "rows": [], "sweep": []}
    shapes = SHAPES[2:] if args.quick else SHAPES
    if args.sweep:
        tuned = sweep(shapes, l2, results)
        folder = args.out or Path(".")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "tuned_configs.json"
        path.write_text(source.configs_to_json(tuned))
        os.environ[source.CONFIGS_VARIABLE] = str(path)  # the table below uses them
        print(f"launch shapes in use: {path}")
    print("in use:", {k: str(v) for k, v in source.configs_in_use().items()})
    columns = "".join(f"{name[:6]:>8}" for name in PATH_COLUMNS)
    header = (
        f"{'format':<13}{'shape':>12}{'batch':>6}{columns}{'fp16':>8}{'chosen':>11}{'ours':>8}"
        f"{'eager':>8}{'speedup':>8}{'GB/s':>7}{'of copy':>8}{'rel err':>9}"
    )
    lines = [header]
    print("all times in microseconds; '-': the path cannot run there", flush=True)
    print(header, flush=True)
    for in_f, out_f in shapes:
        dense_bytes = in_f * out_f * 2
        dense = [
            torch.randn(out_f, in_f, device="cuda", dtype=torch.float16)
            for _ in range(copies_for(dense_bytes, l2))
        ]
        for label, (bits, scheme, group) in FORMATS.items():
            layers = rotated_layers(in_f, out_f, bits, scheme, group, l2)
            first = layers[0]
            for batch in BATCHES:
                x = torch.randn(batch, in_f, device="cuda", dtype=torch.float16)
                error = check(first, x)  # also calibrates the dispatch for this shape
                record.drain_notes()
                timings = {}
                for path in PATH_COLUMNS:
                    calls = [path_call(path, layer, x) for layer in layers]
                    if all(call is not None for call in calls):
                        timings[path] = graph_ms(calls) * 1e3
                    del calls
                ours_calls = [functools.partial(layer, x) for layer in layers]
                fp16_calls = [functools.partial(F.linear, x, w) for w in dense]
                ours = graph_ms(ours_calls) * 1e3
                eager = eager_ms(ours_calls) * 1e3
                fp16 = graph_ms(fp16_calls) * 1e3
                (note,) = record.drain_notes() or ["?: ? ("]
                chosen = note.split(": ", 1)[1].split(" (", 1)[0]
                moved = layer_bytes(first) + batch * (in_f + out_f) * 2
                achieved = moved / (ours * 1e-6)
                row = {
                    "format": label, "in": in_f, "out": out_f, "batch": batch,
                    "paths_us": timings, "chosen": chosen, "dispatch_note": note,
                    "ours_us": ours, "eager_us": eager, "fp16_us": fp16,
                    "speedup": fp16 / ours, "GBps": achieved / 1e9,
                    "of_copy": achieved / bandwidth, "rel_err": error,
                }  # fmt: skip
                results["rows"].append(row)
                cells = "".join(
                    f"{timings[p]:>8.1f}" if p in timings else f"{'-':>8}" for p in PATH_COLUMNS
                )
                line = (
                    f"{label:<13}{f'{in_f}x{out_f}':>12}{batch:>6}{cells}{fp16:>8.1f}"
                    f"{chosen:>11}{ours:>8.1f}{eager:>8.1f}{fp16 / ours:>7.2f}x"
                    f"{achieved / 1e9:>7.0f}{achieved / bandwidth:>8.0%}{error:>9.1e}"
                )
                lines.append(line)
                print(line, flush=True)
                print(f"    {note}", flush=True)
            del layers, first
        del dense
        torch.cuda.empty_cache()
    print("\n".join(["", "summary", *lines]))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "weight_only_kernels.json").write_text(json.dumps(results, indent=1))


def rotated_layers(in_f, out_f, bits, scheme, group, l2) -> list[QuantizedLinear]:
    first = random_layer(in_f, out_f, bits, scheme, group)
    count = copies_for(layer_bytes(first), l2)
    return [first] + [random_layer(in_f, out_f, bits, scheme, group) for _ in range(count - 1)]


def sweep(shapes, l2, results) -> dict[int, source.FusedConfig]:
    """Time every launch shape; per batch tiles, pick the one with the lowest mean time
    relative to the best of each case (every shape and format counts alike)."""
    relative: dict[str, list[float]] = {}
    for in_f, out_f in shapes:
        for label, (bits, scheme, group) in FORMATS.items():
            layers = rotated_layers(in_f, out_f, bits, scheme, group, l2)
            group_size = layers[0].format.group_size
            for batch in (1, 16, 32):
                x = torch.randn(batch, in_f, device="cuda", dtype=torch.float16)
                out = torch.empty(batch, out_f, device="cuda", dtype=torch.float16)
                timings = {}
                for config in source.SWEEP_CONFIGS:
                    if config.batch_tiles != source.batch_tiles_for(batch):
                        continue
                    calls = [
                        functools.partial(
                            launch.fused_gemm, x, layer.packed_weight, layer.scales, None,
                            None, out, bits=bits, group_size=group_size, config=config,
                            tiled=layer.format.layout == "tiled",
                        )
                        for layer in layers
                    ]  # fmt: skip
                    timings[str(config)] = graph_ms(calls) * 1e3
                best = min(timings.values())
                for name, value in timings.items():
                    relative.setdefault(name, []).append(value / best)
                fastest = min(timings, key=timings.get)
                results["sweep"].append(
                    {"format": label, "in": in_f, "out": out_f, "batch": batch, "us": timings}
                )
                print(
                    f"  sweep {label} {in_f}x{out_f} batch {batch}: fastest {fastest} "
                    f"{timings[fastest]:.1f} us",
                    flush=True,
                )
            del layers
        torch.cuda.empty_cache()
    tuned = {}
    for tiles in (1, 2, 4):
        candidates = [c for c in source.SWEEP_CONFIGS if c.batch_tiles == tiles]
        scores = {c: sum(relative[str(c)]) / len(relative[str(c)]) for c in candidates}
        tuned[tiles] = min(scores, key=scores.get)
        ranking = sorted(scores.items(), key=lambda item: item[1])[:4]
        print(f"  tiles {tiles}: " + ", ".join(f"{c} {v:.3f}" for c, v in ranking))
    return tuned


if __name__ == "__main__":
    main()
