"""Our CUDA kernels against a float64 reference of dequantize-then-matmul (needs a GPU).

Fresh random codes, scales, zero points and activations for every case; shapes with odd
row counts, padded rows and group boundaries; both layouts (rows, format version 1, and
tiled); every path (fused kernel, wide kernel, dequantize + cuBLAS, dense copy), forced
through ``SQUEEZEBENCH_CUDA_DISPATCH`` or chosen by the calibration. The relative error
||out - ref|| / ||ref|| must stay under 1e-2 for float16/bfloat16 activations (float32
accumulation: expect about 1e-3), and the output must be fully written (it is poisoned with
NaN first).
"""

from __future__ import annotations

import json
import zlib

import pytest
import torch

from squeezebench.quantized.cuda.decisions import DISPATCH_VARIABLE
from squeezebench.quantized.layers import QuantizedLinear
from squeezebench.quantized.layout import tiled_problem
from squeezebench.quantized.packing import PackedWeight, dequantize, pack_codes, plan_format

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    pytest.mark.gpu,
]
cupy = pytest.importorskip("cupy", reason="the CUDA kernels need CuPy (squeezebench[cuda])")

from squeezebench.quantized.cuda import (  # noqa: E402
    dispatch,
    launch,
    paths,
    record,
    source,
    wide_source,
)

TOLERANCE = 1e-2


def random_layer(
    out_features: int,
    in_features: int,
    bits: int,
    scheme: str,
    group_size: int | None,
    scale_dtype: torch.dtype,
    bias: bool,
    generator: torch.Generator,
    layout: str = "auto",
) -> QuantizedLinear:
    fmt = plan_format(out_features, in_features, bits, scheme, group_size, scale_dtype)
    codes = torch.randint(0, 1 << bits, (out_features, fmt.padded_in_features), generator=generator)
    scales = (torch.rand(fmt.scale_shape, generator=generator) * 0.02 + 0.002).to(scale_dtype)
    zeros = None
    if scheme == "asymmetric":
        zeros = torch.randint(0, 1 << bits, fmt.scale_shape, generator=generator).to(torch.uint8)
    weight = PackedWeight(fmt, pack_codes(codes.to(torch.uint8), bits), scales, zeros)
    bias_values = torch.randn(out_features, generator=generator) if bias else None
    if layout == "auto":
        layout = "tiled" if tiled_problem(fmt) is None else "rows"
    layer = QuantizedLinear(plan_format(*fmt_args(fmt), layout=layout), bias=bias)
    return layer.load_packed(weight, bias_values)  # converted to the layer's layout


def fmt_args(fmt) -> tuple:
    group = None if fmt.groups == 1 else fmt.group_size
    return (fmt.out_features, fmt.in_features, fmt.bits, fmt.scheme, group, fmt.scale_dtype)


def reference(layer: QuantizedLinear, x: torch.Tensor) -> torch.Tensor:
    """float64 dequantize-then-matmul on the CPU."""
    fmt = layer.format
    zeros = None if layer.zero_points is None else layer.zero_points.cpu()
    weight = dequantize(fmt, layer.packed_weight.cpu(), layer.scales.cpu(), zeros).double()
    out = x.double().cpu() @ weight.T
    if layer.bias is not None:
        out += layer.bias.double().cpu()
    return out


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    out = out.double().cpu()
    assert torch.isfinite(out).all(), "output not fully written (NaN poison left) or overflow"
    return float((out - ref).norm() / ref.norm())


@pytest.fixture(autouse=True)
def own_decisions(monkeypatch, tmp_path):
    """Each test decides afresh, in its own decision file."""
    monkeypatch.setenv(DISPATCH_VARIABLE, str(tmp_path / "decisions.json"))
    dispatch._store.cache_clear()
    record.clear()


CASES = [
    # (out, in, bits, scheme, group_size, scale dtype)
    (96, 4096, 4, "symmetric", 128, torch.float16),  # tiled
    (77, 1030, 4, "symmetric", 128, torch.float16),  # odd rows, padded K, partial K block
    (130, 512, 4, "asymmetric", 32, torch.float16),
    (64, 768, 4, "symmetric", 64, torch.float32),  # tiled, float32 scales
    (48, 1024, 4, "symmetric", None, torch.float16),  # per channel, tiled
    (208, 2048, 8, "symmetric", None, torch.float16),  # int8 per channel, tiled
    (33, 1040, 8, "asymmetric", 16, torch.float32),
    (32, 4096, 8, "asymmetric", 128, torch.float16),  # tiled
    (40, 1030, 8, "symmetric", None, torch.float16),  # K not whole chunks: dequantize path
    (40, 144, 4, "symmetric", 48, torch.float16),  # group straddles lanes: dequantize path
    (24, 256, 2, "asymmetric", 32, torch.float16),  # 2 bits: dequantize path
    (24, 200, 1, "binary", None, torch.float16),  # 1 bit: dequantize path
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}x{c[1]}-{c[2]}b-{c[3]}-{c[4]}")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("batch", [1, 3, 8, 16, 17, 32, 33, 64, 130])
def test_layer_matches_float64_reference(case, dtype, batch) -> None:
    out_features, in_features = case[:2]
    generator = torch.Generator().manual_seed(zlib.crc32(repr((case, dtype, batch)).encode()))
    layer = random_layer(*case, bias=batch % 2 == 1, generator=generator).cuda()
    x = torch.randn(batch, in_features, generator=generator).to(dtype)
    # poison the allocator: the output will likely reuse this NaN block
    torch.full((batch * out_features * 4,), float("nan"), device="cuda")
    out = layer(x.cuda())
    torch.cuda.synchronize()
    assert out.shape == (batch, out_features) and out.dtype == dtype
    assert relative_error(out, reference(layer, x)) < TOLERANCE


TILED_CASES = [case for case in CASES if tiled_problem(plan_format(*case)) is None]


@pytest.mark.parametrize("path", ["fused", "wide", "dequantize", "dense"])
@pytest.mark.parametrize("case", TILED_CASES, ids=lambda c: f"{c[0]}x{c[1]}-{c[2]}b-{c[4]}")
@pytest.mark.parametrize("layout", ["rows", "tiled"])
@pytest.mark.parametrize("batch", [1, 9, 16, 24, 40, 64, 100])
def test_every_path_in_both_layouts(monkeypatch, path, case, layout, batch) -> None:
    monkeypatch.setenv(DISPATCH_VARIABLE, path)
    generator = torch.Generator().manual_seed(zlib.crc32(repr((path, case, batch)).encode()))
    layer = random_layer(*case, bias=True, generator=generator, layout=layout).cuda()
    x = torch.randn(batch, case[1], generator=generator).half()
    torch.full((batch * case[0] * 4,), float("nan"), device="cuda")
    out = layer(x.cuda())
    torch.cuda.synchronize()
    assert relative_error(out, reference(layer, x)) < TOLERANCE
    (note,) = record.drain_notes()
    available = paths.available_paths(layer, torch.float16, batch)
    expected = path if path in available else paths.heuristic_path(available, batch)
    assert f": {expected} (" in note


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("grid", [1, 3, 7, 64])
@pytest.mark.parametrize("batch", [5, 16, 33, 64])
def test_wide_kernel_stripes_add_split_tiles_and_leave_scratch_zero(bits, grid, batch) -> None:
    """Small grids split tiles between blocks (workspace and arrival counters); calling twice
    checks that the kernel left both zero."""
    generator = torch.Generator().manual_seed(grid * 1000 + batch + bits)
    group = 128 if bits == 4 else None
    layer = random_layer(192, 1024, bits, "asymmetric", group, torch.float16, True, generator)
    layer = layer.cuda()
    assert layer.format.layout == "tiled"
    config = wide_source.wide_config(batch)
    run = launch.prepare_wide(
        *paths.kernel_buffers(layer), activation=torch.float16, rows=batch,
        padded_in_features=1024, bits=bits, group_size=layer.format.group_size,
        config=config, grid=grid,
    )  # fmt: skip
    x = torch.randn(batch, 1024, generator=generator).half()
    xs = x.cuda()
    workspace = torch.zeros(192 * 64, dtype=torch.float32, device="cuda")
    counters = torch.zeros(192, dtype=torch.int32, device="cuda")
    stream = torch.cuda.current_stream().cuda_stream
    for _ in range(2):
        out = torch.full((batch, 192), float("nan"), dtype=torch.float16, device="cuda")
        run(xs.data_ptr(), out.data_ptr(), stream, workspace.data_ptr(), counters.data_ptr())
        torch.cuda.synchronize()
        assert relative_error(out, reference(layer, x)) < TOLERANCE
        assert int(counters.count_nonzero()) == 0 and int(workspace.count_nonzero()) == 0


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("batch", [1, 5, 8, 12, 16, 31, 32])
@pytest.mark.parametrize("tiled", [False, True])
@pytest.mark.parametrize("config", source.SWEEP_CONFIGS, ids=str)
def test_every_launch_shape_writes_every_output(bits, batch, tiled, config) -> None:
    if source.batch_tiles_for(batch) != config.batch_tiles:
        pytest.skip("this launch shape serves another batch size")
    generator = torch.Generator().manual_seed(batch * 100 + bits)
    layer = random_layer(160, 640 if bits == 8 else 768, bits, "symmetric",
                         64 if bits == 4 else None, torch.float16, True, generator,
                         layout="tiled" if tiled else "rows").cuda()  # fmt: skip
    in_features = layer.in_features
    x = torch.randn(batch, in_features, generator=generator).half()
    out = torch.full((batch, 160), float("nan"), dtype=torch.float16, device="cuda")
    launch.fused_gemm(
        x.cuda(), layer.packed_weight, layer.scales, layer.zero_points,
        layer.bias.float(), out, bits=bits, group_size=layer.format.group_size, config=config,
        tiled=tiled,
    )  # fmt: skip
    torch.cuda.synchronize()
    assert relative_error(out, reference(layer, x)) < TOLERANCE


def test_calibration_picks_a_correct_path_and_records_it(tmp_path) -> None:
    generator = torch.Generator().manual_seed(2026)
    layer = random_layer(2048, 2048, 4, "symmetric", 128, torch.float16, False, generator)
    layer = layer.cuda()
    for batch in (1, 64):
        x = torch.randn(batch, 2048, generator=generator).half()
        assert relative_error(layer(x.cuda()), reference(layer, x)) < TOLERANCE
    notes = record.drain_notes()
    assert len(notes) == 2 and all("(calibrated on " in note for note in notes)
    decisions = json.loads((tmp_path / "decisions.json").read_text())["decisions"]
    assert len(decisions) == 2
    for decision in decisions.values():
        assert set(decision["timings_us"]) | set(decision["rejected"]) >= {"fused", "dequantize"}
        assert decision["rejected"] == {}, decision["rejected"]  # every kernel agrees


def test_three_dimensional_input_and_float32_activations() -> None:
    generator = torch.Generator().manual_seed(7)
    layer = random_layer(64, 256, 4, "symmetric", 32, torch.float16, True, generator).cuda()
    x = torch.randn(2, 5, 256, generator=generator)
    for dtype in (torch.float16, torch.float32):
        out = layer(x.to(dtype).cuda())
        assert out.shape == (2, 5, 64)
        assert relative_error(out.reshape(10, 64), reference(layer, x.reshape(10, 256))) < 1e-2


def test_model_converted_to_half_keeps_working() -> None:
    """``model.half()`` turns float32 scales and the bias into float16: still correct."""
    generator = torch.Generator().manual_seed(3)
    layer = random_layer(32, 512, 8, "symmetric", None, torch.float32, True, generator)
    layer = layer.cuda().half()
    assert layer.scales.dtype == torch.float16 and layer.bias.dtype == torch.float16
    x = torch.randn(4, 512, generator=generator).half()
    assert relative_error(layer(x.cuda()), reference(layer, x)) < TOLERANCE


def test_runs_on_torchs_current_stream() -> None:
    """Work on a side stream is ordered with the torch ops around it on that stream."""
    generator = torch.Generator().manual_seed(11)
    layer = random_layer(256, 4096, 4, "symmetric", 128, torch.float16, False, generator).cuda()
    x = torch.randn(1, 4096, generator=generator).half().cuda()
    expected = layer(x)
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        torch.cuda._sleep(10_000_000)  # keep the side stream busy
        y = layer(x * 1.0)
        got = y.clone()
    side.synchronize()
    torch.testing.assert_close(got, expected)
    assert dispatch.kernels_enabled()
