"""The dispatcher of packed Linear layers on CUDA, with fake runners and a fake timer (no GPU).

The runners stand in for the kernels (they compute the reference product on the CPU, or a
wrong one on purpose), the timer returns fixed microseconds per path: what is tested is the
decision logic of ``dispatch``, ``calibration`` and ``decisions`` as the real CUDA path uses
it, with the real decision file.
"""

from __future__ import annotations

import sys
import warnings

import pytest
import torch

from squeezebench.errors import UserError
from squeezebench.quantized.cuda import calibration, dispatch, paths, record
from squeezebench.quantized.cuda.decisions import DISPATCH_VARIABLE
from squeezebench.quantized.layers import QuantizedLinear
from squeezebench.quantized.packing import quantize_affine

H200_BATCH_64 = {"fused": 266.8, "wide": 50.1, "dequantize": 240.0, "dense": 120.2}


def _layer(out_features: int = 32, in_features: int = 256, seed: int = 0) -> QuantizedLinear:
    torch.manual_seed(seed)
    dense = torch.nn.Linear(in_features, out_features)
    weight = quantize_affine(dense.weight, 4, True, 128)
    return QuantizedLinear.from_float(dense, weight)


class FakeRunner:
    """Computes the layer's reference product (``wrong``: a different one; ``fail``: raises)."""

    def __init__(self, path: str, layer: QuantizedLinear, wrong=False, fail=False) -> None:
        self.path, self.layer, self.wrong, self.fail = path, layer, wrong, fail
        self.calls = 0

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.fail:
            raise RuntimeError("CUDA_ERROR_INVALID_PTX\nmore lines")
        out = self.layer.reference_forward(rows.float())
        return (out * 3 if self.wrong else out).to(rows.dtype)


class FakeGPU:
    """Patches the dispatcher's device-facing functions; records what it was asked."""

    def __init__(self, monkeypatch, tmp_path) -> None:
        self.times = dict(H200_BATCH_64)
        self.timed: list[str] = []
        self.wrong: set[str] = set()
        self.failing: set[str] = set()
        self.no_dense = False
        self.capturing = False
        self.runners: list[FakeRunner] = []
        self.file = tmp_path / "decisions.json"
        monkeypatch.setenv(DISPATCH_VARIABLE, str(self.file))
        monkeypatch.setattr(dispatch, "cupy_problem", lambda: None)
        monkeypatch.setattr(dispatch, "_device_name", lambda device: "Fake GPU")
        monkeypatch.setattr(dispatch, "_l2_bytes", lambda device: 0)
        monkeypatch.setattr(dispatch, "MIN_CALIBRATED_WEIGHTS", 0)
        monkeypatch.setattr(dispatch, "build_runner", self.build_runner)
        monkeypatch.setattr(calibration, "event_timer", lambda device, flush: self.timer)
        monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: self.capturing)
        self.new_process()

    def build_runner(self, path, layer, dtype, batch, state):
        if path == "dense" and self.no_dense:
            return None
        runner = FakeRunner(path, layer, path in self.wrong, path in self.failing)
        self.runners.append(runner)
        return runner

    def timer(self, call) -> float:
        self.timed.append(call.func.path)
        return self.times[call.func.path]

    def new_process(self) -> None:
        """Forget what this process decided and prepared (the decision file stays)."""
        dispatch._store.cache_clear()
        dispatch._plans.clear()
        record.clear()
        self.timed.clear()


@pytest.fixture
def gpu(monkeypatch, tmp_path):
    fake = FakeGPU(monkeypatch, tmp_path)
    yield fake
    fake.new_process()  # leave no decision, plan or note behind for other tests


def _forward(layer: QuantizedLinear, batch: int) -> torch.Tensor:
    x = torch.randn(batch, layer.in_features).half()
    out = dispatch.cuda_linear(x, layer)
    torch.testing.assert_close(out.float(), layer.reference_forward(x.float()), atol=2e-2, rtol=0)
    return out


def _chosen(layer: QuantizedLinear, batch: int) -> str:
    rows = torch.zeros(batch, layer.in_features, dtype=torch.float16)
    return dispatch.plan_for(layer, rows).path


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (H200_BATCH_64, "wide"),  # our wide kernel beats cuBLAS
        ({**H200_BATCH_64, "wide": 130.0}, "dense"),  # it does not: never slower than cuBLAS
        ({**H200_BATCH_64, "wide": 121.0}, "wide"),  # within 2% of dense: keep the memory
        ({"fused": 16.1, "wide": 30.0, "dequantize": 60.0, "dense": 43.5}, "fused"),  # batch 1
    ],
)
def test_calibration_takes_the_fastest_path(gpu, times, expected) -> None:
    gpu.times = times
    _forward(_layer(), 64)
    assert _chosen(_layer(), 64) == expected
    assert sorted(gpu.timed) == sorted(times)  # each candidate timed once, then cached


def test_the_decision_is_kept_on_disk_and_reused_by_the_next_process(gpu) -> None:
    layer = _layer()
    _forward(layer, 64)
    assert gpu.file.is_file() and "Fake GPU|float16|int4-symm-g128-f16-tiled|256x32|b64" in (
        gpu.file.read_text()
    )
    gpu.new_process()
    _forward(layer, 60)  # same bucket (33-64 rows)
    assert gpu.timed == []  # nothing timed: the file decided
    (note,) = record.drain_notes()
    assert note.startswith("cuda linear 256x32 int4-symm-g128-f16-tiled float16 batch<=64: wide")
    assert "cached on Fake GPU" in note and "wide 50.1 us" in note


def test_a_path_that_disagrees_or_fails_is_never_chosen(gpu) -> None:
    gpu.wrong, gpu.failing = {"wide"}, {"fused"}
    _forward(_layer(), 64)
    (note,) = record.drain_notes()
    assert ": dense (calibrated" in note
    assert "wide rejected: disagrees with dequantize (relative error 2)" in note
    assert "fused rejected: failed: RuntimeError: CUDA_ERROR_INVALID_PTX" in note
    assert sorted(gpu.timed) == ["dense", "dequantize"]


def test_a_dense_copy_over_the_budget_gives_way_to_the_next_fastest(gpu) -> None:
    gpu.times = {**H200_BATCH_64, "wide": 130.0}
    layer = _layer()
    assert _chosen(layer, 64) == "dense"
    gpu.new_process()
    gpu.no_dense = True  # the file says dense, this process's budget says no
    assert _chosen(layer, 64) == "wide"
    gpu.new_process()
    gpu.file.unlink()
    assert _chosen(layer, 64) == "wide"  # calibrating without it
    assert "dense" not in gpu.timed


def test_forced_and_heuristic_settings_skip_calibration(gpu, monkeypatch) -> None:
    layer = _layer()
    monkeypatch.setenv(DISPATCH_VARIABLE, "dequantize")
    assert _chosen(layer, 8) == "dequantize"
    gpu.new_process()
    monkeypatch.setenv(DISPATCH_VARIABLE, "heuristic")
    assert _chosen(layer, 8) == "fused" and _chosen(layer, 200) == "dequantize"
    gpu.new_process()
    monkeypatch.setenv(DISPATCH_VARIABLE, "wide")
    assert _chosen(layer, 300) == "dequantize"  # wide takes up to 256 rows: heuristic
    assert gpu.timed == [] and not gpu.file.exists()
    gpu.new_process()
    monkeypatch.setenv(DISPATCH_VARIABLE, "fastest")
    with pytest.raises(UserError, match=r"SQUEEZEBENCH_CUDA_DISPATCH='fastest': expected one of"):
        _chosen(layer, 8)


def test_no_calibration_while_capturing_a_graph_or_for_small_layers(gpu, monkeypatch) -> None:
    layer = _layer()
    gpu.capturing = True
    assert _chosen(layer, 64) == "fused"  # the static plan, not kept
    assert gpu.timed == [] and dispatch._plans[layer] == {}
    gpu.capturing = False
    assert _chosen(layer, 64) == "wide"  # the first call outside capture calibrates
    monkeypatch.setattr(dispatch, "MIN_CALIBRATED_WEIGHTS", 1 << 20)
    small = _layer(seed=1, out_features=16, in_features=128)
    assert _chosen(small, 64) == "fused" and len(gpu.timed) == 4


def test_notes_say_per_key_what_ran_since_the_last_drain(gpu) -> None:
    layer, other = _layer(), _layer(out_features=48, in_features=512, seed=2)
    for batch in (1, 64, 1):
        _forward(layer, batch)
    _forward(other, 1)
    notes = record.drain_notes()
    assert [n.split(":")[0] for n in notes] == [
        "cuda linear 256x32 int4-symm-g128-f16-tiled float16 batch<=1",
        "cuda linear 256x32 int4-symm-g128-f16-tiled float16 batch<=64",
        "cuda linear 512x48 int4-symm-g128-f16-tiled float16 batch<=1",
    ]
    assert record.drain_notes() == []
    _forward(layer, 64)
    assert len(record.drain_notes()) == 1 and len(record.choices()) == 3


def test_plans_are_prepared_once_per_shape_until_the_buffers_change(gpu) -> None:
    layer = _layer()
    rows = torch.zeros(1, 256, dtype=torch.float16)
    one = dispatch.plan_for(layer, rows)
    assert dispatch.plan_for(layer, rows) is one
    forty = dispatch.plan_for(layer, torch.zeros(40, 256, dtype=torch.float16))
    assert dispatch.plan_for(layer, rows) is one and forty is not one  # both shapes kept
    prepared = len(gpu.runners)
    with torch.no_grad():
        layer.scales.mul_(2)  # in place: the tensor's version moves on
    assert dispatch.plan_for(layer, rows) is not one
    assert len(gpu.runners) == prepared + 1  # the decision is reused, the runner remade
    assert len(dispatch._plans[layer]) == 1  # the stale 40-row plan is gone


def test_paths_each_format_can_take() -> None:
    tiled = _layer()
    every = ["fused", "wide", "dequantize", "dense"]
    assert paths.available_paths(tiled, torch.float16, 64) == every
    assert paths.available_paths(tiled, torch.float16, 200) == ["wide", "dequantize", "dense"]
    assert paths.available_paths(tiled, torch.float32, 1) == ["dequantize", "dense"]
    torch.manual_seed(0)
    rows_layout = QuantizedLinear.from_float(
        torch.nn.Linear(256, 24), quantize_affine(torch.randn(24, 256), 4, True, 128)
    )
    assert rows_layout.format.layout == "rows"  # 24 rows: not whole tiles of 16
    assert paths.available_paths(rows_layout, torch.bfloat16, 1) == ["fused", "dequantize", "dense"]
    two_bit = QuantizedLinear.from_float(
        torch.nn.Linear(256, 32), quantize_affine(torch.randn(32, 256), 2, False, 32)
    )
    assert paths.available_paths(two_bit, torch.float16, 1) == ["dequantize", "dense"]


def test_fused_runner_prepares_one_launch_per_32_rows_in_the_layers_layout(monkeypatch) -> None:
    from squeezebench.quantized.cuda import launch

    prepared = []

    def fake_prepare(*args, rows, tiled, config, **kwargs):
        prepared.append((rows, tiled, config.batch_tiles))
        return lambda x_pointer, out_pointer, stream: None

    monkeypatch.setattr(launch, "prepare_fused", fake_prepare)
    paths.fused_runner(_layer(), torch.float16, 40)
    assert prepared == [(32, True, 4), (8, True, 1)]


@pytest.fixture
def no_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ModuleNotFoundError
    monkeypatch.setattr(dispatch, "_cupy_state", {})


def test_without_cupy_the_reference_path_runs_and_says_so_once(no_cupy) -> None:
    layer, x = _layer(), torch.randn(3, 256)
    with pytest.warns(RuntimeWarning, match=r"pip install 'squeezebench\[cuda\]'"):
        first = dispatch.cuda_linear(x, layer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would raise
        second = dispatch.cuda_linear(x, layer)
    torch.testing.assert_close(first, layer.reference_forward(x))
    torch.testing.assert_close(second, first)


def test_kernels_can_be_switched_off_and_float64_takes_the_reference(monkeypatch, gpu) -> None:
    layer = _layer()
    x = torch.randn(2, 256, dtype=torch.float64)
    torch.testing.assert_close(dispatch.cuda_linear(x, layer), layer.reference_forward(x))
    assert gpu.runners == []
    monkeypatch.setenv(dispatch.KERNELS_VARIABLE, "0")
    assert not dispatch.kernels_enabled()
    x = torch.randn(2, 256)
    torch.testing.assert_close(dispatch.cuda_linear(x, layer), layer.reference_forward(x))
    assert gpu.runners == []


def test_cpu_inputs_never_reach_the_cuda_path(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("cuda_linear called for a CPU tensor")

    import squeezebench.quantized.cuda as cuda_package

    monkeypatch.setattr(cuda_package, "cuda_linear", fail)  # what the layer imports
    layer, x = _layer(), torch.randn(2, 256)
    torch.testing.assert_close(layer(x), layer.reference_forward(x))
