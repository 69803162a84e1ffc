"""The tensorrt backend against a fake ``tensorrt`` module: no GPU or TensorRT is needed.

What these tests cannot show: that real TensorRT builds and runs the engine. They pin the
option mapping, the ONNX the backend is fed, the skip reasons and the runner's bindings.
"""

from __future__ import annotations

import ctypes
import sys
import types

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from squeezebench.errors import BackendUnavailable
from squeezebench.plugins.builtin.backends import _tensorrt_build as build
from squeezebench.plugins.builtin.backends import tensorrt_backend
from squeezebench.plugins.builtin.backends._tensorrt_build import TensorRTOptions
from squeezebench.plugins.builtin.backends.tensorrt_backend import TensorRTBackend
from squeezebench.plugins.builtin.converters.torch_to_onnx import TorchToOnnx
from squeezebench.plugins.builtin.models.digits_models import build_architecture
from squeezebench.spec.models import TargetSpec

# -- a fake tensorrt ---------------------------------------------------------------------


class Enum:
    def __init__(self, name: str, value: int = 0) -> None:
        self.name, self.value = name, value

    def __int__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return self.name


def fake_tensorrt(version: str = "10.7.0", *, parses: bool = True, builds: bool = True):
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.calls = []
    trt.BuilderFlag = types.SimpleNamespace(FP16=Enum("FP16"), TF32=Enum("TF32"))
    if version.startswith("11"):
        del trt.BuilderFlag.FP16
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=Enum("ST", 1))
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE=Enum("WORKSPACE"))
    trt.TensorIOMode = types.SimpleNamespace(INPUT=Enum("INPUT"), OUTPUT=Enum("OUTPUT"))
    trt.DataType = types.SimpleNamespace(FLOAT=Enum("FLOAT"))

    class ILogger:
        Severity = types.SimpleNamespace(ERROR=Enum("ERROR"), INTERNAL_ERROR=Enum("IE"))

        def __init__(self) -> None:
            pass

    class Config:
        def __init__(self) -> None:
            self.flags: dict[str, bool] = {"TF32": True}  # TensorRT's default
            self.builder_optimization_level = 3
            self.profiles: list[dict] = []

        def set_flag(self, flag: Enum) -> None:
            self.flags[flag.name] = True

        def clear_flag(self, flag: Enum) -> None:
            self.flags[flag.name] = False

        def set_memory_pool_limit(self, pool: Enum, size: int) -> None:
            trt.calls.append(("pool", pool.name, size))

        def add_optimization_profile(self, profile: dict) -> int:
            self.profiles.append(profile)
            return len(self.profiles) - 1

    class Profile(dict):
        def set_shape(self, name: str, low: tuple, opt: tuple, high: tuple) -> None:
            self[name] = (low, opt, high)

    class Builder:
        def __init__(self, logger: ILogger) -> None:
            self.logger = logger

        def create_network(self, flags: int) -> types.SimpleNamespace:
            trt.calls.append(("network", flags))
            return types.SimpleNamespace()

        def create_builder_config(self) -> Config:
            return Config()

        def create_optimization_profile(self) -> Profile:
            return Profile()

        def build_serialized_network(self, network: object, config: Config) -> bytes | None:
            trt.config = config
            if not builds:
                self.logger.log(ILogger.Severity.ERROR, "out of workspace memory")
                return None
            return b"engine:" + repr(sorted(config.flags.items())).encode()

    class OnnxParser:
        def __init__(self, network: object, logger: ILogger) -> None:
            self.num_errors = 0 if parses else 1

        def parse(self, payload: bytes) -> bool:
            trt.parsed = payload
            return parses

        def get_error(self, index: int) -> str:
            return "In node 3 (Foo): unsupported operator"

    trt.ILogger, trt.Builder, trt.OnnxParser = ILogger, Builder, OnnxParser
    trt.Runtime = lambda logger: types.SimpleNamespace(deserialize_cuda_engine=FakeEngine)
    return trt


class FakeEngine:
    """One input 'input' (n, k) and one output 'output' (n, 1): the row sums, on the CPU."""

    def __init__(self, engine_bytes: bytes) -> None:
        self.num_io_tensors = 2

    def get_tensor_name(self, index: int) -> str:
        return ["input", "output"][index]

    def get_tensor_mode(self, name: str) -> Enum:
        trt = sys.modules["tensorrt"]
        return trt.TensorIOMode.INPUT if name == "input" else trt.TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name: str) -> Enum:
        return sys.modules["tensorrt"].DataType.FLOAT

    def create_execution_context(self) -> FakeContext:
        return FakeContext()


class FakeContext:
    def __init__(self) -> None:
        self.shape: tuple[int, ...] = ()
        self.addresses: dict[str, int] = {}
        self.bindings = 0

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        self.shape = shape
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return (self.shape[0], 1)

    def set_tensor_address(self, name: str, address: int) -> None:
        self.addresses[name] = address
        self.bindings += 1

    def execute_async_v3(self, stream_handle: int) -> bool:
        assert stream_handle == 1234
        n, k = self.shape
        source = _array(self.addresses["input"], n * k).reshape(n, k)
        _array(self.addresses["output"], n)[:] = source.sum(axis=1)
        return True


def _array(address: int, count: int) -> np.ndarray:
    return np.ctypeslib.as_array(ctypes.cast(address, ctypes.POINTER(ctypes.c_float)), (count,))


class FakeStream:
    cuda_stream = 1234

    def __init__(self, device: object = None) -> None:
        pass

    def synchronize(self) -> None:
        pass


@pytest.fixture
def trt(monkeypatch) -> types.ModuleType:
    module = fake_tensorrt()
    monkeypatch.setitem(sys.modules, "tensorrt", module)
    return module


def _onnx_of(model: torch.nn.Module, example: torch.Tensor) -> bytes:
    return TorchToOnnx().convert(model, example)


@pytest.fixture(scope="module")
def mlp_onnx() -> bytes:
    torch.manual_seed(0)
    return _onnx_of(build_architecture("digits-mlp").eval(), torch.zeros(2, 64))


def _qdq_onnx(zero_point: int, zero_type: int) -> bytes:
    scale = helper.make_tensor("scale", TensorProto.FLOAT, [], [0.1])
    zero = helper.make_tensor("zero", zero_type, [], [zero_point])
    graph = helper.make_graph(
        [
            helper.make_node("QuantizeLinear", ["input", "scale", "zero"], ["q"], name="q0"),
            helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["output"], name="dq0"),
        ],
        "qdq",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 4])],
        [scale, zero],
    )
    return helper.make_model(graph).SerializeToString()


def _target(**options: object) -> TargetSpec:
    return TargetSpec(backend="tensorrt", device="cuda", options=options)


# -- the ONNX it is fed --------------------------------------------------------------------


def test_the_converted_model_has_the_names_and_dynamic_batch_the_profile_needs(mlp_onnx) -> None:
    onnx.checker.check_model(onnx.load_model_from_string(mlp_onnx))
    signature = build.describe_onnx(mlp_onnx)
    assert (signature.input_name, signature.output_name) == ("input", "output")
    assert signature.input_shape == (-1, 64)
    assert signature.dynamic_batch and not signature.other_dynamic_dims
    assert signature.qdq_nodes == 0


def test_qdq_zero_points_are_read() -> None:
    symmetric = build.describe_onnx(_qdq_onnx(0, TensorProto.INT8))
    assert symmetric.qdq_nodes == 2 and symmetric.asymmetric_qdq == ()
    skewed = build.describe_onnx(_qdq_onnx(128, TensorProto.UINT8))
    assert skewed.asymmetric_qdq == ("q0", "dq0")


# -- options to builder settings -----------------------------------------------------------


def _build(trt, payload: bytes, **options: object) -> tuple[bytes, list[str]]:
    signature = build.describe_onnx(payload)
    logger = build.make_logger(trt)
    return build.build_serialized_engine(
        trt, payload, TensorRTOptions(**options), signature, logger
    )


def test_fp32_clears_tf32_and_builds_a_batch_profile(trt, mlp_onnx) -> None:
    engine, applied = _build(trt, mlp_onnx, workspace_mb=512, max_batch_size=64)
    assert trt.parsed == mlp_onnx
    assert ("network", 0) in trt.calls
    assert ("pool", "WORKSPACE", 512 * 2**20) in trt.calls
    assert trt.config.flags == {"TF32": False}
    assert trt.config.profiles == [{"input": ((1, 64), (64, 64), (64, 64))}]
    assert engine.startswith(b"engine:")
    assert "workspace 512 MiB" in applied


def test_fp16_and_tf32_flags(trt, mlp_onnx) -> None:
    _build(trt, mlp_onnx, precision="fp16", tf32=True, opt_batch_size=8)
    assert trt.config.flags == {"TF32": True, "FP16": True}
    assert trt.config.profiles[0]["input"][1] == (8, 64)
    assert trt.config.builder_optimization_level == 3


def test_int8_builds_explicit_qdq_strongly_typed_without_precision_flags(trt) -> None:
    _, applied = _build(
        trt, _qdq_onnx(0, TensorProto.INT8), precision="int8", builder_optimization_level=5
    )
    assert ("network", 1 << 1) in trt.calls  # STRONGLY_TYPED
    assert trt.config.flags == {"TF32": True}  # untouched: Q/DQ decide the precisions
    assert trt.config.builder_optimization_level == 5
    assert "strongly typed (explicit Q/DQ int8)" in applied


@pytest.mark.parametrize(
    ("payload", "precision", "message"),
    [
        ("float", "int8", r"needs an explicitly quantized ONNX model .* deprecated since"),
        ("skewed", "int8", r"only symmetric int8 Q/DQ .* 2 node\(s\) .*\(first: q0\)"),
        ("symmetric", "fp32", "build it with precision int8"),
    ],
)
def test_precision_and_quantization_mismatches_are_reasons(
    trt, mlp_onnx, payload: str, precision: str, message: str
) -> None:
    models = {
        "float": mlp_onnx,
        "skewed": _qdq_onnx(128, TensorProto.UINT8),
        "symmetric": _qdq_onnx(0, TensorProto.INT8),
    }
    with pytest.raises(BackendUnavailable, match=message):
        _build(trt, models[payload], precision=precision)


def test_an_unparsable_model_names_the_first_parser_error(monkeypatch, mlp_onnx) -> None:
    trt = fake_tensorrt(parses=False)
    with pytest.raises(BackendUnavailable, match=r"TensorRT 10.7.0 cannot parse .* node 3"):
        _build(trt, mlp_onnx)


def test_a_failed_build_reports_the_logged_error(mlp_onnx) -> None:
    trt = fake_tensorrt(builds=False)
    with pytest.raises(RuntimeError, match="out of workspace memory"):
        _build(trt, mlp_onnx)


def test_profile_pins_other_dynamic_dims_to_the_sample() -> None:
    signature = build.OnnxSignature("input", (-1, -1), "output", 0, ())
    options = TensorRTOptions(max_batch_size=16)
    assert build.profile_shapes(signature, options, (4, 128)) == ((1, 128), (16, 128), (16, 128))
    static = build.OnnxSignature("input", (2, 8), "output", 0, ())
    assert build.profile_shapes(static, options, None) is None


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="opt_batch_size"):
        TensorRTOptions(opt_batch_size=64, max_batch_size=32)
    with pytest.raises(ValueError):
        TensorRTOptions(precision="int4")


# -- check(): why a target is skipped ------------------------------------------------------


def test_without_tensorrt_the_reason_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import raises ImportError
    assert TensorRTBackend().check(_target()) == (
        "tensorrt is not installed: pip install tensorrt (NVIDIA's wheel; needs a CUDA machine)"
    )


def test_old_tensorrt_and_tensorrt_11_fp16_are_reasons(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt("8.6.1"))
    assert "needs TensorRT 10.x" in TensorRTBackend().check(_target())
    monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt("11.0.0"))
    assert "no BuilderFlag.FP16" in TensorRTBackend().check(_target(precision="fp16"))


def test_without_a_gpu_the_reason_is_cuda(trt) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert TensorRTBackend().check(_target()).startswith("CUDA is not available")


def test_cpu_is_not_a_device_of_the_backend() -> None:
    assert TensorRTBackend.devices == ("cuda",)
    assert TensorRTBackend.formats == ("onnx",)


# -- the runner: bindings, stream, artifact ------------------------------------------------


@pytest.fixture
def cpu_runner(trt, mlp_onnx, monkeypatch) -> tensorrt_backend.TensorRTRunner:
    """The runner with its CUDA pieces swapped for CPU stand-ins (tensors stay on the CPU)."""
    monkeypatch.setattr(torch.cuda, "Stream", FakeStream)
    monkeypatch.setattr(torch.cuda, "stream", lambda stream: _nothing())
    signature = build.describe_onnx(mlp_onnx)
    return tensorrt_backend.TensorRTRunner(trt, mlp_onnx, signature, TensorRTOptions(), "cpu")


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_runner_binds_each_placed_batch_once_and_runs_on_its_stream(cpu_runner) -> None:
    batch = np.arange(12, dtype=np.float32).reshape(3, 4)
    placed = cpu_runner.place(batch)
    output = cpu_runner.fetch(cpu_runner.run(placed))
    np.testing.assert_allclose(output[:, 0], batch.sum(axis=1))
    context = cpu_runner.context
    cpu_runner.run(placed)
    assert context.bindings == 2  # the timed loop's repeats rebind nothing
    other = np.ones((2, 4), dtype=np.float32)
    np.testing.assert_allclose(cpu_runner.fetch(cpu_runner.run(cpu_runner.place(other))), 4.0)
    assert context.bindings == 4
    assert cpu_runner.artifact_bytes().startswith(b"engine:")
    assert cpu_runner.lazy_prepare_seconds() == 0.0  # built in prepare: static sample dims


def test_runner_refuses_a_batch_beyond_the_profile(cpu_runner) -> None:
    with pytest.raises(BackendUnavailable, match="exceeds the engine's max_batch_size 256"):
        cpu_runner.place(np.zeros((257, 64), dtype=np.float32))


def test_runner_times_with_events_on_its_own_stream(cpu_runner, monkeypatch) -> None:
    recorded = []

    class Event:
        def __init__(self, enable_timing: bool = False) -> None:
            pass

        def record(self, stream: object = None) -> None:
            recorded.append(stream)

        def synchronize(self) -> None:
            pass

    monkeypatch.setattr(torch.cuda, "Event", Event)
    timer = cpu_runner.timer()
    timer.start()
    timer.stop()
    assert recorded == [cpu_runner.stream, cpu_runner.stream]


def test_a_dynamic_sequence_dimension_builds_on_the_first_batch(trt, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "Stream", FakeStream)
    monkeypatch.setattr(torch.cuda, "stream", lambda stream: _nothing())
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"])],
        "seq",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", "seq"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", "seq"])],
    )
    payload = helper.make_model(graph).SerializeToString()
    options = TensorRTOptions(max_batch_size=8)
    runner = tensorrt_backend.TensorRTRunner(
        trt, payload, build.describe_onnx(payload), options, "cpu"
    )
    assert runner.engine_bytes is None  # nothing to build the sequence length from yet
    runner.run(runner.place(np.ones((2, 5), dtype=np.float32)))
    assert trt.config.profiles == [{"input": ((1, 5), (8, 5), (8, 5))}]
    assert runner.lazy_prepare_seconds() > 0
